"""RFC 6733 §5 base-protocol messages: CER/CEA, DWR/DWA, DPR/DPA and the 3001 error answer.

Encoders build exact bytes with charging/avp.py; ``decode_base`` is a lean reader that keeps the
few fields a client peer acts on. Base messages use Application-Id 0 and are not proxiable.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from charging import avp as a
from charging.avp import HEADER_LENGTH, VENDOR_3GPP, AddressFamily, AvpCode, CommandFlag
from charging.diameter.errors import DiameterDecodeError, DiameterEncodeError, DiameterError
from charging.diameter.framing import parse_header
from charging.errors import CcaDecodeError, CcrEncodeError

BASE_APPLICATION_ID = 0
"""RFC 6733 §2.4: the Diameter common messages application."""

RELAY_APPLICATION_ID = 0xFFFFFFFF
"""RFC 6733 §2.4: the relay application, which carries every application."""

CREDIT_CONTROL_APPLICATION_ID = 4
"""RFC 4006 §1.3: the one application the client advertises (Ro)."""


class BaseCommandCode(IntEnum):
    """RFC 6733 §3.1 (base-protocol command codes)."""

    CAPABILITIES_EXCHANGE = 257
    DEVICE_WATCHDOG = 280
    DISCONNECT_PEER = 282


class BaseAvpCode(IntEnum):
    """RFC 6733 §4.5 (base AVP codes not in charging.avp.AvpCode)."""

    HOST_IP_ADDRESS = 257  # §5.3.5, Address
    ACCT_APPLICATION_ID = 259  # §6.9, Unsigned32
    VENDOR_SPECIFIC_APPLICATION_ID = 260  # §6.11, Grouped
    SUPPORTED_VENDOR_ID = 265  # §5.3.6, Unsigned32
    FIRMWARE_REVISION = 267  # §5.3.4, Unsigned32
    PRODUCT_NAME = 269  # §5.3.7, UTF8String
    DISCONNECT_CAUSE = 273  # §5.4.3, Enumerated
    ORIGIN_STATE_ID = 278  # §8.16, Unsigned32
    ERROR_MESSAGE = 281  # §7.3, UTF8String
    INBAND_SECURITY_ID = 299  # §6.10, Unsigned32


class DisconnectCause(IntEnum):
    """RFC 6733 §5.4.3."""

    REBOOTING = 0
    BUSY = 1
    DO_NOT_WANT_TO_TALK_TO_YOU = 2


class BaseResultCode(IntEnum):
    """RFC 6733 §7.1 (the Result-Code values the base peer itself uses)."""

    DIAMETER_SUCCESS = 2001
    DIAMETER_COMMAND_UNSUPPORTED = 3001


@dataclass(frozen=True, slots=True)
class LocalIdentity:
    """RFC 6733 §5.3.1: who we say we are in CER, DWR, DPR and our answers."""

    origin_host: str
    origin_realm: str
    host_ip_addresses: tuple[str, ...]
    vendor_id: int
    product_name: str
    origin_state_id: int
    firmware_revision: int | None = None

    def __post_init__(self) -> None:
        for name in ("origin_host", "origin_realm"):
            value = getattr(self, name)
            if not value or not value.isascii():
                raise DiameterEncodeError(f"{name} {value!r} is not a DiameterIdentity")
        if not self.host_ip_addresses:
            raise DiameterEncodeError("CER needs at least one Host-IP-Address (RFC 6733 §5.3.1)")
        for address in self.host_ip_addresses:
            _address_payload(address)
        for name in ("vendor_id", "origin_state_id", "firmware_revision"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 0xFFFFFFFF:
                raise DiameterEncodeError(f"{name} {value} is not an Unsigned32")


# --- encoding -------------------------------------------------------------------------------

_ORIGIN_HOST = a.octet_string(AvpCode.ORIGIN_HOST)
_ORIGIN_REALM = a.octet_string(AvpCode.ORIGIN_REALM)
_HOST_IP_ADDRESS = a.octet_string(BaseAvpCode.HOST_IP_ADDRESS)
_VENDOR_ID = a.unsigned32(AvpCode.VENDOR_ID)
_ORIGIN_STATE_ID = a.unsigned32(BaseAvpCode.ORIGIN_STATE_ID)
_SUPPORTED_VENDOR_ID = a.unsigned32(BaseAvpCode.SUPPORTED_VENDOR_ID)
_AUTH_APPLICATION_ID = a.unsigned32(AvpCode.AUTH_APPLICATION_ID)
_RESULT_CODE = a.unsigned32(AvpCode.RESULT_CODE)
_DISCONNECT_CAUSE = a.enumerated(BaseAvpCode.DISCONNECT_CAUSE)
_SESSION_ID = a.octet_string(AvpCode.SESSION_ID)
_PLAIN_HEAD = struct.Struct(">II").pack
_PADDING = (b"", b"\0\0\0", b"\0\0", b"\0")
_REQUEST = CommandFlag.REQUEST


def _plain_octets(code: int, payload: bytes) -> bytes:
    """An AVP with no flag set (RFC 6733 §5.3.3/§5.3.4/§7.3: the M bit MUST NOT be set)."""
    n = 8 + len(payload)
    if n > a.MAX_LENGTH:
        raise DiameterEncodeError(f"AVP {code} would be {n} octets long")
    return _PLAIN_HEAD(code, n) + payload + _PADDING[n & 3]


def _address_payload(address: str) -> bytes:
    """RFC 6733 §4.3.1 Address: 2-octet family (1 IPv4, 2 IPv6) then the address octets."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise DiameterEncodeError(f"Host-IP-Address {address!r}: {exc}") from exc
    family = AddressFamily.IPV4 if ip.version == 4 else AddressFamily.IPV6
    return struct.pack(">H", family) + ip.packed


