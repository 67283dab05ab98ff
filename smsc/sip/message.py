"""RFC 3261 §7 SIP messages: split-based parser and serializer, header values parsed on access."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from smsc.sip.constants import (
    COMPACT_FORMS,
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_MESSAGE_SIZE,
    LIST_HEADERS,
    REASON_PHRASES,
    SIP_VERSION,
)
from smsc.sip.errors import SipBuildError, SipParseError
from smsc.sip.headers import (
    ContentType,
    CSeq,
    NameAddr,
    Via,
    is_token,
    parse_content_type,
    parse_cseq,
    parse_name_addr,
    parse_uint,
    parse_via,
    split_list,
)

HeaderFields = tuple[tuple[str, str], ...]
Index = dict[str, list[str]]

_KNOWN = (
    *COMPACT_FORMS.values(),
    "Max-Forwards",
    "CSeq",
    "Route",
    "Record-Route",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "P-Access-Network-Info",
    "P-Charging-Vector",
    "P-Charging-Function-Addresses",
    "P-Visited-Network-ID",
    "P-Called-Party-ID",
    "In-Reply-To",
    "Expires",
    "Allow",
    "Require",
    "User-Agent",
    "Server",
    "Date",
    "Timestamp",
    "Path",
    "Service-Route",
    "Privacy",
    "Authorization",
)
_KEY_OF: dict[str, str] = {}
for _name in _KNOWN:
    for _spelling in (_name, _name.lower(), _name.upper(), _name.title()):
        _KEY_OF[_spelling] = _name.lower()
for _letter, _name in COMPACT_FORMS.items():
    _KEY_OF[_letter] = _KEY_OF[_letter.upper()] = _name.lower()
_COMPACT_KEYS = {letter: name.lower() for letter, name in COMPACT_FORMS.items()}
_FOLD = re.compile(r"[ \t]*\r\n[ \t]+")


def header_key(name: str) -> str | None:
    """RFC 3261 §7.3.1/§7.3.3: the lower-case full name a header name stands for, None if bad."""
    key = _KEY_OF.get(name)
    if key is not None:
        return key
    key = name.strip(" \t").lower()
    if not is_token(key):
        return None
    return _COMPACT_KEYS.get(key, key)


def _keys_of(names: Iterable[str]) -> list[str]:
    keys: list[str] = []
    for name in names:
        key = header_key(name)
        if key is None:
            raise SipBuildError(f"bad header name {name!r}")
        keys.append(key)
    return keys


class _HeaderAccess:
    """Case-insensitive, compact-form-aware header lookup and typed views (RFC 3261 §7.3)."""

    __slots__ = ()
    headers: HeaderFields
    body: bytes
    _keys: list[str] | None
    _first: dict[str, str] | None

    def _values(self, name: str) -> list[str]:
        key = header_key(name)
        return self.all_values(key) if key is not None else []

    def all_values(self, key: str) -> list[str]:
        """Every value of the header with lower-case full name ``key``, in order."""
        first = self._first
        keys = self._keys
        assert first is not None
        assert keys is not None
        value = first.get(key)
        if value is None:
            return []
        if len(first) == len(keys):
            return [value]
        count = keys.count(key)
        if count == 1:
            return [value]
        headers = self.headers
        values = [value]
        i = keys.index(key)
        for _ in range(count - 1):
            i = keys.index(key, i + 1)
            values.append(headers[i][1])
        return values

    def first_value(self, key: str) -> str | None:
        """The first value of the header with lower-case full name ``key``."""
        first = self._first
        assert first is not None
        return first.get(key)

    def header(self, name: str) -> str | None:
        """First value of a header as written (whole line for list headers), None if absent."""
        key = header_key(name)
        return self.first_value(key) if key is not None else None

    def header_values(self, name: str) -> list[str]:
        """Every value in order; list headers (§7.3.1) split on commas outside quotes and <>."""
        values = self._values(name)
        key = header_key(name)
        if key in LIST_HEADERS:
            return [part for value in values for part in split_list(value)]
        return values

    def _single(self, key: str, name: str) -> str:
        """RFC 3261 §7.3.1: a header that may appear once (identical repeats tolerated)."""
        first = self._first
        keys = self._keys
        assert first is not None
        assert keys is not None
        value = first.get(key)
        if value is None:
            raise SipParseError(f"Missing {name}")
        if (
            len(first) != len(keys)
            and keys.count(key) > 1
            and any(v != value for v in self.all_values(key))
        ):
            raise SipParseError(f"Conflicting {name}")
        return value

    def _optional(self, key: str, name: str) -> str | None:
        first = self._first
        assert first is not None
        return self._single(key, name) if key in first else None

    @property
    def call_id(self) -> str:
        """RFC 3261 §20.8."""
        value = self._single("call-id", "Call-ID")
        if not value or " " in value:
            raise SipParseError("Bad Call-ID")
        return value

    @property
    def cseq(self) -> CSeq:
        """RFC 3261 §20.16."""
        return parse_cseq(self._single("cseq", "CSeq"))

    @property
    def via(self) -> Via:
        """RFC 3261 §20.42: the top via-parm."""
        first = self._first
        assert first is not None
        top = first.get("via")
        if top is None:
            raise SipParseError("Missing Via")
        if "," in top or '"' in top:
            parts = split_list(top)
            if not parts:
                raise SipParseError("Bad Via")
            top = parts[0]
        return parse_via(top)

    @property
    def vias(self) -> list[Via]:
        """RFC 3261 §20.42: every via-parm, top first."""
        return [parse_via(v) for v in self.header_values("Via")]

    @property
    def from_(self) -> NameAddr:
        """RFC 3261 §20.20."""
        return parse_name_addr(self._single("from", "From"), "From")

    @property
    def to(self) -> NameAddr:
        """RFC 3261 §20.39."""
        return parse_name_addr(self._single("to", "To"), "To")

    @property
    def contact(self) -> list[NameAddr]:
        """RFC 3261 §20.10."""
        return [parse_name_addr(v, "Contact") for v in self.header_values("Contact")]

    @property
    def route(self) -> list[NameAddr]:
        """RFC 3261 §20.34."""
        return [parse_name_addr(v, "Route") for v in self.header_values("Route")]

    @property
    def p_asserted_identity(self) -> list[NameAddr]:
        """RFC 3325 §9.1: one or two identities (sip:/sips: and tel:)."""
        values = self.header_values("P-Asserted-Identity")
        return [parse_name_addr(v, "P-Asserted-Identity") for v in values]

    @property
    def in_reply_to(self) -> list[str]:
        """RFC 3261 §20.21: Call-IDs."""
        return self.header_values("In-Reply-To")

    @property
    def content_type(self) -> ContentType | None:
        """RFC 3261 §20.15."""
        value = self._optional("content-type", "Content-Type")
        return None if value is None else parse_content_type(value)

    @property
    def content_length(self) -> int | None:
        """RFC 3261 §20.14."""
        value = self._optional("content-length", "Content-Length")
        return None if value is None else parse_uint(value, "Content-Length")

    @property
    def max_forwards(self) -> int | None:
        """RFC 3261 §20.22."""
        value = self._optional("max-forwards", "Max-Forwards")
        return None if value is None else parse_uint(value, "Max-Forwards")

    @property
    def expires(self) -> int | None:
        """RFC 3261 §20.19 (delta-seconds)."""
        value = self._optional("expires", "Expires")
        return None if value is None else parse_uint(value, "Expires")


def _init_index(message: SipRequest | SipResponse) -> None:
    if message._first is None:
        keys = _keys_of(name for name, _ in message.headers)
        values = [value for _, value in message.headers]
        object.__setattr__(message, "_keys", keys)
        first = dict(zip(reversed(keys), reversed(values), strict=True))
        object.__setattr__(message, "_first", first)


@dataclass(frozen=True, slots=True)
class SipRequest(_HeaderAccess):
    """RFC 3261 §7.1."""

    method: str
    uri: str
    headers: HeaderFields = ()
    body: bytes = b""
    _keys: list[str] | None = field(default=None, compare=False, repr=False)
    _first: dict[str, str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _init_index(self)


@dataclass(frozen=True, slots=True)
class SipResponse(_HeaderAccess):
    """RFC 3261 §7.2."""

    status: int
    reason: str
    headers: HeaderFields = ()
    body: bytes = b""
    _keys: list[str] | None = field(default=None, compare=False, repr=False)
    _first: dict[str, str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _init_index(self)


SipMessage = SipRequest | SipResponse
Head = tuple[str, str, int, HeaderFields, list[str], dict[str, str]]
"""A parsed header section: method ('' for a response), URI or reason, status, fields, index."""


VERSION_NOT_SUPPORTED = "Version Not Supported"
_METHODS = frozenset(("MESSAGE", "REGISTER", "OPTIONS", "INVITE", "ACK", "CANCEL", "BYE"))


def _parse_start(line: str) -> tuple[str, str, int]:
    """RFC 3261 §7.1 Request-Line / §7.2 Status-Line as (method|'', uri|reason, status)."""
    if line[:4].upper() == "SIP/":
        version, _, rest = line.partition(" ")
        code, _, reason = rest.partition(" ")
        if version.upper() != SIP_VERSION:
            raise SipParseError("Bad Status-Line")
        if len(code) != 3 or not code.isdigit() or not code.isascii() or code[0] not in "123456":
            raise SipParseError("Bad Status-Line")
        return "", reason, int(code)
    parts = line.split(" ")
    if len(parts) != 3:
        raise SipParseError("Bad Request-Line")
    method, uri, version = parts
    if (method not in _METHODS and not is_token(method)) or ":" not in uri:
        raise SipParseError("Bad Request-Line")
    if version != SIP_VERSION and version.upper() != SIP_VERSION:
        if version[:4].upper() != "SIP/":
            raise SipParseError("Bad Request-Line")
        return method, uri, -1
    return method, uri, 0


def parse_head(head: bytes, max_headers: int) -> tuple[Head, str | None]:
    """RFC 3261 §7: start line and header fields, and the first header error (if any)."""
    text = head.decode("utf-8", "surrogateescape")
    lines = text.split("\r\n")
    method, second, status = _parse_start(lines[0])
    error: str | None = None if status >= 0 else VERSION_NOT_SUPPORTED
    count = len(lines) - 1
    if text.count("\n") != count or text.count("\r") != count:
        error = "Bad Line Ending"
    if not count:
        return (method, second, status, (), [], {}), error
    del lines[0]
    names: tuple[str, ...]
    seps: tuple[str, ...]
    raw_values: tuple[str, ...]
    names, seps, raw_values = zip(*[line.partition(":") for line in lines], strict=True)
    keys = list(map(_KEY_OF.get, names))
    values = list(map(str.strip, raw_values))
    if None in keys or "" in seps:
        if any(line[:1] in (" ", "\t") for line in lines):
            return _parse_folded(text, max_headers)
        names, keys, values, bad = _slow_names(names, keys, values, seps)
        error = error or bad
    if count > max_headers and error is None:
        error = "Too Many Headers"
    checked: list[str] = keys  # type: ignore[assignment]
    first = dict(zip(reversed(checked), reversed(values), strict=True))
    return (method, second, status, tuple(zip(names, values, strict=True)), checked, first), error


def _parse_folded(text: str, max_headers: int) -> tuple[Head, str | None]:
    """RFC 3261 §7.3.1: continuation lines (leading SP/HT) joined to the previous line."""
    first, _, rest = text.partition("\r\n")
    unfolded = first + "\r\n" + _FOLD.sub(" ", rest).lstrip(" \t")
    return parse_head(unfolded.encode("utf-8", "surrogateescape"), max_headers)


def _slow_names(
    names: tuple[str, ...], keys: list[str | None], values: list[str], seps: tuple[str, ...]
) -> tuple[tuple[str, ...], list[str | None], list[str], str | None]:
    """Header names outside the precomputed spellings; bad lines dropped and reported."""
    good_names: list[str] = []
    good_keys: list[str | None] = []
    good_values: list[str] = []
    error: str | None = None
    for name, known, value, sep in zip(names, keys, values, seps, strict=True):
        key = known if known is not None else header_key(name)
        if key is None or not sep:
            error = "Bad Header Line"
            continue
        good_names.append(name if known is not None else name.strip(" \t"))
        good_keys.append(key)
        good_values.append(value)
    return tuple(good_names), good_keys, good_values, error


def head_error(reason: str, head: Head, body: bytes = b"") -> SipParseError:
    """The SipParseError for a header-section error found by parse_head."""
    status = 505 if reason == VERSION_NOT_SUPPORTED else 400
    return SipParseError(reason, status, partial=build_message(head, body))


def build_message(head: Head, body: bytes) -> SipMessage:
    """The message of a parsed head and its body."""
    method, second, status, headers, keys, first = head
    if method:
        return SipRequest(method, second, headers, body, keys, first)
    return SipResponse(status, second, headers, body, keys, first)


def declared_length(head: Head) -> int | None:
    """RFC 3261 §20.14 Content-Length of a parsed head; SipParseError if unreadable."""
    _, _, _, headers, keys, first = head
    value = first.get("content-length")
    if value is None:
        return None
    if len(first) != len(keys) and keys.count("content-length") > 1:
        values = {v for k, (_, v) in zip(keys, headers, strict=True) if k == "content-length"}
        if len(values) > 1:
            raise SipParseError("Conflicting Content-Length", partial=build_message(head, b""))
    if not (value.isdigit() and value.isascii()) or len(value) > 10:
        raise SipParseError("Bad Content-Length", partial=build_message(head, b""))
    return int(value)


def parse_message(
    data: bytes,
    *,
    max_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    max_headers: int = DEFAULT_MAX_HEADERS,
) -> SipMessage:
    """RFC 3261 §7, §18.3: one datagram; no Content-Length means the rest of the datagram."""
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        if len(data) > max_size:
            raise SipParseError("Message Too Large", 513)
        head, _ = parse_head(data[start:].rstrip(b"\r\n"), max_headers)
        raise SipParseError("Missing Empty Line", partial=build_message(head, b""))
    head, error = parse_head(data[start:end], max_headers)
    if len(data) > max_size:
        raise SipParseError("Message Too Large", 513, partial=build_message(head, b""))
    if error is not None:
        raise head_error(error, head)
    length = declared_length(head)
    body_start = end + 4
    if length is None:
        return build_message(head, data[body_start:])
    if body_start + length > len(data):
        raise SipParseError("Truncated Body", partial=build_message(head, b""))
    return build_message(head, data[body_start : body_start + length])


def encode_message(message: SipMessage) -> bytes:
    """RFC 3261 §7: the octets; Content-Length is added when absent and checked when present."""
    if isinstance(message, SipRequest):
        if not is_token(message.method) or " " in message.uri or not message.uri:
            raise SipBuildError("bad Request-Line")
        lines = [f"{message.method} {message.uri} {SIP_VERSION}"]
    else:
        if not 100 <= message.status <= 699:
            raise SipBuildError(f"bad status {message.status}")
        lines = [f"{SIP_VERSION} {message.status} {message.reason}"]
    lines += [f"{name}: {value}" for name, value in message.headers]
    declared = message.all_values("content-length")
    if not declared:
        lines.append(f"Content-Length: {len(message.body)}")
    elif any(v != str(len(message.body)) for v in declared):
        raise SipBuildError("Content-Length does not match the body")
    text = "\r\n".join(lines)
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        raise SipBuildError("CR or LF inside a header")
    return text.encode("utf-8", "surrogateescape") + b"\r\n\r\n" + message.body


def reason_phrase(status: int) -> str:
    """RFC 3261 §21 default reason phrase."""
    return REASON_PHRASES.get(status) or REASON_PHRASES.get(status // 100 * 100, "Unknown")
