"""RFC 6733 §3-§4 Diameter wire format: a small, fast AVP encoder and a CCA reader.

Built for one job: the fixed shape of an SMS CCR (charging/ccr.py) and the few AVPs of its
answer. Encoders are closures made once per AVP definition, so that a CCR is a handful of
``struct.pack`` calls and byte concatenations; python-diameter's message classes remain the test
oracle. Every AVP we send carries the M flag; 3GPP AVPs also carry V and Vendor-Id 10415.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, IntFlag

from charging.errors import CcaDecodeError, CcrEncodeError

VENDOR_3GPP = 10415
"""3GPP's IANA SMI enterprise number, the Vendor-Id of every 3GPP AVP."""

DIAMETER_VERSION = 1
HEADER_LENGTH = 20
MAX_LENGTH = 0xFFFFFF
NTP_UNIX_OFFSET = 2_208_988_800
"""Seconds from 1900-01-01 (NTP era 0) to 1970-01-01; RFC 6733 §4.3.1 Time."""


class CommandCode(IntEnum):
    """RFC 4006 §3 (Credit-Control command)."""

    CREDIT_CONTROL = 272


class ApplicationId(IntEnum):
    """RFC 4006 §1.3 (Diameter Credit-Control Application)."""

    DIAMETER_CREDIT_CONTROL = 4


class CommandFlag(IntFlag):
    """RFC 6733 §3 (command flags)."""

    REQUEST = 0x80
    PROXIABLE = 0x40
    ERROR = 0x20
    RETRANSMITTED = 0x10


class AvpFlag(IntFlag):
    """RFC 6733 §4.1 (AVP flags)."""

    VENDOR_SPECIFIC = 0x80
    MANDATORY = 0x40
    PROTECTED = 0x20


class AvpCode(IntEnum):
    """RFC 6733 §4.5 and RFC 4006 §8 (IETF AVP codes, no vendor)."""

    EVENT_TIMESTAMP = 55  # RFC 6733 §8.21, Time
    AUTH_APPLICATION_ID = 258  # RFC 6733 §6.8, Unsigned32
    SESSION_ID = 263  # RFC 6733 §8.8, UTF8String
    ORIGIN_HOST = 264  # RFC 6733 §6.3, DiamIdent
    VENDOR_ID = 266  # RFC 6733 §5.3.3, Unsigned32
    RESULT_CODE = 268  # RFC 6733 §7.1, Unsigned32
    DESTINATION_REALM = 283  # RFC 6733 §6.6, DiamIdent
    DESTINATION_HOST = 293  # RFC 6733 §6.5, DiamIdent
    ORIGIN_REALM = 296  # RFC 6733 §6.4, DiamIdent
    EXPERIMENTAL_RESULT = 297  # RFC 6733 §7.6, Grouped
    EXPERIMENTAL_RESULT_CODE = 298  # RFC 6733 §7.7, Unsigned32
    CC_REQUEST_NUMBER = 415  # RFC 4006 §8.2, Unsigned32
    CC_REQUEST_TYPE = 416  # RFC 4006 §8.3, Enumerated
    CC_SERVICE_SPECIFIC_UNITS = 417  # RFC 4006 §8.26, Unsigned64
    GRANTED_SERVICE_UNIT = 431  # RFC 4006 §8.17, Grouped
    RATING_GROUP = 432  # RFC 4006 §8.29, Unsigned32
    REQUESTED_ACTION = 436  # RFC 4006 §8.41, Enumerated
    REQUESTED_SERVICE_UNIT = 437  # RFC 4006 §8.18, Grouped
    SERVICE_IDENTIFIER = 439  # RFC 4006 §8.28, Unsigned32
    SUBSCRIPTION_ID = 443  # RFC 4006 §8.46, Grouped
    SUBSCRIPTION_ID_DATA = 444  # RFC 4006 §8.48, UTF8String
    SUBSCRIPTION_ID_TYPE = 450  # RFC 4006 §8.47, Enumerated
    MULTIPLE_SERVICES_INDICATOR = 455  # RFC 4006 §8.40, Enumerated
    MULTIPLE_SERVICES_CREDIT_CONTROL = 456  # RFC 4006 §8.16, Grouped
    SERVICE_CONTEXT_ID = 461  # RFC 4006 §8.42, UTF8String