def _identity_avps(identity: LocalIdentity) -> bytes:
    return _ORIGIN_HOST(identity.origin_host.encode("ascii")) + _ORIGIN_REALM(
        identity.origin_realm.encode("ascii")
    )


def _message(flags: int, command: int, hop: int, e2e: int, body: bytes, *, app: int = 0) -> bytes:
    try:
        return a.encode_message(flags, command, app, hop_by_hop=hop, end_to_end=e2e, body=body)
    except CcrEncodeError as exc:
        raise DiameterEncodeError(str(exc)) from exc


def _capabilities(identity: LocalIdentity, auth_application_ids: Iterable[int]) -> bytes:
    """RFC 6733 §5.3.1/§5.3.2: everything after Origin-Realm (and Result-Code) in CER/CEA."""
    parts = [_HOST_IP_ADDRESS(_address_payload(ip)) for ip in identity.host_ip_addresses]
    parts.append(_VENDOR_ID(identity.vendor_id))
    parts.append(_plain_octets(BaseAvpCode.PRODUCT_NAME, identity.product_name.encode("utf-8")))
    parts.append(_ORIGIN_STATE_ID(identity.origin_state_id))
    parts.append(_SUPPORTED_VENDOR_ID(VENDOR_3GPP))
    parts += [_AUTH_APPLICATION_ID(app) for app in auth_application_ids]
    if identity.firmware_revision is not None:
        revision = struct.pack(">I", identity.firmware_revision)
        parts.append(_plain_octets(BaseAvpCode.FIRMWARE_REVISION, revision))
    return b"".join(parts)


def encode_cer(identity: LocalIdentity, *, hop_by_hop: int, end_to_end: int) -> bytes:
    """RFC 6733 §5.3.1 Capabilities-Exchange-Request (we offer Auth-Application-Id 4 only)."""
    body = _identity_avps(identity) + _capabilities(identity, (CREDIT_CONTROL_APPLICATION_ID,))
    return _message(_REQUEST, BaseCommandCode.CAPABILITIES_EXCHANGE, hop_by_hop, end_to_end, body)


def encode_cea(
    identity: LocalIdentity,
    *,
    result_code: int,
    hop_by_hop: int,
    end_to_end: int,
    auth_application_ids: Iterable[int] = (CREDIT_CONTROL_APPLICATION_ID,),
    error_message: str | None = None,
) -> bytes:
    """RFC 6733 §5.3.2 Capabilities-Exchange-Answer (what a server answers; used by tests)."""
    body = _RESULT_CODE(result_code) + _identity_avps(identity)
    body += _capabilities(identity, auth_application_ids)
    if error_message is not None:
        body += _plain_octets(BaseAvpCode.ERROR_MESSAGE, error_message.encode("utf-8"))
    flags = CommandFlag.ERROR if 3000 <= result_code < 4000 else 0
    return _message(flags, BaseCommandCode.CAPABILITIES_EXCHANGE, hop_by_hop, end_to_end, body)


