"""Addresses: RP-OA/RP-DA (TS 24.011 §8.2.5.1-2) and TP-OA/DA/RA (TS 23.040 §9.1.2.5)."""

from __future__ import annotations

from dataclasses import dataclass, field

from smsc.sms import alphabet
from smsc.sms.bcd import decode_bcd, encode_bcd, is_bcd_digits
from smsc.sms.constants import NumberingPlan, RpCause, TypeOfNumber
from smsc.sms.errors import DecodeError, EncodeError, TpduDecodeError, UnencodableTextError
from smsc.sms.records import positional_constructor

MAX_TP_SEMI_OCTETS = 20
"""TS 23.040 §9.1.2.5: the address value is at most 10 octets."""
MAX_RP_ADDRESS_LENGTH = 11
"""TS 24.011 §8.2.5.1: type-of-address plus at most 10 octets of digits."""
MAX_ALPHANUMERIC_SEPTETS = 11
"""TS 23.040 §9.1.2.5: 11 septets fit in 10 octets."""

_NPI: tuple[NumberingPlan | int, ...] = tuple(
    NumberingPlan(v) if v in NumberingPlan._value2member_map_ else v for v in range(16)
)
_TON: tuple[TypeOfNumber, ...] = tuple(TypeOfNumber(v) for v in range(8))
_ALPHANUMERIC = TypeOfNumber.ALPHANUMERIC


@dataclass(frozen=True, slots=True)
class Address:
    """TS 23.040 §9.1.2.5: `value` is the digits, or the text for TON 5 (alphanumeric)."""

    value: str
    ton: TypeOfNumber = TypeOfNumber.INTERNATIONAL
    npi: NumberingPlan | int = NumberingPlan.ISDN_TELEPHONE
    wire_length: int | None = field(default=None, compare=False, repr=False)
    """TP address length octet as received, kept so a re-encode is byte-exact (TON 5 only)."""

    @property
    def is_alphanumeric(self) -> bool:
        """TS 23.040 §9.1.2.5: TON 5 carries GSM 7-bit text."""
        return self.ton == TypeOfNumber.ALPHANUMERIC

    @property
    def type_of_address(self) -> int:
        """TS 23.040 §9.1.2.5: extension bit, TON and NPI in one octet."""
        return 0x80 | self.ton << 4 | self.npi

    @classmethod
    def international(cls, digits: str) -> Address:
        """An E.164 number, with or without a leading '+'."""
        return cls(digits.removeprefix("+"))

    @classmethod
    def alphanumeric(cls, text: str) -> Address:
        """A TON 5 sender name such as 'MyBank'."""
        return cls(text, TypeOfNumber.ALPHANUMERIC, NumberingPlan.UNKNOWN)

    def __str__(self) -> str:
        if self.ton == TypeOfNumber.INTERNATIONAL:
            return "+" + self.value
        return self.value


_new_address = positional_constructor(Address)


def _split_toa(toa: int) -> tuple[TypeOfNumber, NumberingPlan | int]:
    return _TON[(toa >> 4) & 0x7], _NPI[toa & 0xF]


def decode_tp_address(data: bytes, offset: int) -> tuple[Address, int]:
    """TS 23.040 §9.1.2.5: the address at `offset`; returns it and the offset after it."""
    start = offset + 2
    if len(data) < start:
        raise TpduDecodeError("address truncated")
    semi_octets = data[offset]
    if semi_octets > MAX_TP_SEMI_OCTETS:
        raise TpduDecodeError(
            f"address length {semi_octets} exceeds {MAX_TP_SEMI_OCTETS} semi-octets",
            rp_cause=RpCause.INVALID_MANDATORY_INFORMATION,
        )
    end = start + ((semi_octets + 1) >> 1)
    if end > len(data):
        raise TpduDecodeError("address truncated")
    toa = data[offset + 1]
    ton = _TON[(toa >> 4) & 0x7]
    if ton is _ALPHANUMERIC:
        return _decode_alphanumeric(data[start:end], semi_octets, _NPI[toa & 0xF]), end
    return _new_address(decode_bcd(data[start:end], semi_octets), ton, _NPI[toa & 0xF], None), end


def _decode_alphanumeric(raw: bytes, semi_octets: int, npi: NumberingPlan | int) -> Address:
    count = semi_octets * 4 // 7
    septets = alphabet.unpack_septets(raw, count)
    # Encoders that write the octet count doubled (14 for 7 characters) leave a zero septet
    # of padding at the end; a trailing '@' explained by that convention is not a character.
    if count and septets[-1] == 0 and semi_octets == 2 * -(-7 * (count - 1) // 8):
        septets = septets[:-1]
    text = alphabet.decode_gsm7(septets)
    wire = semi_octets if semi_octets != _alphanumeric_length(len(septets)) else None
    return _new_address(text, _ALPHANUMERIC, npi, wire)


def _alphanumeric_length(septets: int) -> int:
    return -(-7 * septets // 4)


def encode_tp_address(address: Address) -> bytes:
    """TS 23.040 §9.1.2.5: length in useful semi-octets, type of address, value."""
    if address.is_alphanumeric:
        try:
            septets = alphabet.encode_gsm7(address.value)
        except UnencodableTextError as exc:
            raise EncodeError(f"alphanumeric address: {exc}") from None
        if len(septets) > MAX_ALPHANUMERIC_SEPTETS:
            raise EncodeError(
                f"alphanumeric address {address.value!r} needs {len(septets)} septets, "
                f"at most {MAX_ALPHANUMERIC_SEPTETS} fit"
            )
        value = alphabet.pack_septets(septets)
        length = _alphanumeric_length(len(septets))
        if address.wire_length is not None and (address.wire_length + 1) // 2 == len(value):
            length = address.wire_length
        return bytes((length, address.type_of_address)) + value
    _check_digits(address.value, MAX_TP_SEMI_OCTETS)
    return bytes((len(address.value), address.type_of_address)) + encode_bcd(address.value)


def _check_digits(digits: str, maximum: int) -> None:
    if len(digits) > maximum:
        raise EncodeError(f"address {digits!r} has more than {maximum} digits")
    if not is_bcd_digits(digits):
        raise EncodeError(f"address {digits!r} holds a character other than 0-9 * # a b c")


def decode_rp_address(data: bytes, offset: int) -> tuple[Address | None, int]:
    """TS 24.011 §8.2.5.1: LV address at `offset` (None when its length is 0)."""
    try:
        length = data[offset]
    except IndexError:
        raise DecodeError("RP address missing") from None
    end = offset + 1 + length
    if length == 0:
        return None, end
    if length > MAX_RP_ADDRESS_LENGTH:
        raise DecodeError(
            f"RP address length {length} exceeds {MAX_RP_ADDRESS_LENGTH} octets",
            RpCause.INVALID_MANDATORY_INFORMATION,
        )
    if end > len(data):
        raise DecodeError("RP address truncated", RpCause.INVALID_MANDATORY_INFORMATION)
    ton, npi = _split_toa(data[offset + 1])
    return _new_address(decode_bcd(data[offset + 2 : end]), ton, npi, None), end


def encode_rp_address(address: Address | None) -> bytes:
    """TS 24.011 §8.2.5.1: LV address; None encodes as length 0."""
    if address is None:
        return b"\x00"
    # RP addresses are always semi-octet digits (TS 24.008 §10.5.4.7), whatever the TON says.
    _check_digits(address.value, 2 * (MAX_RP_ADDRESS_LENGTH - 1))
    value = encode_bcd(address.value)
    return bytes((len(value) + 1, address.type_of_address)) + value
