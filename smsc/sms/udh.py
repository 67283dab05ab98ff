"""TS 23.040 §9.2.3.24 user data header: information elements, kept byte-exact."""

from __future__ import annotations

from dataclasses import dataclass

from smsc.sms.constants import NationalLanguage, UdhIei
from smsc.sms.errors import EncodeError, TpduDecodeError
from smsc.sms.records import positional_constructor

__all__ = [
    "ApplicationPorts",
    "Concatenation",
    "InformationElement",
    "UserDataHeader",
    "concatenation_ie",
    "decode_udh",
    "encode_udh",
    "locking_shift_ie",
    "ports_ie",
    "single_shift_ie",
]

_CONCAT_8 = UdhIei.CONCATENATED_8BIT_REFERENCE.value
_CONCAT_16 = UdhIei.CONCATENATED_16BIT_REFERENCE.value
_PORTS_8 = UdhIei.APPLICATION_PORT_8BIT.value
_PORTS_16 = UdhIei.APPLICATION_PORT_16BIT.value
_SINGLE = UdhIei.NATIONAL_LANGUAGE_SINGLE_SHIFT.value
_LOCKING = UdhIei.NATIONAL_LANGUAGE_LOCKING_SHIFT.value
_CONCAT_IEIS = frozenset((_CONCAT_8, _CONCAT_16))
_LANGUAGES = frozenset(lang.value for lang in NationalLanguage)


@dataclass(frozen=True, slots=True)
class InformationElement:
    """TS 23.040 §9.2.3.24 (IEI, IEDL, IED); unknown IEs are kept as they came."""

    iei: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Concatenation:
    """TS 23.040 §9.2.3.24.1 / §9.2.3.24.8 concatenated short message."""

    reference: int
    total: int
    sequence: int
    reference_bits: int


@dataclass(frozen=True, slots=True)
class ApplicationPorts:
    """TS 23.040 §9.2.3.24.3 / §9.2.3.24.4 application port addressing."""

    destination: int
    source: int
    port_bits: int


@dataclass(frozen=True, slots=True)
class UserDataHeader:
    """TS 23.040 §9.2.3.24; properties return the last well-formed occurrence, else None."""

    elements: tuple[InformationElement, ...]

    @property
    def concatenation(self) -> Concatenation | None:
        """TS 23.040 §9.2.3.24.1 / §9.2.3.24.8; invalid IEs are ignored."""
        for ie in reversed(self.elements):
            if ie.iei in _CONCAT_IEIS:
                concat = _parse_concatenation(ie)
                if concat is not None:
                    return concat
        return None

    @property
    def ports(self) -> ApplicationPorts | None:
        """TS 23.040 §9.2.3.24.3 / §9.2.3.24.4; the last occurring IE is used."""
        for ie in reversed(self.elements):
            if ie.iei == _PORTS_8 and len(ie.data) == 2:
                return ApplicationPorts(ie.data[0], ie.data[1], 8)
            if ie.iei == _PORTS_16 and len(ie.data) == 4:
                data = ie.data
                return ApplicationPorts((data[0] << 8) | data[1], (data[2] << 8) | data[3], 16)
        return None

    @property
    def single_shift(self) -> NationalLanguage | int | None:
        """TS 23.040 §9.2.3.24.15; an unknown language id is returned as int."""
        return _language(self.elements, _SINGLE)

    @property
    def locking_shift(self) -> NationalLanguage | int | None:
        """TS 23.040 §9.2.3.24.16; an unknown language id is returned as int."""
        return _language(self.elements, _LOCKING)


_new_element = positional_constructor(InformationElement)
_new_header = positional_constructor(UserDataHeader)


def _parse_concatenation(ie: InformationElement) -> Concatenation | None:
    """TS 23.040 §9.2.3.24.1: total 0, sequence 0 or sequence > total -> IE ignored."""
    data = ie.data
    if ie.iei == _CONCAT_8:
        if len(data) != 3:
            return None
        reference, total, sequence, bits = data[0], data[1], data[2], 8
    else:
        if len(data) != 4:
            return None
        reference, total, sequence, bits = (data[0] << 8) | data[1], data[2], data[3], 16
    if total == 0 or sequence == 0 or sequence > total:
        return None
    return Concatenation(reference, total, sequence, bits)


