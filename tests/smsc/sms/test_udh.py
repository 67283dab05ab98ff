"""TS 23.040 §9.2.3.24 user data header."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.sms.constants import NationalLanguage, UdhIei
from smsc.sms.errors import EncodeError, TpduDecodeError
from smsc.sms.udh import (
    ApplicationPorts,
    Concatenation,
    InformationElement,
    UserDataHeader,
    concatenation_ie,
    decode_udh,
    encode_udh,
    locking_shift_ie,
    ports_ie,
    single_shift_ie,
)

elements_st = st.lists(
    st.builds(
        InformationElement,
        iei=st.integers(0, 255),
        data=st.binary(max_size=12),
    ),
    max_size=10,
)


def udh(hex_with_udhl: str) -> UserDataHeader:
    """Decode a UDH given with its UDHL octet."""
    raw = bytes.fromhex(hex_with_udhl.replace(" ", ""))
    assert raw[0] == len(raw) - 1
    return decode_udh(raw[1:])


@given(elements_st)
def test_round_trip_any_elements(elements: list[InformationElement]) -> None:
    header = UserDataHeader(tuple(elements))
    wire = encode_udh(header)
    assert decode_udh(wire) == header
    assert encode_udh(decode_udh(wire)) == wire


@given(st.binary(max_size=64))
def test_arbitrary_bytes_only_tpdu_decode_error(data: bytes) -> None:
    try:
        header = decode_udh(data)
    except TpduDecodeError:
        return
    assert encode_udh(header) == data
    _ = (header.concatenation, header.ports, header.single_shift, header.locking_shift)


def test_concat_8bit_vector() -> None:
    header = udh("050003070101")
    assert header.elements == (InformationElement(0x00, b"\x07\x01\x01"),)
    assert header.concatenation == Concatenation(7, 1, 1, 8)
    assert header.ports is None
    assert header.single_shift is None
    assert header.locking_shift is None


def test_ports_16bit_vector() -> None:
    header = udh("06 05 04 3e81 3e82")
    assert header.ports == ApplicationPorts(16001, 16002, 16)
    assert header.concatenation is None
    assert ports_ie(16001, 16002) == header.elements[0]


def test_ports_8bit() -> None:
    header = decode_udh(bytes.fromhex("0402f0f1"))
    assert header.ports == ApplicationPorts(0xF0, 0xF1, 8)
    assert ports_ie(0xF0, 0xF1, 8) == header.elements[0]


def test_concat_16bit_vector() -> None:
    header = udh("06 08 04 1234 03 02")
    assert header.concatenation == Concatenation(0x1234, 3, 2, 16)
    assert concatenation_ie(0x1234, 3, 2, 16) == header.elements[0]


def test_national_language_vectors() -> None:
    header = udh("06 2401 01 2501 01")
    assert header.single_shift is NationalLanguage.TURKISH
    assert header.locking_shift is NationalLanguage.TURKISH
    assert header.elements == (
        single_shift_ie(NationalLanguage.TURKISH),
        locking_shift_ie(NationalLanguage.TURKISH),
    )


def test_unknown_language_id_is_int() -> None:
    header = udh("03 2401 63")
    assert header.single_shift == 0x63
    assert not isinstance(header.single_shift, NationalLanguage)


@pytest.mark.parametrize(
    "hex_with_udhl",
    [
        "05 0003 070100",  # sequence 0
        "05 0003 070000",  # total 0
        "05 0003 070203",  # sequence > total
        "04 0002 0701",  # wrong IEDL
        "06 0004 07010100",  # wrong IEDL
        "05 0803 123401",  # 16-bit with 3 octets
    ],
)
def test_invalid_concat_ignored(hex_with_udhl: str) -> None:
    header = udh(hex_with_udhl)
    assert header.concatenation is None
    assert encode_udh(header) == bytes.fromhex(hex_with_udhl.replace(" ", ""))[1:]


def test_malformed_known_ies_kept_raw() -> None:
    header = udh("0b 0403 010203 2400 2502 0102")
    assert header.ports is None
    assert header.single_shift is None
    assert header.locking_shift is None
    assert len(header.elements) == 3


def test_last_valid_occurrence_wins() -> None:
    header = udh("10 0003 010101 0804 00020202 0003 030300")
    assert header.concatenation == Concatenation(2, 2, 2, 16)
    header = udh("0a 0402 0102 0504 00030004")
    assert header.ports == ApplicationPorts(3, 4, 16)


def test_duplicates_and_order_kept() -> None:
    raw = bytes.fromhex("7000 0003 010203 7000 0003 010203")
    header = decode_udh(raw)
    assert [ie.iei for ie in header.elements] == [0x70, 0x00, 0x70, 0x00]
    assert encode_udh(header) == raw


def test_empty_header() -> None:
    assert decode_udh(b"") == UserDataHeader(())
    assert encode_udh(UserDataHeader(())) == b""


@pytest.mark.parametrize("raw", ["00", "0003 0101", "0801", "0000 05"])
def test_truncated_raises(raw: str) -> None:
    with pytest.raises(TpduDecodeError):
        decode_udh(bytes.fromhex(raw.replace(" ", "")))


@pytest.mark.parametrize(
    ("reference", "total", "sequence", "bits"),
    [
        (256, 1, 1, 8),
        (-1, 1, 1, 8),
        (65536, 1, 1, 16),
        (1, 0, 1, 8),
        (1, 2, 3, 8),
        (1, 2, 0, 8),
        (1, 256, 1, 8),
        (1, 1, 1, 12),
    ],
)
def test_concatenation_ie_validates(reference: int, total: int, sequence: int, bits: int) -> None:
    with pytest.raises(EncodeError):
        concatenation_ie(reference, total, sequence, bits)


def test_builders_bytes() -> None:
    assert concatenation_ie(7, 1, 1) == InformationElement(
        UdhIei.CONCATENATED_8BIT_REFERENCE, b"\x07\x01\x01"
    )
    assert ports_ie(2948, 9200).data == bytes.fromhex("0b8423f0")
    assert single_shift_ie(NationalLanguage.SPANISH).data == b"\x02"
    with pytest.raises(EncodeError):
        ports_ie(256, 0, 8)
    with pytest.raises(EncodeError):
        ports_ie(0, 0, 7)
    with pytest.raises(EncodeError):
        single_shift_ie(256)


def test_encode_validates_elements() -> None:
    with pytest.raises(EncodeError):
        encode_udh(UserDataHeader((InformationElement(256, b""),)))
    with pytest.raises(EncodeError):
        encode_udh(UserDataHeader((InformationElement(1, bytes(256)),)))