class TgppAvpCode(IntEnum):
    """TS 32.299 §7.2 (3GPP charging AVP codes, Vendor-Id 10415)."""

    ROLE_OF_NODE = 829  # Enumerated
    CALLING_PARTY_ADDRESS = 831  # UTF8String
    CALLED_PARTY_ADDRESS = 832  # UTF8String
    NODE_FUNCTIONALITY = 862  # Enumerated
    SERVICE_INFORMATION = 873  # Grouped
    IMS_INFORMATION = 876  # Grouped
    ADDRESS_DATA = 897  # UTF8String
    ADDRESS_TYPE = 899  # Enumerated
    RECIPIENT_ADDRESS = 1201  # Grouped
    ACCESS_NETWORK_INFORMATION = 1263  # OctetString
    SMS_INFORMATION = 2000  # Grouped
    DATA_CODING_SCHEME = 2001  # Integer32
    SM_MESSAGE_TYPE = 2007  # Enumerated
    REPLY_PATH_REQUESTED = 2011  # Enumerated
    SM_PROTOCOL_ID = 2013  # OctetString
    SM_USER_DATA_HEADER = 2015  # OctetString
    SMS_NODE = 2016  # Enumerated
    SMSC_ADDRESS = 2017  # Address
    NUMBER_OF_MESSAGES_SENT = 2019  # Unsigned32
    RECIPIENT_INFO = 2026  # Grouped
    ORIGINATOR_RECEIVED_ADDRESS = 2027  # Grouped


class AddressFamily(IntEnum):
    """RFC 6733 §4.3.1 Address (IANA address family numbers)."""

    IPV4 = 1
    IPV6 = 2
    E164 = 8


# --- encoding -------------------------------------------------------------------------------

_HEAD = struct.Struct(">II").pack
_VHEAD = struct.Struct(">III").pack
_HEAD_U32 = struct.Struct(">III").pack
_VHEAD_U32 = struct.Struct(">IIII").pack
_HEAD_I32 = struct.Struct(">IIi").pack
_VHEAD_I32 = struct.Struct(">IIIi").pack
_HEAD_U64 = struct.Struct(">IIQ").pack
_VHEAD_U64 = struct.Struct(">IIIQ").pack
_MESSAGE_HEAD = struct.Struct(">IIIII").pack
_PADDING = (b"", b"\0\0\0", b"\0\0", b"\0")
_VENDOR_BIT = int(AvpFlag.VENDOR_SPECIFIC) << 24
_M = AvpFlag.MANDATORY << 24
_VM = (AvpFlag.VENDOR_SPECIFIC | AvpFlag.MANDATORY) << 24
_E164 = struct.pack(">H", AddressFamily.E164)

OctetsEncoder = Callable[[bytes], bytes]
IntEncoder = Callable[[int], bytes]


def _too_long(code: int, length: int) -> CcrEncodeError:
    return CcrEncodeError(f"AVP {code} would be {length} octets long (max {MAX_LENGTH})")


def octet_string(code: int, vendor: int = 0) -> OctetsEncoder:
    """RFC 6733 §4.2 OctetString (also DiameterIdentity and Grouped payloads): header + padding."""
    if vendor:

        def vendor_avp(payload: bytes) -> bytes:
            n = 12 + len(payload)
            if n > MAX_LENGTH:
                raise _too_long(code, n)
            return _VHEAD(code, _VM | n, vendor) + payload + _PADDING[n & 3]

        return vendor_avp

    def avp(payload: bytes) -> bytes:
        n = 8 + len(payload)
        if n > MAX_LENGTH:
            raise _too_long(code, n)
        return _HEAD(code, _M | n) + payload + _PADDING[n & 3]

    return avp


def grouped(code: int, vendor: int = 0) -> OctetsEncoder:
    """RFC 6733 §4.4 Grouped: the payload is the concatenation of padded member AVPs."""
    return octet_string(code, vendor)


def unsigned32(code: int, vendor: int = 0) -> IntEncoder:
    """RFC 6733 §4.2 Unsigned32 (also Enumerated values >= 0 where the type is Unsigned32)."""
    if vendor:
        return lambda value: _VHEAD_U32(code, _VM | 16, vendor, value)
    return lambda value: _HEAD_U32(code, _M | 12, value)


def integer32(code: int, vendor: int = 0) -> IntEncoder:
    """RFC 6733 §4.2 Integer32; §4.3.1 Enumerated is derived from it."""
    if vendor:
        return lambda value: _VHEAD_I32(code, _VM | 16, vendor, value)
    return lambda value: _HEAD_I32(code, _M | 12, value)


enumerated = integer32


def unsigned64(code: int, vendor: int = 0) -> IntEncoder:
    """RFC 6733 §4.2 Unsigned64."""
    if vendor:
        return lambda value: _VHEAD_U64(code, _VM | 20, vendor, value)
    return lambda value: _HEAD_U64(code, _M | 16, value)


def e164_address(code: int, vendor: int = 0) -> Callable[[str], bytes]:
    """RFC 6733 §4.3.1 Address: family 8 (E.164) followed by the ASCII digits."""
    encode = octet_string(code, vendor)
    return lambda digits: encode(_E164 + digits.encode("ascii"))


