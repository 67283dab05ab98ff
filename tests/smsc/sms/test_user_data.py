"""TS 23.040 §9.2.3.16 / §9.2.3.24 TP-UDL and TP-UD."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.sms.alphabet import decode_gsm7, gsm7_septet_count
from smsc.sms.constants import Alphabet, NationalLanguage
from smsc.sms.errors import EncodeError, TpduDecodeError
from smsc.sms.udh import (
    ApplicationPorts,
    Concatenation,
    InformationElement,
    UserDataHeader,
    concatenation_ie,
    encode_udh,
    single_shift_ie,
)
from smsc.sms.user_data import (
    UserData,
    decode_user_data,
    encode_user_data,
    gsm7_header_septets,
    make_user_data,
)

G7 = Alphabet.GSM7
UCS2 = Alphabet.UCS2
OCTET = Alphabet.EIGHT_BIT


def round_trip(udl: int, ud_hex: str, alphabet: Alphabet, udhi: bool) -> UserData:
    """Decode, then check encoding gives back the same wire octets."""
    ud = bytes.fromhex(ud_hex.replace(" ", ""))
    user_data = decode_user_data(udl, ud, alphabet, udhi)
    assert encode_user_data(user_data, alphabet) == (udl, ud)
    return user_data


def test_gsm7_concat_vector_fill_bit() -> None:
    user_data = round_trip(20, "050003070101 dc69771130380402eeb43b0d", G7, True)
    assert user_data.header is not None
    assert user_data.header.concatenation == Concatenation(7, 1, 1, 8)
    assert user_data.body == bytes(
        [0x6E, 0x69, 0x6E, 0x45, 0x00, 0x03, 0x07, 0x01, 0x01, 0x6E, 0x69, 0x6E, 0x69]
    )
    assert user_data.text == "ninE@¥ì££nini"


@pytest.mark.parametrize(
    ("udl", "ud", "text"), [(4, "d4f29c0e", "Test"), (5, "d4f29c2e03", "Test2")]
)
def test_gsm7_plain(udl: int, ud: str, text: str) -> None:
    user_data = round_trip(udl, ud, G7, False)
    assert user_data == UserData(None, text.encode(), text)


def test_ucs2_vector() -> None:
    user_data = round_trip(6, "304253f68449", UCS2, False)
    assert user_data == UserData(None, bytes.fromhex("304253f68449"), "あ叶葉")


def test_ucs2_concat_megafon() -> None:
    text = "SMS code: 4856, confirmation of association between account and Meg"
    ud = "050003560201" + text.encode("utf-16-be").hex()
    user_data = round_trip(140, ud, UCS2, True)
    assert user_data.header is not None
    assert user_data.header.concatenation == Concatenation(0x56, 2, 1, 8)
    assert user_data.text == text


def test_8bit_ports_vector() -> None:
    user_data = round_trip(10, "0605043e813e82 010203", OCTET, True)
    assert user_data.header is not None
    assert user_data.header.ports == ApplicationPorts(16001, 16002, 16)
    assert user_data.body == b"\x01\x02\x03"
    assert user_data.text is None


def test_reserved_alphabet_is_8bit() -> None:
    assert decode_user_data(2, b"\x41\x42", Alphabet.RESERVED, False) == UserData(None, b"AB", None)


def test_gsm7_header_only_pads_fill_octet() -> None:
    header = UserDataHeader((concatenation_ie(7, 1, 1),))
    udl, ud = encode_user_data(UserData(header, b"", ""), G7)
    assert (udl, ud) == (7, bytes.fromhex("05000307010100"))
    assert decode_user_data(udl, ud, G7, True) == UserData(header, b"", "")


@pytest.mark.parametrize(
    ("udhl", "septets", "fill"), [(5, 7, 1), (2, 4, 4), (3, 5, 3), (6, 8, 0), (0, 2, 6)]
)
def test_header_septets_and_fill(udhl: int, septets: int, fill: int) -> None:
    assert gsm7_header_septets(udhl) == septets
    assert septets * 7 - (udhl + 1) * 8 == fill


def test_empty() -> None:
    assert decode_user_data(0, b"", G7, False) == UserData(None, b"", "")
    assert decode_user_data(0, b"", UCS2, False) == UserData(None, b"", "")
    assert decode_user_data(1, b"\x00", UCS2, True) == UserData(UserDataHeader(()), b"", "")


@pytest.mark.parametrize(
    ("udl", "ud", "alphabet", "udhi"),
    [
        (8, "304253f68449", UCS2, False),  # UCS2 TP-UDL larger than the data
        (4, "304253f68449", UCS2, False),  # fewer octets than the data
        (3, "304253", UCS2, False),  # odd UCS2 body
        (5, "d4f29c0e", G7, False),  # GSM7 UDL overflow
        (4, "d4f29c0e00", G7, False),  # trailing octet
        (161, "00" * 141, G7, False),  # over 160 septets
        (141, "00" * 141, OCTET, False),  # over 140 octets
        (5, "0500030701", G7, True),  # UDHL past TP-UDL (septets)
        (3, "050003", OCTET, True),  # UDHL past TP-UDL (octets)
        (0, "", G7, True),  # UDHI without UDHL
        (0, "", OCTET, True),
        (7, "04000307010100", G7, True),  # IE runs past the UDH
    ],
)
def test_malformed(udl: int, ud: str, alphabet: Alphabet, udhi: bool) -> None:
    with pytest.raises(TpduDecodeError):
        decode_user_data(udl, bytes.fromhex(ud), alphabet, udhi)


def test_unknown_language_decodes_with_default_table() -> None:
    header = UserDataHeader((InformationElement(0x25, b"\x63"),))
    user_data = UserData(header, b"Test", None)
    udl, ud = encode_user_data(user_data, G7)
    assert decode_user_data(udl, ud, G7, True).text == "Test"


@pytest.mark.parametrize("lang", [NationalLanguage.TURKISH, NationalLanguage.PORTUGUESE])
def test_national_shift_text(lang: NationalLanguage) -> None:
    text = "Ağaç şişe İstanbul" if lang is NationalLanguage.TURKISH else "Ação çõ"
    user_data = make_user_data(text, G7, locking=lang, single=lang)
    assert user_data.header is not None
    assert user_data.header.locking_shift is lang
    assert user_data.header.single_shift is lang
    assert decode_user_data(*encode_user_data(user_data, G7), G7, True) == user_data


def test_make_user_data_keeps_existing_language_ie() -> None:
    header = UserDataHeader((single_shift_ie(NationalLanguage.SPANISH),))
    user_data = make_user_data("á", G7, header, single=NationalLanguage.SPANISH)
    assert user_data.header == header
    assert make_user_data("a", G7).header is None


def test_make_user_data_8bit_refused() -> None:
    with pytest.raises(EncodeError):
        make_user_data("x", OCTET)


def test_encode_errors() -> None:
    with pytest.raises(EncodeError):
        encode_user_data(UserData(None, bytes(161), None), G7)
    with pytest.raises(EncodeError):
        encode_user_data(UserData(None, b"\x80", None), G7)
    with pytest.raises(EncodeError):
        encode_user_data(UserData(UserDataHeader(()), bytes(160), None), G7)
    with pytest.raises(EncodeError):
        encode_user_data(UserData(None, b"abc", None), UCS2)
    with pytest.raises(EncodeError):
        encode_user_data(UserData(None, bytes(141), None), OCTET)
    big = UserDataHeader((InformationElement(0x70, bytes(140)),))
    with pytest.raises(EncodeError):
        encode_user_data(UserData(big, b"", None), OCTET)


elements_st = st.lists(
    st.builds(InformationElement, iei=st.integers(0, 255), data=st.binary(max_size=8)),
    max_size=5,
)
headers_st = st.one_of(st.none(), elements_st.map(lambda ies: UserDataHeader(tuple(ies))))


@settings(deadline=None)
@given(st.data(), headers_st, st.sampled_from(list(Alphabet)))
def test_encode_decode_round_trip(
    data: st.DataObject, header: UserDataHeader | None, alphabet: Alphabet
) -> None:
    head = 0 if header is None else len(encode_udh(header)) + 1
    if alphabet is G7:
        room = 160 - (0 if header is None else gsm7_header_septets(head - 1))
        body = data.draw(st.binary(max_size=room).map(lambda b: bytes(x & 0x7F for x in b)))
    elif alphabet is UCS2:
        text = data.draw(st.text(max_size=(140 - head) // 4))
        body = text.encode("utf-16-be")
    else:
        body = data.draw(st.binary(max_size=140 - head))
    udl, ud = encode_user_data(UserData(header, body, None), alphabet)
    assert len(ud) <= 140
    decoded = decode_user_data(udl, ud, alphabet, header is not None)
    assert (decoded.header, decoded.body) == (header, body)
    assert encode_user_data(decoded, alphabet) == (udl, ud)
    if alphabet is UCS2:
        assert decoded.text == text
    elif alphabet is G7 and (header is None or not header.elements):
        assert decoded.text == decode_gsm7(body)
    elif alphabet is not G7:
        assert decoded.text is None


plain_headers_st = st.one_of(
    st.none(),
    elements_st.map(
        lambda ies: UserDataHeader(tuple(ie for ie in ies if ie.iei not in (0x24, 0x25)))
    ),
)


@settings(deadline=None)
@given(st.text(max_size=200), st.sampled_from([G7, UCS2]), plain_headers_st)
def test_make_user_data_round_trip(
    text: str, alphabet: Alphabet, header: UserDataHeader | None
) -> None:
    if alphabet is G7 and gsm7_septet_count(text) is None:
        return
    user_data = make_user_data(text, alphabet, header)
    try:
        udl, ud = encode_user_data(user_data, alphabet)
    except EncodeError:
        return
    assert decode_user_data(udl, ud, alphabet, header is not None) == user_data


@settings(deadline=None)
@given(
    st.integers(0, 255),
    st.binary(max_size=200),
    st.sampled_from(list(Alphabet)),
    st.booleans(),
    st.booleans(),
)
def test_decode_arbitrary_only_tpdu_decode_error(
    udl: int, ud: bytes, alphabet: Alphabet, udhi: bool, consistent: bool
) -> None:
    if consistent:
        udl = (len(ud) * 8) // 7 if alphabet is G7 else len(ud)
    try:
        user_data = decode_user_data(udl, ud, alphabet, udhi)
    except TpduDecodeError:
        return
    assert (user_data.header is not None) == udhi
