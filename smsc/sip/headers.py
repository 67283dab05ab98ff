"""Typed views of SIP header values (RFC 3261 §20, §25.1), parsed on access from the raw text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from smsc.sip.constants import DEFAULT_PORT, DEFAULT_TLS_PORT
from smsc.sip.errors import SipParseError

TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
"""RFC 3261 §25.1 token."""

Params = dict[str, str | None]


def is_token(text: str) -> bool:
    """RFC 3261 §25.1: 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")."""
    return bool(text) and ((text.isalnum() and text.isascii()) or TOKEN_CHARS.issuperset(text))


def split_list(value: str) -> list[str]:
    """RFC 3261 §7.3.1: comma-separated values, not split inside quoted strings or <...>."""
    if '"' not in value and "<" not in value:
        return [part.strip() for part in value.split(",") if part and not part.isspace()]
    parts: list[str] = []
    start = 0
    quoted = angled = escaped = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            angled = True
        elif ch == ">":
            angled = False
        elif ch == "," and not angled:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return [part.strip() for part in parts if part and not part.isspace()]


def _split_semicolons(text: str) -> list[str]:
    """Split on ';' outside quoted strings."""
    if '"' not in text:
        return text.split(";")
    parts: list[str] = []
    start = 0
    quoted = escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_params(text: str, what: str) -> Params:
    """RFC 3261 §25.1 generic-param list after the first ';' (names lower-cased, values raw)."""
    params: Params = {}
    for part in text.split(";") if '"' not in text else _split_semicolons(text):
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        if not (name.isalnum() and name.isascii()) and not is_token(name):
            if not name and not eq:
                continue
            raise SipParseError(f"Bad {what} parameter")
        params[name] = value.strip() if eq else None
    return params


def unquote(text: str) -> str:
    """RFC 3261 §25.1 quoted-string to its content (quoted-pairs resolved)."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    inner = text[1:-1]
    if "\\" not in inner:
        return inner
    out: list[str] = []
    escaped = False
    for ch in inner:
        if escaped or ch != "\\":
            out.append(ch)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def quote(text: str) -> str:
    """RFC 3261 §25.1 quoted-string of any text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_port(text: str, what: str) -> int:
    if not (text.isdigit() and text.isascii() and len(text) <= 5) or int(text) > 65535:
        raise SipParseError(f"Bad {what} port")
    return int(text)


def parse_hostport(text: str, what: str) -> tuple[str, int | None]:
    """RFC 3261 §25.1 hostport: host (IPv6 reference in brackets) and optional port."""
    if text.startswith("["):
        end = text.find("]")
        if end < 3:
            raise SipParseError(f"Bad {what} host")
        host, rest = text[: end + 1], text[end + 1 :]
        if not rest:
            return host, None
        if rest[0] != ":":
            raise SipParseError(f"Bad {what} host")
        return host, _parse_port(rest[1:], what)
    host, colon, port = text.partition(":")
    if not host or (not TOKEN_CHARS.issuperset(host)):
        raise SipParseError(f"Bad {what} host")
    return host, _parse_port(port, what) if colon else None


@dataclass(frozen=True, slots=True)
class SipUri:
    """RFC 3261 §19.1 SIP/SIPS URI, RFC 3966 tel URI, or any other absoluteURI kept opaque."""

    scheme: str
    user: str | None
    host: str
    port: int | None
    params: Params
    headers: str
    raw: str

    def __str__(self) -> str:
        return self.raw

    @property
    def transport(self) -> str | None:
        """RFC 3261 §19.1.1 transport parameter, lower-cased."""
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def is_phone(self) -> bool:
        """tel: URI, or RFC 3261 §19.1.1 user=phone."""
        return self.scheme == "tel" or (self.params.get("user") or "").lower() == "phone"


