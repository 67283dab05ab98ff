"""TS 24.011 §7.3 RP messages: the body of application/vnd.3gpp.sms (TS 24.341 §7.3)."""

from __future__ import annotations

from dataclasses import dataclass

from smsc.sms.address import Address, decode_rp_address, encode_rp_address
from smsc.sms.constants import RpCause, RpIei, RpMessageType
from smsc.sms.errors import CpDataHeaderError, DecodeError, EncodeError
from smsc.sms.records import positional_constructor

MAX_RP_USER_DATA = 232
"""TS 24.011 §8.2.5.3: RP-User-Data is 2..233 octets with its length octet."""

_MTI: dict[int, RpMessageType] = {m.value: m for m in RpMessageType}
_CP_MESSAGE_TYPES = frozenset((0x01, 0x04, 0x10))  # CP-DATA, CP-ACK, CP-ERROR (TS 24.011 §8.1.3)


@dataclass(frozen=True, slots=True)
class RpData:
    """TS 24.011 §7.3.1.1 (MS->N) and §7.3.1.2 (N->MS)."""

    message_type: RpMessageType
    message_reference: int
    originator: Address | None
    destination: Address | None
    user_data: bytes


@dataclass(frozen=True, slots=True)
class RpAck:
    """TS 24.011 §7.3.3."""

    message_type: RpMessageType
    message_reference: int
    user_data: bytes | None = None


@dataclass(frozen=True, slots=True)
class RpError:
    """TS 24.011 §7.3.4."""

    message_type: RpMessageType
    message_reference: int
    cause: int
    diagnostic: int | None = None
    user_data: bytes | None = None


@dataclass(frozen=True, slots=True)
class RpSmma:
    """TS 24.011 §7.3.2."""

    message_reference: int

    @property
    def message_type(self) -> RpMessageType:
        return RpMessageType.RP_SMMA_MS_TO_N


RpMessage = RpData | RpAck | RpError | RpSmma
_new_rp_data = positional_constructor(RpData)


def _message_type(first: int, second: int | None) -> RpMessageType:
    """TS 24.011 §8.2.2: octet 1 is the MTI in bits 3..1, bits 8..4 spare (0)."""
    if (first & 0x0F) == 0x09 and second in _CP_MESSAGE_TYPES:
        raise CpDataHeaderError()
    mti = _MTI.get(first)
    if mti is None:
        reason = "reserved" if first == 7 else "unknown (spare bits set)"
        raise DecodeError(
            f"RP message type 0x{first:02x} is {reason}", RpCause.MESSAGE_TYPE_NON_EXISTENT
        )
    return mti


def _optional_user_data(body: bytes, offset: int) -> bytes | None:
    """TS 24.011 §8.2.5.3: optional RP-User-Data TLV (IEI 0x41) ending the message."""
    if offset == len(body):
        return None
    iei = body[offset]
    if iei != RpIei.RP_USER_DATA:
        raise DecodeError(
            f"unexpected information element 0x{iei:02x}", RpCause.INFORMATION_ELEMENT_NON_EXISTENT
        )
    return _user_data(body, offset + 1)


def _user_data(body: bytes, offset: int) -> bytes:
    """TS 24.011 §8.2.5.3: LV RP-User-Data that must end the message."""
    if offset >= len(body):
        raise DecodeError("RP-User-Data missing", RpCause.INVALID_MANDATORY_INFORMATION)
    length = body[offset]
    end = offset + 1 + length
    if length == 0 or length > MAX_RP_USER_DATA:
        raise DecodeError(
            f"RP-User-Data length {length} is outside 1..{MAX_RP_USER_DATA}",
            RpCause.INVALID_MANDATORY_INFORMATION,
        )
    if end > len(body):
        raise DecodeError(
            f"RP-User-Data length {length} but {len(body) - offset - 1} octets follow",
            RpCause.INVALID_MANDATORY_INFORMATION,
        )
    if end != len(body):
        raise DecodeError(
            f"{len(body) - end} octets after RP-User-Data", RpCause.SEMANTICALLY_INCORRECT_MESSAGE
        )
    return body[offset + 1 : end]


