"""SMPP 3.4 §3.2: cutting a TCP byte stream into whole PDUs by their command_length."""

from __future__ import annotations

import struct

from smsc.smpp.constants import HEADER_LENGTH, CommandStatus
from smsc.smpp.errors import PduError

MAX_PDU_LENGTH = 73_728
"""The longest PDU we accept (72 KiB). SMPP 3.4 sets no limit; the largest useful PDU is a
message_payload TLV at its full 65,535 octets (§5.3.2.32, a 2-octet length) plus the largest
mandatory part (a submit_multi to 254 destinations: about 6.3 kB) and a few TLVs. Anything
longer is treated as a broken stream."""

_WORD = struct.Struct(">I").unpack_from
_HEADER = struct.Struct(">IIII").unpack_from


class PduFramer:
    """SMPP 3.4 §3.2 over a stream: feed any pieces of bytes, take whole PDUs out.

    A command_length below 16 or above ``max_length`` is final (the stream cannot be
    resynchronised): ``feed`` returns the PDUs before it and sets ``error``, and raises that
    ``PduError`` (ESME_RINVCMDLEN) when it has nothing else to return and on every later
    call. The session answers generic_nack and closes the connection.
    """

    __slots__ = ("_buffer", "error", "max_length")

    def __init__(self, max_length: int = MAX_PDU_LENGTH) -> None:
        if max_length < HEADER_LENGTH:
            raise ValueError(f"max_length {max_length} < {HEADER_LENGTH}")
        self.max_length = max_length
        self._buffer = bytearray()
        self.error: PduError | None = None
        """The framing error that broke the stream, once it did."""

    @property
    def buffered(self) -> int:
        """Octets received and not yet returned as a PDU."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Append bytes from the stream; return the PDUs (exact octets) now complete."""
        if self.error is not None:
            raise self.error
        kept = self._buffer
        if kept:
            kept += data
            source: bytes | bytearray = kept
        else:
            source = data
        size = len(source)
        start = 0
        pdus: list[bytes] = []
        while size - start >= 4:
            (length,) = _WORD(source, start)
            if length < HEADER_LENGTH or length > self.max_length:
                self.error = _length_error(source, start, length, self.max_length)
                kept.clear()
                if pdus:
                    return pdus
                raise self.error
            end = start + length
            if end > size:
                break
            pdus.append(bytes(source[start:end]))
            start = end
        if kept:
            del kept[:start]
        elif start < size:
            kept += source[start:]
        return pdus


def _length_error(buffer: bytes | bytearray, start: int, length: int, max_length: int) -> PduError:
    command_id = sequence = None
    if len(buffer) - start >= HEADER_LENGTH:
        _, command_id, _, sequence = _HEADER(buffer, start)
    elif len(buffer) - start >= 8:
        (command_id,) = _WORD(buffer, start + 4)
    bound = f"< {HEADER_LENGTH}" if length < HEADER_LENGTH else f"> {max_length}"
    return PduError(
        f"command_length {length} {bound}: the stream cannot be resynchronised",
        CommandStatus.ESME_RINVCMDLEN,
        command_id=command_id,
        sequence_number=sequence,
    )