def ntp_seconds(moment: datetime) -> int:
    """RFC 6733 §4.3.1 Time: NTP seconds (RFC 5905), wrapping into era 1 after 2036-02-07."""
    if moment.tzinfo is None:
        raise CcrEncodeError("event time must be timezone-aware")
    seconds = int(moment.timestamp()) + NTP_UNIX_OFFSET
    if seconds < 0:
        raise CcrEncodeError(f"{moment.isoformat()} is before the NTP epoch")
    return seconds & 0xFFFFFFFF


def time(code: int, vendor: int = 0) -> Callable[[datetime], bytes]:
    """RFC 6733 §4.3.1 Time (four octets of NTP seconds)."""
    encode = unsigned32(code, vendor)
    return lambda moment: encode(ntp_seconds(moment))


def encode_message(
    flags: int, command: int, application: int, *, hop_by_hop: int, end_to_end: int, body: bytes
) -> bytes:
    """RFC 6733 §3 header (version 1, 24-bit length) followed by the AVPs."""
    length = HEADER_LENGTH + len(body)
    if length > MAX_LENGTH:
        raise CcrEncodeError(f"message would be {length} octets long (max {MAX_LENGTH})")
    try:
        head = _MESSAGE_HEAD(
            DIAMETER_VERSION << 24 | length,
            flags << 24 | command,
            application,
            hop_by_hop,
            end_to_end,
        )
    except struct.error as exc:
        raise CcrEncodeError(f"header field out of range: {exc}") from exc
    return head + body


# --- decoding -------------------------------------------------------------------------------

_U32 = struct.Struct(">I").unpack_from
_U64 = struct.Struct(">Q").unpack_from
_AVP_HEAD = struct.Struct(">II").unpack_from
_MESSAGE_FIELDS = struct.Struct(">IIIII").unpack_from