def _decode_error(mti: RpMessageType, mr: int, body: bytes) -> RpError:
    """TS 24.011 §8.2.5.4: RP-Cause LV of 1 or 2 octets (cause, optional diagnostic)."""
    if len(body) < 3:
        raise DecodeError("RP-ERROR without RP-Cause", RpCause.INVALID_MANDATORY_INFORMATION)
    length = body[2]
    if not 1 <= length <= 2 or 3 + length > len(body):
        raise DecodeError(
            f"RP-Cause length {length} is invalid", RpCause.INVALID_MANDATORY_INFORMATION
        )
    cause = body[3]
    if cause & 0x80:
        raise DecodeError("RP-Cause extension bit set", RpCause.INVALID_MANDATORY_INFORMATION)
    diagnostic = body[4] if length == 2 else None
    return RpError(mti, mr, cause, diagnostic, _optional_user_data(body, 3 + length))


def decode_rp(body: bytes) -> RpMessage:
    """TS 24.011 §7.3: an application/vnd.3gpp.sms body; raises DecodeError with the RP-Cause."""
    if len(body) < 2:
        if body:
            _message_type(body[0], None)
        raise DecodeError("RP message shorter than 2 octets", RpCause.INVALID_MANDATORY_INFORMATION)
    mti = _message_type(body[0], body[1])
    mr = body[1]
    if mti <= RpMessageType.RP_DATA_N_TO_MS:
        originator, i = decode_rp_address(body, 2)
        destination, i = decode_rp_address(body, i)
        return _new_rp_data(mti, mr, originator, destination, _user_data(body, i))
    if mti in (RpMessageType.RP_ACK_MS_TO_N, RpMessageType.RP_ACK_N_TO_MS):
        return RpAck(mti, mr, _optional_user_data(body, 2))
    if mti == RpMessageType.RP_SMMA_MS_TO_N:
        if len(body) != 2:
            raise DecodeError(
                f"{len(body) - 2} octets after RP-SMMA", RpCause.SEMANTICALLY_INCORRECT_MESSAGE
            )
        return RpSmma(mr)
    return _decode_error(mti, mr, body)


def _lv(user_data: bytes) -> bytes:
    if not 1 <= len(user_data) <= MAX_RP_USER_DATA:
        raise EncodeError(f"RP-User-Data of {len(user_data)} octets is outside 1..232")
    return bytes((len(user_data),)) + user_data


def _check_mr(mr: int) -> None:
    if not 0 <= mr <= 255:
        raise EncodeError(f"RP-MR {mr} is not an octet")


def encode_rp(message: RpMessage) -> bytes:
    """TS 24.011 §7.3: the octets of an RP message."""
    _check_mr(message.message_reference)
    head = bytes((message.message_type, message.message_reference))
    if isinstance(message, RpSmma):
        return head
    if isinstance(message, RpData):
        if message.message_type not in (
            RpMessageType.RP_DATA_MS_TO_N,
            RpMessageType.RP_DATA_N_TO_MS,
        ):
            raise EncodeError(f"RpData cannot carry {message.message_type.name}")
        return (
            head
            + encode_rp_address(message.originator)
            + encode_rp_address(message.destination)
            + _lv(message.user_data)
        )
    tail = (
        b"" if message.user_data is None else bytes((RpIei.RP_USER_DATA,)) + _lv(message.user_data)
    )
    if isinstance(message, RpAck):
        if message.message_type not in (RpMessageType.RP_ACK_MS_TO_N, RpMessageType.RP_ACK_N_TO_MS):
            raise EncodeError(f"RpAck cannot carry {message.message_type.name}")
        return head + tail
    if message.message_type not in (
        RpMessageType.RP_ERROR_MS_TO_N,
        RpMessageType.RP_ERROR_N_TO_MS,
    ):
        raise EncodeError(f"RpError cannot carry {message.message_type.name}")
    if not 0 <= message.cause <= 127:
        raise EncodeError(f"RP-Cause {message.cause} is outside 0..127")
    if message.diagnostic is None:
        cause = bytes((1, message.cause))
    else:
        if not 0 <= message.diagnostic <= 255:
            raise EncodeError(f"RP diagnostic {message.diagnostic} is not an octet")
        cause = bytes((2, message.cause, message.diagnostic))
    return head + cause + tail