def _language(elements: tuple[InformationElement, ...], iei: int) -> NationalLanguage | int | None:
    """TS 23.040 §9.2.3.24.15 / §9.2.3.24.16 one-octet language identifier."""
    for ie in reversed(elements):
        if ie.iei == iei and len(ie.data) == 1:
            value = ie.data[0]
            return NationalLanguage(value) if value in _LANGUAGES else value
    return None


def decode_udh(data: bytes) -> UserDataHeader:
    """TS 23.040 §9.2.3.24; `data` holds the IEs only (the octets after UDHL)."""
    elements: list[InformationElement] = []
    append = elements.append
    end = len(data)
    pos = 0
    while pos < end:
        if pos + 2 > end:
            raise TpduDecodeError(f"UDH: IE at offset {pos} lacks its length octet")
        iedl = data[pos + 1]
        start = pos + 2
        stop = start + iedl
        if stop > end:
            raise TpduDecodeError(f"UDH: IE {data[pos]:#04x} length {iedl} runs past the header")
        append(_new_element(data[pos], data[start:stop]))
        pos = stop
    return _new_header(tuple(elements))


def encode_udh(header: UserDataHeader) -> bytes:
    """TS 23.040 §9.2.3.24; returns the IEs only (the caller writes UDHL)."""
    out = bytearray()
    for ie in header.elements:
        if not 0 <= ie.iei <= 0xFF:
            raise EncodeError(f"UDH: IEI {ie.iei} out of range 0..255")
        if len(ie.data) > 0xFF:
            raise EncodeError(f"UDH: IE {ie.iei:#04x} data longer than 255 octets")
        out.append(ie.iei)
        out.append(len(ie.data))
        out += ie.data
    return bytes(out)


def _check(name: str, value: int, low: int, high: int) -> None:
    """Range check raising EncodeError."""
    if not low <= value <= high:
        raise EncodeError(f"{name} {value} out of range {low}..{high}")


def concatenation_ie(
    reference: int, total: int, sequence: int, reference_bits: int = 8
) -> InformationElement:
    """TS 23.040 §9.2.3.24.1 (8-bit reference) / §9.2.3.24.8 (16-bit reference)."""
    if reference_bits not in (8, 16):
        raise EncodeError(f"concatenation reference_bits must be 8 or 16, not {reference_bits}")
    _check("concatenation reference", reference, 0, (1 << reference_bits) - 1)
    _check("concatenation total", total, 1, 255)
    _check("concatenation sequence", sequence, 1, total)
    if reference_bits == 8:
        return InformationElement(_CONCAT_8, bytes((reference, total, sequence)))
    return InformationElement(
        _CONCAT_16, bytes((reference >> 8, reference & 0xFF, total, sequence))
    )


def ports_ie(destination: int, source: int, port_bits: int = 16) -> InformationElement:
    """TS 23.040 §9.2.3.24.3 (8-bit ports) / §9.2.3.24.4 (16-bit ports)."""
    if port_bits not in (8, 16):
        raise EncodeError(f"port_bits must be 8 or 16, not {port_bits}")
    high = (1 << port_bits) - 1
    _check("destination port", destination, 0, high)
    _check("source port", source, 0, high)
    if port_bits == 8:
        return InformationElement(_PORTS_8, bytes((destination, source)))
    return InformationElement(_PORTS_16, destination.to_bytes(2, "big") + source.to_bytes(2, "big"))


def single_shift_ie(lang: NationalLanguage | int) -> InformationElement:
    """TS 23.040 §9.2.3.24.15 national language single shift."""
    _check("national language", int(lang), 0, 255)
    return InformationElement(_SINGLE, bytes((int(lang),)))


def locking_shift_ie(lang: NationalLanguage | int) -> InformationElement:
    """TS 23.040 §9.2.3.24.16 national language locking shift."""
    _check("national language", int(lang), 0, 255)
    return InformationElement(_LOCKING, bytes((int(lang),)))
