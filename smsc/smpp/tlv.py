"""SMPP 3.4 §3.2.4 / §5.3 optional parameters (TLVs): the stream, and typed values of §5.3.2.

A PDU keeps its TLVs as an ordered tuple of (tag, value octets), unknown tags included
(§3.2.4: a receiver ignores the optional parameters it does not know, and we pass them on).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum

from smsc.smpp.constants import CommandStatus, Tag
from smsc.smpp.errors import PduError, SmppEncodeError

Tlv = tuple[int, bytes]
"""One optional parameter: its tag and its value octets (§3.2.4.1)."""
Tlvs = tuple[Tlv, ...]

_TL = struct.Struct(">HH")
_TL_UNPACK = _TL.unpack_from
_TL_PACK = _TL.pack


class TlvKind(Enum):
    """SMPP 3.4 §3.1 parameter types as TLV values take them."""

    INTEGER = "integer"
    C_OCTET_STRING = "c-octet string"
    OCTET_STRING = "octet string"


@dataclass(frozen=True, slots=True)
class TlvFormat:
    """SMPP 3.4 §5.3.2: a known tag's value type and its length range in octets."""

    kind: TlvKind
    min_length: int
    max_length: int


def _integer(size: int) -> TlvFormat:
    return TlvFormat(TlvKind.INTEGER, size, size)


def _cstring(max_length: int) -> TlvFormat:
    return TlvFormat(TlvKind.C_OCTET_STRING, 1, max_length)


def _octets(min_length: int, max_length: int) -> TlvFormat:
    return TlvFormat(TlvKind.OCTET_STRING, min_length, max_length)


TLV_FORMATS: dict[int, TlvFormat] = {
    Tag.DEST_ADDR_SUBUNIT: _integer(1),  # §5.3.2.1
    Tag.DEST_NETWORK_TYPE: _integer(1),  # §5.3.2.3
    Tag.DEST_BEARER_TYPE: _integer(1),  # §5.3.2.5
    Tag.DEST_TELEMATICS_ID: _integer(2),  # §5.3.2.7
    Tag.SOURCE_ADDR_SUBUNIT: _integer(1),  # §5.3.2.2
    Tag.SOURCE_NETWORK_TYPE: _integer(1),  # §5.3.2.4
    Tag.SOURCE_BEARER_TYPE: _integer(1),  # §5.3.2.6
    Tag.SOURCE_TELEMATICS_ID: _integer(1),  # §5.3.2.8
    Tag.QOS_TIME_TO_LIVE: _integer(4),  # §5.3.2.9
    Tag.PAYLOAD_TYPE: _integer(1),  # §5.3.2.10
    Tag.ADDITIONAL_STATUS_INFO_TEXT: _cstring(256),  # §5.3.2.11
    Tag.RECEIPTED_MESSAGE_ID: _cstring(65),  # §5.3.2.12
    Tag.MS_MSG_WAIT_FACILITIES: _integer(1),  # §5.3.2.13
    Tag.PRIVACY_INDICATOR: _integer(1),  # §5.3.2.14
    Tag.SOURCE_SUBADDRESS: _octets(2, 23),  # §5.3.2.15
    Tag.DEST_SUBADDRESS: _octets(2, 23),  # §5.3.2.16
    Tag.USER_MESSAGE_REFERENCE: _integer(2),  # §5.3.2.17
    Tag.USER_RESPONSE_CODE: _integer(1),  # §5.3.2.18
    Tag.SOURCE_PORT: _integer(2),  # §5.3.2.20
    Tag.DESTINATION_PORT: _integer(2),  # §5.3.2.21
    Tag.SAR_MSG_REF_NUM: _integer(2),  # §5.3.2.22
    Tag.LANGUAGE_INDICATOR: _integer(1),  # §5.3.2.19
    Tag.SAR_TOTAL_SEGMENTS: _integer(1),  # §5.3.2.23
    Tag.SAR_SEGMENT_SEQNUM: _integer(1),  # §5.3.2.24
    Tag.SC_INTERFACE_VERSION: _integer(1),  # §5.3.2.25
    Tag.CALLBACK_NUM_PRES_IND: _integer(1),  # §5.3.2.37
    Tag.CALLBACK_NUM_ATAG: _octets(0, 65),  # §5.3.2.38
    Tag.NUMBER_OF_MESSAGES: _integer(1),  # §5.3.2.39
    Tag.CALLBACK_NUM: _octets(4, 19),  # §5.3.2.36
    Tag.DPF_RESULT: _integer(1),  # §5.3.2.28
    Tag.SET_DPF: _integer(1),  # §5.3.2.29
    Tag.MS_AVAILABILITY_STATUS: _integer(1),  # §5.3.2.30
    Tag.NETWORK_ERROR_CODE: _octets(3, 3),  # §5.3.2.31
    Tag.MESSAGE_PAYLOAD: _octets(0, 0xFFFF),  # §5.3.2.32
    Tag.DELIVERY_FAILURE_REASON: _integer(1),  # §5.3.2.33
    Tag.MORE_MESSAGES_TO_SEND: _integer(1),  # §5.3.2.34
    Tag.MESSAGE_STATE: _integer(1),  # §5.3.2.35
    Tag.USSD_SERVICE_OP: _octets(1, 1),  # §5.3.2.44
    Tag.DISPLAY_TIME: _integer(1),  # §5.3.2.26
    Tag.SMS_SIGNAL: _integer(2),  # §5.3.2.40
    Tag.MS_VALIDITY: _integer(1),  # §5.3.2.27
    Tag.ALERT_ON_MESSAGE_DELIVERY: _octets(0, 0),  # §5.3.2.41
    Tag.ITS_REPLY_TYPE: _integer(1),  # §5.3.2.42
    Tag.ITS_SESSION_INFO: _octets(2, 2),  # §5.3.2.43
}
"""SMPP 3.4 §5.3.2: every tag of Table 5-3 with its type and length."""