def iter_avps(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """RFC 6733 §4.1: yield (code, vendor, payload start, payload end) for the AVPs in a span.

    The last AVP of a span may omit its padding; anything else that does not fit is an error.
    """
    offset = start
    while offset < end:
        if end - offset < 8:
            raise CcaDecodeError(f"{end - offset} stray octets at offset {offset}")
        code, flags_length = _AVP_HEAD(data, offset)
        length = flags_length & 0xFFFFFF
        header = 12 if flags_length & _VENDOR_BIT else 8
        if length < header:
            raise CcaDecodeError(f"AVP {code} at offset {offset} has length {length} < {header}")
        payload_end = offset + length
        if payload_end > end:
            raise CcaDecodeError(f"AVP {code} at offset {offset} overruns its container")
        vendor = _U32(data, offset + 8)[0] if header == 12 else 0
        yield code, vendor, offset + header, payload_end
        offset = payload_end + (-length & 3)


def _unsigned(data: bytes, start: int, end: int, name: str) -> int:
    """RFC 6733 §4.2 Unsigned32 (or Unsigned64 when eight octets)."""
    size = end - start
    if size == 4:
        value: int = _U32(data, start)[0]
        return value
    if size == 8:
        value = _U64(data, start)[0]
        return value
    raise CcaDecodeError(f"{name} has {size} octets, expected 4 or 8")


def _unsigned32(data: bytes, start: int, end: int, name: str) -> int:
    if end - start != 4:
        raise CcaDecodeError(f"{name} has {end - start} octets, expected 4 (Unsigned32)")
    value: int = _U32(data, start)[0]
    return value


@dataclass(frozen=True, slots=True)
class ExperimentalResult:
    """RFC 6733 §7.6 Experimental-Result { Vendor-Id, Experimental-Result-Code }."""

    vendor_id: int
    code: int


@dataclass(frozen=True, slots=True)
class CcaResult:
    """What a Credit-Control-Answer (RFC 4006 §3.2) tells the SMSC."""

    result_code: int | None
    experimental: ExperimentalResult | None
    mscc_result_codes: tuple[int, ...]
    granted_units: int | None
    session_id: str | None
    hop_by_hop: int
    end_to_end: int
    error_bit: bool = False


def _experimental(data: bytes, start: int, end: int) -> ExperimentalResult:
    vendor = code = None
    for avp, avp_vendor, lo, hi in iter_avps(data, start, end):
        if avp_vendor:
            continue
        if avp == AvpCode.VENDOR_ID:
            vendor = _unsigned32(data, lo, hi, "Vendor-Id")
        elif avp == AvpCode.EXPERIMENTAL_RESULT_CODE:
            code = _unsigned32(data, lo, hi, "Experimental-Result-Code")
    if vendor is None or code is None:
        raise CcaDecodeError("Experimental-Result lacks Vendor-Id or Experimental-Result-Code")
    return ExperimentalResult(vendor, code)


def _granted_units(data: bytes, start: int, end: int) -> int | None:
    for avp, vendor, lo, hi in iter_avps(data, start, end):
        if avp == _CC_UNITS and not vendor:
            return _unsigned(data, lo, hi, "CC-Service-Specific-Units")
    return None


def _mscc(data: bytes, start: int, end: int) -> tuple[int | None, int | None]:
    """RFC 4006 §8.16: the per-service Result-Code and Granted-Service-Unit of one MSCC."""
    result = granted = None
    for avp, vendor, lo, hi in iter_avps(data, start, end):
        if vendor:
            continue
        if avp == _RESULT_CODE:
            result = _unsigned32(data, lo, hi, "MSCC Result-Code")
        elif avp == _GSU:
            granted = _granted_units(data, lo, hi)
    return result, granted


def _check_header(data: bytes) -> tuple[int, int, int]:
    """RFC 6733 §3: version 1, exact length, answer of Credit-Control in application 4."""
    if len(data) < HEADER_LENGTH:
        raise CcaDecodeError(f"{len(data)} octets cannot hold a Diameter header")
    version_length, flags_command, application, hop_by_hop, end_to_end = _MESSAGE_FIELDS(data)
    length = version_length & 0xFFFFFF
    if version_length >> 24 != DIAMETER_VERSION:
        raise CcaDecodeError(f"Diameter version {version_length >> 24}, expected 1")
    if length != len(data) or length & 3:
        raise CcaDecodeError(f"header length {length} but {len(data)} octets received")
    flags = flags_command >> 24
    if flags & _REQUEST_FLAG:
        raise CcaDecodeError("R flag set: a request, not an answer")
    if flags_command & 0xFFFFFF != CommandCode.CREDIT_CONTROL:
        raise CcaDecodeError(f"command code {flags_command & 0xFFFFFF}, expected 272")
    if application != ApplicationId.DIAMETER_CREDIT_CONTROL:
        raise CcaDecodeError(f"Application-Id {application}, expected 4")
    return flags, hop_by_hop, end_to_end


def decode_cca(data: bytes) -> CcaResult:
    """Read a CCA (RFC 4006 §3.2); anything malformed raises CcaDecodeError and nothing else."""
    try:
        return _decode_cca(bytes(data))
    except CcaDecodeError:
        raise
    except (struct.error, ValueError, IndexError, TypeError) as exc:
        raise CcaDecodeError(f"malformed CCA: {exc}") from exc


_REQUEST_FLAG = int(CommandFlag.REQUEST)
_ERROR_FLAG = int(CommandFlag.ERROR)
_RESULT_CODE = int(AvpCode.RESULT_CODE)
_SESSION_ID = int(AvpCode.SESSION_ID)
_EXPERIMENTAL_RESULT = int(AvpCode.EXPERIMENTAL_RESULT)
_MSCC = int(AvpCode.MULTIPLE_SERVICES_CREDIT_CONTROL)
_GSU = int(AvpCode.GRANTED_SERVICE_UNIT)
_CC_UNITS = int(AvpCode.CC_SERVICE_SPECIFIC_UNITS)
"""Plain ints for the per-AVP comparisons (an enum attribute costs a lookup each time)."""


def _decode_cca(data: bytes) -> CcaResult:
    flags, hop_by_hop, end_to_end = _check_header(data)
    result_code = experimental = session_id = granted = None
    mscc_codes: list[int] = []
    for code, vendor, lo, hi in iter_avps(data, HEADER_LENGTH, len(data)):
        if vendor:
            continue
        if code == _RESULT_CODE:
            if result_code is not None:
                raise CcaDecodeError("Result-Code appears twice")
            result_code = _unsigned32(data, lo, hi, "Result-Code")
        elif code == _SESSION_ID:
            if session_id is not None:
                raise CcaDecodeError("Session-Id appears twice")
            session_id = data[lo:hi].decode("utf-8")
        elif code == _EXPERIMENTAL_RESULT:
            if experimental is not None:
                raise CcaDecodeError("Experimental-Result appears twice")
            experimental = _experimental(data, lo, hi)
        elif code == _MSCC:
            mscc_code, mscc_granted = _mscc(data, lo, hi)
            if mscc_code is not None:
                mscc_codes.append(mscc_code)
            if granted is None:
                granted = mscc_granted
        elif code == _GSU and granted is None:
            granted = _granted_units(data, lo, hi)
    if result_code is None and experimental is None:
        raise CcaDecodeError("neither Result-Code nor Experimental-Result (RFC 6733 §7.1)")
    return CcaResult(
        result_code,
        experimental,
        tuple(mscc_codes),
        granted,
        session_id,
        hop_by_hop,
        end_to_end,
        bool(flags & _ERROR_FLAG),
    )
