"""RFC 6733 §3 message header and the cutting of a TCP byte stream into whole messages."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from charging.avp import DIAMETER_VERSION, HEADER_LENGTH, CommandFlag
from charging.diameter.errors import DiameterFramingError

# plain ints: an IntFlag operand sends `&` through enum's Python-level __rand__
_REQUEST = int(CommandFlag.REQUEST)
_PROXIABLE = int(CommandFlag.PROXIABLE)
_ERROR = int(CommandFlag.ERROR)
_RETRANSMITTED = int(CommandFlag.RETRANSMITTED)

MAX_MESSAGE_LENGTH = 1 << 20
"""The longest message we accept (1 MiB); RFC 6733 allows 2**24 - 1, no Ro message nears it."""

_FIELDS = struct.Struct(">IIIII").unpack_from
_WORD = struct.Struct(">I").unpack_from


@dataclass(frozen=True, slots=True)
class DiameterHeader:
    """RFC 6733 §3: the 20-octet header of every Diameter message."""

    version: int
    length: int
    flags: int
    command_code: int
    application_id: int
    hop_by_hop: int
    end_to_end: int

    @property
    def is_request(self) -> bool:
        """R bit."""
        return bool(self.flags & _REQUEST)

    @property
    def is_proxiable(self) -> bool:
        """P bit."""
        return bool(self.flags & _PROXIABLE)

    @property
    def is_error(self) -> bool:
        """E bit (answers only)."""
        return bool(self.flags & _ERROR)

    @property
    def is_retransmitted(self) -> bool:
        """T bit (requests only)."""
        return bool(self.flags & _RETRANSMITTED)


def _check_length(version: int, length: int, max_length: int) -> None:
    if version != DIAMETER_VERSION:
        raise DiameterFramingError(f"Diameter version {version}, expected 1")
    if length < HEADER_LENGTH:
        raise DiameterFramingError(f"message length {length} < {HEADER_LENGTH}")
    if length & 3:
        raise DiameterFramingError(f"message length {length} is not a multiple of 4")
    if length > max_length:
        raise DiameterFramingError(f"message length {length} > {max_length}")


def parse_header(
    data: bytes | memoryview, offset: int = 0, *, max_length: int = MAX_MESSAGE_LENGTH
) -> DiameterHeader:
    """RFC 6733 §3: read and check the header at ``offset`` (the body need not be there)."""
    if offset < 0 or len(data) - offset < HEADER_LENGTH:
        raise DiameterFramingError(f"{len(data) - offset} octets cannot hold a Diameter header")
    version_length, flags_command, application, hop_by_hop, end_to_end = _FIELDS(data, offset)
    version, length = version_length >> 24, version_length & 0xFFFFFF
    _check_length(version, length, max_length)
    return DiameterHeader(
        version,
        length,
        flags_command >> 24,
        flags_command & 0xFFFFFF,
        application,
        hop_by_hop,
        end_to_end,
    )


class MessageFramer:
    """RFC 6733 §3 over a stream: feed any pieces of bytes, take whole messages out.

    A framing error is final: the stream cannot be resynchronised, so every later call raises
    the same error again (the connection must be closed).
    """

    __slots__ = ("_buffer", "_error", "_max_length", "_start")

    def __init__(self, max_length: int = MAX_MESSAGE_LENGTH) -> None:
        self._buffer = bytearray()
        self._start = 0
        self._max_length = max_length
        self._error: DiameterFramingError | None = None

    @property
    def buffered(self) -> int:
        """Octets received and not yet returned as a message."""
        return len(self._buffer) - self._start

    def receive_data(self, data: bytes) -> None:
        """Append bytes from the stream."""
        if self._error is not None:
            raise self._error
        self._buffer += data

    def next_message(self) -> bytes | None:
        """One complete message (its exact octets), or None until more bytes arrive."""
        if self._error is not None:
            raise self._error
        buffer, start = self._buffer, self._start
        if len(buffer) - start < 4:
            return None
        (version_length,) = _WORD(buffer, start)
        length = version_length & 0xFFFFFF
        try:
            _check_length(version_length >> 24, length, self._max_length)
        except DiameterFramingError as exc:
            self._error = exc
            raise
        end = start + length
        if len(buffer) < end:
            return None
        message = bytes(buffer[start:end])
        if end == len(buffer):
            buffer.clear()
            self._start = 0
        elif end > 65536 and end * 2 > len(buffer):
            del buffer[:end]
            self._start = 0
        else:
            self._start = end
        return message