_LENGTHS = {tag: (f.min_length, f.max_length) for tag, f in TLV_FORMATS.items()}


def decode_tlvs(data: bytes, pos: int) -> Tlvs:
    """§3.2.4.1: the TLVs from ``pos`` to the end of ``data``.

    A cut header or a value running past the end is ESME_RINVOPTPARSTREAM; a known tag whose
    length is not its §5.3.2 length is ESME_RINVPARLEN.
    """
    end = len(data)
    if pos == end:
        return ()
    tlvs: list[Tlv] = []
    lengths = _LENGTHS
    while pos < end:
        if end - pos < 4:
            raise PduError(
                f"{end - pos} octets left cannot hold a TLV header",
                CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        tag, length = _TL_UNPACK(data, pos)
        pos += 4
        stop = pos + length
        if stop > end:
            raise PduError(
                f"TLV 0x{tag:04X} of length {length} runs past the PDU's end",
                CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        bounds = lengths.get(tag)
        if bounds is not None and not bounds[0] <= length <= bounds[1]:
            raise PduError(
                f"TLV {Tag(tag).name.lower()} has length {length}, expected "
                f"{bounds[0]}..{bounds[1]}",
                CommandStatus.ESME_RINVPARLEN,
            )
        tlvs.append((tag, data[pos:stop]))
        pos = stop
    return tuple(tlvs)


def encode_tlvs(tlvs: Tlvs) -> bytes:
    """§3.2.4.1: the TLVs in their order; known tags must have their §5.3.2 length."""
    parts: list[bytes] = []
    for tag, value in tlvs:
        length = len(value)
        if not 0 <= tag <= 0xFFFF or length > 0xFFFF:
            raise SmppEncodeError(f"TLV 0x{tag:X} of {length} octets does not fit 2+2 octets")
        bounds = _LENGTHS.get(tag)
        if bounds is not None and not bounds[0] <= length <= bounds[1]:
            raise SmppEncodeError(
                f"TLV {Tag(tag).name.lower()} of {length} octets, needs {bounds[0]}..{bounds[1]}"
            )
        parts.append(_TL_PACK(tag, length))
        parts.append(bytes(value))
    return b"".join(parts)


def find_tlv(tlvs: Tlvs, tag: int) -> bytes | None:
    """The value of the first TLV with ``tag``, None when there is none."""
    for candidate, value in tlvs:
        if candidate == tag:
            return value
    return None


def tlv_int(tlvs: Tlvs, tag: int) -> int | None:
    """§5.3.2: the first ``tag`` read as a big-endian unsigned integer (1, 2 or 4 octets)."""
    value = find_tlv(tlvs, tag)
    return None if value is None else int.from_bytes(value, "big")


def tlv_str(tlvs: Tlvs, tag: int) -> str | None:
    """§5.3.2: the first ``tag`` read as a C-Octet String (up to its NUL; a missing NUL, which
    some peers omit, is tolerated)."""
    value = find_tlv(tlvs, tag)
    if value is None:
        return None
    nul = value.find(b"\0")
    return (value if nul < 0 else value[:nul]).decode("latin-1")


def make_tlv(tag: int, value: int | str | bytes) -> Tlv:
    """One TLV with its value encoded by the tag's §5.3.2 type: an int big-endian in the
    tag's size, a str as a C-Octet String (Latin-1 and its NUL), bytes as they are. An
    unknown tag takes bytes only."""
    fmt = TLV_FORMATS.get(tag)
    if isinstance(value, bytes):
        octets = value
    elif fmt is None:
        raise SmppEncodeError(f"TLV 0x{tag:04X} is not a §5.3.2 tag: give its value as bytes")
    elif isinstance(value, int) and fmt.kind is TlvKind.INTEGER:
        if not 0 <= value < 1 << (8 * fmt.max_length):
            raise SmppEncodeError(f"{value} does not fit {Tag(tag).name.lower()}")
        octets = value.to_bytes(fmt.max_length, "big")
    elif isinstance(value, str) and fmt.kind is TlvKind.C_OCTET_STRING:
        octets = c_octet_string(value, fmt.max_length + 1, Tag(tag).name.lower())
    else:
        raise SmppEncodeError(f"{Tag(tag).name.lower()} is {fmt.kind.value}, not {value!r}")
    if fmt is not None and not fmt.min_length <= len(octets) <= fmt.max_length:
        raise SmppEncodeError(
            f"{Tag(tag).name.lower()} of {len(octets)} octets, needs "
            f"{fmt.min_length}..{fmt.max_length}"
        )
    return tag, octets


def c_octet_string(text: str, limit: int, field: str) -> bytes:
    """SMPP 3.4 §3.1 C-Octet String: ``text`` (Latin-1) and its NUL, at most ``limit`` octets."""
    try:
        octets = text.encode("latin-1")
    except UnicodeEncodeError:
        raise SmppEncodeError(f"{field} {text!r} is not Latin-1") from None
    if len(octets) >= limit:
        raise SmppEncodeError(f"{field} {text!r} is longer than {limit - 1} octets")
    if b"\0" in octets:
        raise SmppEncodeError(f"{field} {text!r} holds a NUL")
    return octets + b"\0"