def parse_uri(text: str) -> SipUri:
    """RFC 3261 §19.1 / RFC 3966: the parts the SMSC needs, original text kept in ``raw``."""
    raw = text.strip()
    scheme, colon, rest = raw.partition(":")
    scheme = scheme.lower()
    if not colon or not scheme.isascii() or not is_token(scheme):
        raise SipParseError("Bad URI")
    if scheme == "tel":
        number, _, params = rest.partition(";")
        if not number:
            raise SipParseError("Bad tel URI")
        return SipUri(scheme, number, "", None, parse_params(params, "URI"), "", raw)
    if scheme not in ("sip", "sips"):
        if not rest:
            raise SipParseError("Bad URI")
        return SipUri(scheme, None, "", None, {}, "", raw)
    at = rest.find("@")
    user: str | None = None
    if at >= 0:
        user = rest[:at].partition(":")[0]
        if not user:
            raise SipParseError("Bad URI user")
        rest = rest[at + 1 :]
    rest, _, headers = rest.partition("?")
    hostport, semi, params = rest.partition(";")
    host, port = parse_hostport(hostport, "URI")
    return SipUri(
        scheme, user, host.lower(), port, parse_params(params, "URI") if semi else {}, headers, raw
    )


@dataclass(frozen=True, slots=True)
class NameAddr:
    """RFC 3261 §20.10/§20.20/§20.39 name-addr or addr-spec with header parameters."""

    display_name: str | None
    uri: SipUri
    params: Params
    raw: str

    def __str__(self) -> str:
        return self.raw

    @property
    def tag(self) -> str | None:
        """RFC 3261 §19.3 tag parameter (From/To)."""
        return self.params.get("tag")


def parse_name_addr(text: str, what: str) -> NameAddr:
    """RFC 3261 §25.1: ( name-addr / addr-spec ) *( SEMI generic-param )."""
    raw = text.strip()
    if raw == "*":
        return NameAddr(None, SipUri("*", None, "", None, {}, "", "*"), {}, raw)
    display: str | None = None
    rest = raw
    if raw.startswith('"'):
        i, n = 1, len(raw)
        while i < n and raw[i] != '"':
            i += 2 if raw[i] == "\\" else 1
        if i >= n:
            raise SipParseError(f"Bad {what} display name")
        display = unquote(raw[: i + 1])
        rest = raw[i + 1 :].lstrip()
        if not rest.startswith("<"):
            raise SipParseError(f"Bad {what} header")
    lt = rest.find("<")
    if lt >= 0:
        gt = rest.find(">", lt)
        if gt < 0:
            raise SipParseError(f"Bad {what} header")
        if display is None:
            display = rest[:lt].strip() or None
        uri_text, tail = rest[lt + 1 : gt], rest[gt + 1 :].strip()
        if tail and tail[0] != ";":
            raise SipParseError(f"Bad {what} header")
        params = tail[1:]
    else:
        uri_text, _, params = rest.partition(";")
        if "," in uri_text or "?" in uri_text or " " in uri_text.strip():
            raise SipParseError(f"Bad {what} header")
    try:
        uri = parse_uri(uri_text)
    except SipParseError:
        raise SipParseError(f"Bad {what} URI") from None
    return NameAddr(display, uri, parse_params(params, what) if params else {}, raw)


def format_name_addr(uri: str, *, display_name: str | None = None, tag: str | None = None) -> str:
    """RFC 3261 §20.20 name-addr text, e.g. for From/To of a new request."""
    text = f"{quote(display_name)} <{uri}>" if display_name is not None else f"<{uri}>"
    return f"{text};tag={tag}" if tag else text


