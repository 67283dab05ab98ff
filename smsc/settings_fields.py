"""Typed configuration values: each a type with its own check, so every key is validated by the
model (pydantic) and reported by its key, never by a hand-written pass over the settings."""

from __future__ import annotations

import ipaddress
import json
from typing import Annotated, Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_settings import NoDecode
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from smsc.sip.errors import SipParseError
from smsc.sip.headers import parse_uri

Port = Annotated[int, Field(ge=1, le=65535)]
"""A TCP or UDP port."""

Unsigned32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
"""RFC 6733 §4.2 Unsigned32."""

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


def _string_list(value: Any) -> Any:
    """A list of strings from YAML (a list), or from the environment: JSON, or a, b, c."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list: {exc}") from None
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def split_host_port(text: str) -> tuple[str, int]:
    """'HOST:PORT', '[v6]:PORT' -> (host, port); ValueError naming what is wrong."""
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port:
        raise ValueError(f"{text!r} is not HOST:PORT")
    if not port.isdigit():
        raise ValueError(f"{text!r}: port {port!r} is not a number")
    number = int(port)
    if not 1 <= number <= 65535:
        raise ValueError(f"{text!r}: port {number} is out of range 1-65535")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"{text!r}: {host!r} is not a host")
    return host, number


def is_loopback(host_port: str) -> bool:
    """Whether HOST:PORT listens on loopback only ('localhost', 127.0.0.0/8, ::1)."""
    host, _ = split_host_port(host_port)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_port(text: str) -> str:
    split_host_port(text)
    return text


def _sip_listen(text: str) -> str:
    scheme, colon, rest = text.partition(":")
    if not colon or scheme.lower() not in ("udp", "tcp"):
        raise ValueError(f"{text!r} is not udp:HOST:PORT or tcp:HOST:PORT")
    split_host_port(rest)
    return text


def _network(text: str) -> str:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not a network (address or address/prefix)") from None
    return text


def _sip_uri(text: str) -> str:
    try:
        uri = parse_uri(text)
    except SipParseError as exc:
        raise ValueError(f"{text!r} is not a SIP URI: {exc}") from None
    if uri.scheme not in ("sip", "sips") or not uri.host:
        raise ValueError(f"{text!r} is not a sip: or sips: URI with a host")
    return text


def _split_url(text: str) -> SplitResult:
    """The parts of a URL whose port, if any, is 1-65535; ValueError otherwise."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a URL: {exc}") from None
    if port == 0:
        raise ValueError(f"{text!r}: port 0 is out of range 1-65535")
    return parts


