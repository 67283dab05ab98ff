"""The RP PDU inside a MESSAGE body: plain, or a part of multipart/mixed (RFC 2046 §5.1)."""

from __future__ import annotations

from smsc.sip.errors import SipParseError
from smsc.sip.headers import ContentType, parse_content_type

SMS_MEDIA_TYPE = "application/vnd.3gpp.sms"


def sms_body(content_type: ContentType | None, body: bytes) -> bytes | None:
    """The application/vnd.3gpp.sms octets, or None when the body holds none."""
    if content_type is None:
        return None
    if content_type.matches(SMS_MEDIA_TYPE):
        return body
    if content_type.matches("multipart/mixed"):
        boundary = content_type.params.get("boundary")
        if boundary:
            return _sms_part(boundary.strip('"').encode(), body)
    return None


def _sms_part(boundary: bytes, body: bytes) -> bytes | None:
    """RFC 2046 §5.1.1: parts sit between CRLF--boundary delimiters."""
    delimiter = b"\r\n--" + boundary
    data = b"\r\n" + body
    for chunk in data.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # close-delimiter
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        content_type = None
        for line in head.split(b"\r\n"):
            name, colon, value = line.partition(b":")
            if colon and name.strip().lower() in (b"content-type", b"c"):
                try:
                    content_type = parse_content_type(value.decode("utf-8", "replace").strip())
                except SipParseError:
                    content_type = None
        if content_type is not None and content_type.matches(SMS_MEDIA_TYPE):
            return content
    return None