def encode_dwr(identity: LocalIdentity, *, hop_by_hop: int, end_to_end: int) -> bytes:
    """RFC 6733 §5.5.1 Device-Watchdog-Request."""
    body = _identity_avps(identity) + _ORIGIN_STATE_ID(identity.origin_state_id)
    return _message(_REQUEST, BaseCommandCode.DEVICE_WATCHDOG, hop_by_hop, end_to_end, body)


def encode_dwa(
    identity: LocalIdentity,
    *,
    hop_by_hop: int,
    end_to_end: int,
    result_code: int = BaseResultCode.DIAMETER_SUCCESS,
) -> bytes:
    """RFC 6733 §5.5.2 Device-Watchdog-Answer (same hop-by-hop and end-to-end as the DWR)."""
    body = _RESULT_CODE(result_code) + _identity_avps(identity)
    body += _ORIGIN_STATE_ID(identity.origin_state_id)
    return _message(0, BaseCommandCode.DEVICE_WATCHDOG, hop_by_hop, end_to_end, body)


def encode_dpr(
    identity: LocalIdentity, cause: DisconnectCause, *, hop_by_hop: int, end_to_end: int
) -> bytes:
    """RFC 6733 §5.4.1 Disconnect-Peer-Request."""
    body = _identity_avps(identity) + _DISCONNECT_CAUSE(cause)
    return _message(_REQUEST, BaseCommandCode.DISCONNECT_PEER, hop_by_hop, end_to_end, body)


def encode_dpa(
    identity: LocalIdentity,
    *,
    hop_by_hop: int,
    end_to_end: int,
    result_code: int = BaseResultCode.DIAMETER_SUCCESS,
) -> bytes:
    """RFC 6733 §5.4.2 Disconnect-Peer-Answer."""
    body = _RESULT_CODE(result_code) + _identity_avps(identity)
    return _message(0, BaseCommandCode.DISCONNECT_PEER, hop_by_hop, end_to_end, body)


def session_id_of(message: bytes, end: int | None = None) -> bytes | None:
    """RFC 6733 §8.8: the Session-Id of an encoded message (its AVPs up to `end`, by default
    all of it); None when it has none or its AVPs cannot be walked."""
    try:
        for code, vendor, lo, hi in a.iter_avps(
            message, HEADER_LENGTH, len(message) if end is None else end
        ):
            if code == AvpCode.SESSION_ID and not vendor:
                return message[lo:hi]
    except CcaDecodeError:
        return None
    return None


def encode_unsupported_answer(
    identity: LocalIdentity,
    request: bytes,
    result_code: int = BaseResultCode.DIAMETER_COMMAND_UNSUPPORTED,
) -> bytes:
    """RFC 6733 §7.1.3 / §7.2: an answer-message with the E bit to a request we do not serve.

    Command code, Application-Id, P bit and both identifiers are the request's; its Session-Id
    (if any can be read) comes first.
    """
    try:
        header = parse_header(request)
    except DiameterError as exc:
        raise DiameterEncodeError(f"cannot answer: {exc}") from exc
    if header.length > len(request):
        raise DiameterEncodeError("cannot answer a truncated request")
    session = session_id_of(request, header.length)
    body = b"" if session is None else _SESSION_ID(session)
    body += _identity_avps(identity) + _RESULT_CODE(result_code)
    flags = CommandFlag.ERROR | (header.flags & CommandFlag.PROXIABLE)
    hop, e2e = header.hop_by_hop, header.end_to_end
    return _message(flags, header.command_code, hop, e2e, body, app=header.application_id)