def _http_url(text: str) -> str:
    parts = _split_url(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not an http:// or https:// URL with a host")
    return text


_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def _database_url(text: str) -> str:
    """SQLite or PostgreSQL; postgres:// and postgresql:// mean PostgreSQL through asyncpg."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise ValueError(
            "not a database URL (sqlite+aiosqlite:///PATH or postgresql://USER@HOST/DB)"
        ) from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(f"{url.drivername!r}: only SQLite and PostgreSQL are supported")
    if driver.startswith("postgresql") and not url.database:
        raise ValueError("a PostgreSQL URL needs a database name (postgresql://HOST/DB)")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise ValueError(f"port {url.port} is out of range 1-65535")
    return url.set(drivername=driver).render_as_string(hide_password=False)


def _redis_url(text: str) -> str:
    parts = _split_url(text)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError("expected redis://HOST:PORT/DB, rediss://... or unix://PATH")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError("a Redis URL needs a host (redis://HOST:PORT/DB)")
    return text


def masked_url(url: str) -> str:
    """A database or Redis URL for people to read: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        pass
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    return urlunsplit(parts._replace(netloc=netloc + (f":{parts.port}" if parts.port else "")))


def _digits(text: str) -> str:
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a string of digits")
    return text


def _msisdn(text: str) -> str:
    digits = text.removeprefix("+")
    if not digits.isdigit() or not 1 <= len(digits) <= 20:
        raise ValueError(f"{text!r} is not an international number (+ and up to 20 digits)")
    return text


def _plmn(text: str) -> str:
    if not text.isdigit() or len(text) not in (5, 6):
        raise ValueError(f"{text!r} is not MCC+MNC (5 or 6 digits)")
    return text


def _mcc(text: str) -> str:
    if not text.isdigit() or len(text) != 3:
        raise ValueError(f"{text!r} is not an MCC (3 digits)")
    return text


def _header_line(text: str) -> str:
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or not value.strip() or " " in name.strip():
        raise ValueError("expected one 'Name: value' header line")
    if "\r" in text or "\n" in text:
        raise ValueError("expected one header line, without line breaks")
    return text


def _no_space(text: str) -> str:
    if not text or any(c.isspace() for c in text):
        raise ValueError("expected a non-empty value without spaces")
    return text


def _diameter_identity(text: str) -> str:
    if not text or not text.isascii() or any(c.isspace() for c in text):
        raise ValueError(f"{text!r} is not a Diameter identity (an ASCII FQDN, RFC 6733 §4.3.1)")
    return text


def _country_code(text: str) -> str:
    if not text.isdigit() or not 1 <= len(text) <= 3 or text.startswith("0"):
        raise ValueError(f"{text!r} is not an E.164 country code (1 to 3 digits, no leading 0)")
    return text


def _digits_or_empty(text: str) -> str:
    if text and not text.isdigit():
        raise ValueError(f"{text!r} is not a string of digits (or empty)")
    return text


def _route_number(text: str) -> str:
    """A short code ("4444"), an E.164 number ("+4915112345") or a prefix of them ("+49151*")."""
    body = text.removesuffix("*")
    digits = body.removeprefix("+")
    if not digits.isdigit() or len(digits) > 15:
        raise ValueError(
            f"{text!r} is not a short code, +E.164 number or prefix (e.g. 4444, +4915112345, "
            "+49151*)"
        )
    return text


def _smpp_system_id(text: str) -> str:
    """SMPP 3.4 §5.2.1: system_id is a C-Octet String of at most 16 octets with its NUL."""
    printable = text.isascii() and text.isprintable() and " " not in text and ":" not in text
    if not 1 <= len(text) <= 15 or not printable:
        raise ValueError(
            f"{text!r} is not an SMPP system_id (1 to 15 printable ASCII, no spaces or colons)"
        )
    return text


def _smpp_password(text: str) -> str:
    """SMPP 3.4 §5.2.2: password is a C-Octet String of at most 9 octets with its NUL."""
    if not 1 <= len(text) <= 8 or not text.isascii() or not text.isprintable():
        raise ValueError("an SMPP password is 1 to 8 printable ASCII characters")
    return text


def _smpp_source(text: str) -> str:
    """A sender an ESME owns: "*" (any), a +E.164 number, a prefix ("+49151*"), a short code
    ("4444") or an alphanumeric name ("MyBank", at most 11 characters)."""
    if text == "*":
        return text
    body = text.removesuffix("*").removeprefix("+")
    if body.isdigit() and len(body) <= 15:
        return text
    if text.endswith("*") or not 1 <= len(text) <= 11 or not text.isprintable():
        raise ValueError(
            f"{text!r} is not a sender: *, +E.164, +E.164 prefix*, a short code or a name of at "
            "most 11 characters"
        )
    return text


def _url_prefix(text: str) -> str:
    _http_url(text)
    return text


def _text(form: str) -> WithJsonSchema:
    """The form of a checked string, as the configuration reference shows it."""
    return WithJsonSchema({"type": "string", "format": form})


DiameterIdentity = Annotated[str, AfterValidator(_diameter_identity), _text("Diameter identity")]
HostPort = Annotated[str, AfterValidator(_host_port), _text("HOST:PORT")]
SipListen = Annotated[str, AfterValidator(_sip_listen), _text("udp:HOST:PORT | tcp:HOST:PORT")]
Network = Annotated[str, AfterValidator(_network), _text("address or address/prefix")]
SipUriText = Annotated[str, AfterValidator(_sip_uri), _text("sip: or sips: URI")]
HttpUrl = Annotated[str, AfterValidator(_http_url), _text("http(s) URL")]
DatabaseUrl = Annotated[
    str, AfterValidator(_database_url), _text("SQLite or PostgreSQL URL (postgres:// accepted)")
]
RedisUrl = Annotated[str, AfterValidator(_redis_url), _text("redis://, rediss:// or unix:// URL")]
Digits = Annotated[str, AfterValidator(_digits), _text("digits")]
Msisdn = Annotated[str, AfterValidator(_msisdn), _text("+E.164 number")]
Plmn = Annotated[str, AfterValidator(_plmn), _text("MCC+MNC, 5 or 6 digits")]
Mcc = Annotated[str, AfterValidator(_mcc), _text("MCC, 3 digits")]
HeaderLine = Annotated[str, AfterValidator(_header_line), _text("one 'Name: value' line")]
Token = Annotated[str, AfterValidator(_no_space), _text("text without spaces")]
CountryCode = Annotated[str, AfterValidator(_country_code), _text("E.164 country code")]
DigitsOrEmpty = Annotated[str, AfterValidator(_digits_or_empty), _text("digits or empty")]
RouteNumber = Annotated[
    str, AfterValidator(_route_number), _text("short code, +E.164 number, or prefix ending in *")
]
UrlPrefix = Annotated[str, AfterValidator(_url_prefix), _text("http(s) URL prefix")]
SmppSystemId = Annotated[str, AfterValidator(_smpp_system_id), _text("SMPP system_id")]
SmppPassword = Annotated[str, AfterValidator(_smpp_password), _text("SMPP password")]
SmppSource = Annotated[
    str, AfterValidator(_smpp_source), _text("*, +E.164, +E.164 prefix*, short code or name")
]

_FROM_TEXT = BeforeValidator(_string_list)
"""Lists that the environment may give as JSON or as comma-separated text."""

SipListenList = Annotated[tuple[SipListen, ...], NoDecode, _FROM_TEXT]
NetworkList = Annotated[tuple[Network, ...], NoDecode, _FROM_TEXT]
PlmnList = Annotated[tuple[Plmn, ...], NoDecode, _FROM_TEXT]
DigitsList = Annotated[tuple[Digits, ...], NoDecode, _FROM_TEXT]
MccList = Annotated[tuple[Mcc, ...], NoDecode, _FROM_TEXT]
HostPortList = Annotated[tuple[HostPort, ...], NoDecode, _FROM_TEXT]
UrlPrefixList = Annotated[tuple[UrlPrefix, ...], NoDecode, _FROM_TEXT]
SmppSourceList = Annotated[tuple[SmppSource, ...], NoDecode, _FROM_TEXT]
