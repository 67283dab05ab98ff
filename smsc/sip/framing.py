"""RFC 3261 §18.3 stream framing: SIP messages out of a TCP byte stream, keep-alives skipped."""

from __future__ import annotations

from smsc.sip.constants import DEFAULT_MAX_HEADERS, DEFAULT_MAX_MESSAGE_SIZE
from smsc.sip.errors import SipParseError
from smsc.sip.message import (
    Head,
    SipMessage,
    build_message,
    declared_length,
    head_error,
    parse_head,
)


class StreamFramer:
    """RFC 3261 §18.3 / RFC 5626 §3.5.1: Content-Length framing, CRLF keep-alives ignored."""

    __slots__ = ("_buffer", "_crlfs", "_pending", "broken", "max_headers", "max_size", "pings")

    def __init__(
        self, max_size: int = DEFAULT_MAX_MESSAGE_SIZE, max_headers: int = DEFAULT_MAX_HEADERS
    ) -> None:
        self.max_size = max_size
        self.max_headers = max_headers
        self._buffer = bytearray()
        self._pending: tuple[Head, int, str | None] | None = None
        self._crlfs = 0
        self.pings = 0
        """RFC 5626 §4.4.1 double-CRLF pings seen (the owner answers each with one CRLF)."""
        self.broken = False
        """Framing is lost after a fatal error; the connection must be closed."""

    def receive_data(self, data: bytes) -> None:
        """Append bytes read from the stream."""
        if not self.broken:
            self._buffer += data

    def _fail(self, reason: str, status: int, partial: SipMessage | None = None) -> SipParseError:
        self.broken = True
        self._buffer.clear()
        self._pending = None
        return SipParseError(reason, status, partial=partial, fatal=True)

    def next_message(self) -> SipMessage | None:
        """The next complete message, None if more bytes are needed; SipParseError if malformed."""
        if self.broken:
            return None
        buf = self._buffer
        if self._pending is None:
            skip = 0
            while buf.startswith(b"\r\n", skip):
                skip += 2
            if skip:
                del buf[:skip]
                self._crlfs += skip // 2
                self.pings += self._crlfs // 2
                self._crlfs %= 2
            if not buf or buf == b"\r":
                return None
            self._crlfs = 0
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self.max_size:
                    raise self._fail("Message Too Large", 513)
                return None
            try:
                head, error = parse_head(bytes(buf[:end]), self.max_headers)
                length = declared_length(head)
            except SipParseError as exc:
                raise self._fail(exc.reason, exc.sip_status, exc.partial) from None
            if end + 4 > self.max_size or (length is not None and end + 4 + length > self.max_size):
                raise self._fail("Message Too Large", 513, build_message(head, b""))
            if length is None:
                raise self._fail("Missing Content-Length", 400, build_message(head, b""))
            del buf[: end + 4]
            self._pending = (head, length, error)
        head, length, error = self._pending
        if len(buf) < length:
            return None
        self._pending = None
        message = build_message(head, bytes(buf[:length]))
        del buf[:length]
        if error is not None:
            raise head_error(error, head, message.body)
        return message