# --- decoding -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapabilitiesRequest:
    """RFC 6733 §5.3.1 CER, as read back (tests; a client is never sent one)."""

    hop_by_hop: int
    end_to_end: int
    origin_host: str | None
    origin_realm: str | None
    host_ip_addresses: tuple[str, ...]
    vendor_id: int | None
    product_name: str | None
    origin_state_id: int | None
    supported_vendor_ids: tuple[int, ...]
    auth_application_ids: tuple[int, ...]
    vendor_specific_auth_ids: tuple[int, ...]
    firmware_revision: int | None


@dataclass(frozen=True, slots=True)
class CapabilitiesAnswer:
    """RFC 6733 §5.3.2 CEA: the result and the applications the peer supports."""

    result_code: int
    origin_host: str | None
    origin_realm: str | None
    auth_application_ids: tuple[int, ...]
    vendor_specific_auth_ids: tuple[int, ...] = ()
    error_message: str | None = None
    product_name: str | None = None
    origin_state_id: int | None = None
    error_bit: bool = False


@dataclass(frozen=True, slots=True)
class WatchdogRequest:
    """RFC 6733 §5.5.1 DWR."""

    hop_by_hop: int
    end_to_end: int
    origin_host: str | None
    origin_realm: str | None = None
    origin_state_id: int | None = None


@dataclass(frozen=True, slots=True)
class WatchdogAnswer:
    """RFC 6733 §5.5.2 DWA."""

    result_code: int
    origin_host: str | None = None
    origin_state_id: int | None = None
    error_bit: bool = False


@dataclass(frozen=True, slots=True)
class DisconnectRequest:
    """RFC 6733 §5.4.1 DPR (cause None when the peer left Disconnect-Cause out)."""

    hop_by_hop: int
    end_to_end: int
    cause: int | None
    origin_host: str | None = None


@dataclass(frozen=True, slots=True)
class DisconnectAnswer:
    """RFC 6733 §5.4.2 DPA."""

    result_code: int
    origin_host: str | None = None
    error_bit: bool = False


BaseMessage = (
    CapabilitiesRequest
    | CapabilitiesAnswer
    | WatchdogRequest
    | WatchdogAnswer
    | DisconnectRequest
    | DisconnectAnswer
)

_Spans = dict[int, list[tuple[int, int]]]
_U32 = struct.Struct(">I").unpack_from


def _u32(data: bytes, lo: int, hi: int, name: str) -> int:
    if hi - lo != 4:
        raise DiameterDecodeError(f"{name} has {hi - lo} octets, expected 4 (Unsigned32)")
    value: int = _U32(data, lo)[0]
    return value


def _scan(data: bytes, start: int, end: int) -> _Spans:
    """RFC 6733 §4.1: the payload spans of the IETF (no Vendor-Id) AVPs, by code."""
    spans: _Spans = {}
    for code, vendor, lo, hi in a.iter_avps(data, start, end):
        if not vendor:
            spans.setdefault(code, []).append((lo, hi))
    return spans


def _one(spans: _Spans, code: int, name: str) -> tuple[int, int] | None:
    found = spans.get(code)
    if not found:
        return None
    if len(found) > 1:
        raise DiameterDecodeError(f"{name} appears {len(found)} times")
    return found[0]


def _opt_u32(data: bytes, spans: _Spans, code: int, name: str) -> int | None:
    span = _one(spans, code, name)
    return None if span is None else _u32(data, *span, name)


def _all_u32(data: bytes, spans: _Spans, code: int, name: str) -> tuple[int, ...]:
    return tuple(_u32(data, lo, hi, name) for lo, hi in spans.get(code, ()))


def _text(data: bytes, spans: _Spans, code: int, name: str, strict: bool = True) -> str | None:
    span = _one(spans, code, name)
    if span is None:
        return None
    return data[span[0] : span[1]].decode("utf-8", "strict" if strict else "replace")


def _result(data: bytes, spans: _Spans) -> int:
    result = _opt_u32(data, spans, AvpCode.RESULT_CODE, "Result-Code")
    if result is None:
        raise DiameterDecodeError("answer without Result-Code (RFC 6733 §7.1)")
    return result