class Via(NamedTuple):
    """RFC 3261 §20.42 one via-parm (a NamedTuple: built on every request, 3x cheaper)."""

    protocol: str
    transport: str
    host: str
    port: int | None
    params: Params
    raw: str

    def __str__(self) -> str:
        return self.raw

    @property
    def branch(self) -> str | None:
        """RFC 3261 §20.42 branch."""
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        """RFC 3261 §18.2.1 received."""
        return self.params.get("received")

    @property
    def has_rport(self) -> bool:
        """RFC 3581 §3: rport present (the client asks for symmetric response routing)."""
        return "rport" in self.params

    @property
    def rport(self) -> int | None:
        """RFC 3581 §4: the rport value filled by the server, if any."""
        value = self.params.get("rport")
        return int(value) if value and value.isdigit() and value.isascii() else None

    @property
    def maddr(self) -> str | None:
        """RFC 3261 §18.2.2 maddr."""
        return self.params.get("maddr")

    @property
    def sent_by(self) -> tuple[str, int]:
        """RFC 3261 §18.2.2: sent-by host (lower-case) and port, defaulted per transport."""
        if self.port is not None:
            return self.host, self.port
        return self.host, DEFAULT_TLS_PORT if self.transport == "TLS" else DEFAULT_PORT


def parse_via(text: str) -> Via:
    """RFC 3261 §20.42: sent-protocol LWS sent-by *( SEMI via-params )."""
    raw = text.strip()
    head, semi, params = raw.partition(";")
    protocol, _, sent_by = head.partition(" ")
    if protocol[:8].upper() == "SIP/2.0/" and "/" not in sent_by:
        transport = protocol[8:].upper()
        protocol = protocol[:7]
    else:
        pieces = head.split("/", 2)
        if len(pieces) != 3:
            raise SipParseError("Bad Via")
        name, version, rest = pieces
        transport, _, sent_by = rest.strip().partition(" ")
        transport = transport.upper()
        protocol = f"{name.strip()}/{version.strip()}"
        if protocol.upper() != "SIP/2.0":
            raise SipParseError("Bad Via")
    sent_by = sent_by.strip()
    if " " in sent_by or "\t" in sent_by:
        sent_by = "".join(sent_by.split())
    if not sent_by or not is_token(transport):
        raise SipParseError("Bad Via")
    try:
        host, port = parse_hostport(sent_by, "Via")
        parsed = parse_params(params, "Via") if semi else {}
    except SipParseError:
        raise SipParseError("Bad Via") from None
    return Via(protocol, transport, host.lower(), port, parsed, raw)


class CSeq(NamedTuple):
    """RFC 3261 §20.16 (a NamedTuple: built on every message, 3x cheaper)."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(text: str) -> CSeq:
    """RFC 3261 §20.16: 1*DIGIT LWS Method, the number below 2**31."""
    number, _, method = text.strip().partition(" ")
    method = method.strip()
    if not (number.isdigit() and number.isascii()) or len(number) > 10 or not is_token(method):
        raise SipParseError("Bad CSeq")
    value = int(number)
    if value >= 2**31:
        raise SipParseError("Bad CSeq")
    return CSeq(value, method)


@dataclass(frozen=True, slots=True)
class ContentType:
    """RFC 3261 §20.15 media-type; type and subtype lower-cased for comparison."""

    type: str
    subtype: str
    params: Params

    @property
    def media_type(self) -> str:
        return f"{self.type}/{self.subtype}"

    def matches(self, media_type: str) -> bool:
        """Case-insensitive type/subtype comparison, parameters ignored."""
        return self.media_type == media_type.lower()


def parse_content_type(text: str) -> ContentType:
    """RFC 3261 §20.15: m-type SLASH m-subtype *( SEMI m-parameter )."""
    media, semi, params = text.partition(";")
    type_, slash, subtype = media.partition("/")
    type_, subtype = type_.strip().lower(), subtype.strip().lower()
    if not slash or not is_token(type_) or not is_token(subtype):
        raise SipParseError("Bad Content-Type")
    return ContentType(type_, subtype, parse_params(params, "Content-Type") if semi else {})


def parse_uint(text: str, what: str) -> int:
    """RFC 3261 §25.1 1*DIGIT (Content-Length, Max-Forwards, Expires), at most 10 digits."""
    text = text.strip()
    if not (text.isdigit() and text.isascii()) or len(text) > 10:
        raise SipParseError(f"Bad {what}")
    return int(text)