def _vendor_specific_auth_ids(data: bytes, spans: _Spans) -> tuple[int, ...]:
    """RFC 6733 §6.11: the Auth-Application-Id inside each Vendor-Specific-Application-Id."""
    found: list[int] = []
    for lo, hi in spans.get(BaseAvpCode.VENDOR_SPECIFIC_APPLICATION_ID, ()):
        inner = _scan(data, lo, hi)
        found += _all_u32(data, inner, AvpCode.AUTH_APPLICATION_ID, "Auth-Application-Id")
    return tuple(found)


def _address(data: bytes, lo: int, hi: int) -> str:
    """RFC 6733 §4.3.1 Address, IPv4 or IPv6."""
    if hi - lo < 2:
        raise DiameterDecodeError("Host-IP-Address shorter than its family")
    family, raw = int.from_bytes(data[lo : lo + 2], "big"), data[lo + 2 : hi]
    if (family, len(raw)) in ((AddressFamily.IPV4, 4), (AddressFamily.IPV6, 16)):
        return str(ipaddress.ip_address(raw))
    raise DiameterDecodeError(f"Host-IP-Address family {family} with {len(raw)} octets")


def _decode(data: bytes) -> BaseMessage:
    header = parse_header(data)
    if header.length != len(data):
        raise DiameterDecodeError(f"header length {header.length}, {len(data)} octets given")
    if header.application_id != BASE_APPLICATION_ID:
        raise DiameterDecodeError(f"Application-Id {header.application_id}, expected 0")
    spans = _scan(data, HEADER_LENGTH, len(data))
    host = _text(data, spans, AvpCode.ORIGIN_HOST, "Origin-Host")
    realm = _text(data, spans, AvpCode.ORIGIN_REALM, "Origin-Realm")
    state = _opt_u32(data, spans, BaseAvpCode.ORIGIN_STATE_ID, "Origin-State-Id")
    hop, e2e, command = header.hop_by_hop, header.end_to_end, header.command_code
    if command == BaseCommandCode.CAPABILITIES_EXCHANGE:
        auth_ids = _all_u32(data, spans, AvpCode.AUTH_APPLICATION_ID, "Auth-Application-Id")
        vendor_auth_ids = _vendor_specific_auth_ids(data, spans)
        product = _text(data, spans, BaseAvpCode.PRODUCT_NAME, "Product-Name", strict=False)
        if not header.is_request:
            error = _text(data, spans, BaseAvpCode.ERROR_MESSAGE, "Error-Message", strict=False)
            result = _result(data, spans)
            return CapabilitiesAnswer(
                result, host, realm, auth_ids, vendor_auth_ids, error, product, state,
                header.is_error,
            )  # fmt: skip
        ips = tuple(_address(data, *span) for span in spans.get(BaseAvpCode.HOST_IP_ADDRESS, ()))
        vendor = _opt_u32(data, spans, AvpCode.VENDOR_ID, "Vendor-Id")
        vendors = _all_u32(data, spans, BaseAvpCode.SUPPORTED_VENDOR_ID, "Supported-Vendor-Id")
        firmware = _opt_u32(data, spans, BaseAvpCode.FIRMWARE_REVISION, "Firmware-Revision")
        return CapabilitiesRequest(
            hop, e2e, host, realm, ips, vendor, product, state, vendors, auth_ids,
            vendor_auth_ids, firmware,
        )  # fmt: skip
    if command == BaseCommandCode.DEVICE_WATCHDOG:
        if header.is_request:
            return WatchdogRequest(hop, e2e, host, realm, state)
        return WatchdogAnswer(_result(data, spans), host, state, header.is_error)
    if command == BaseCommandCode.DISCONNECT_PEER:
        if header.is_request:
            cause = _opt_u32(data, spans, BaseAvpCode.DISCONNECT_CAUSE, "Disconnect-Cause")
            return DisconnectRequest(hop, e2e, cause, host)
        return DisconnectAnswer(_result(data, spans), host, header.is_error)
    raise DiameterDecodeError(f"command code {command} is not a base-protocol command")


def decode_base(data: bytes) -> BaseMessage:
    """Read one whole base-protocol message; anything malformed raises DiameterDecodeError."""
    try:
        return _decode(bytes(data))
    except DiameterDecodeError:
        raise
    except (DiameterError, CcaDecodeError, struct.error, ValueError, IndexError) as exc:
        raise DiameterDecodeError(f"malformed base message: {exc}") from exc
