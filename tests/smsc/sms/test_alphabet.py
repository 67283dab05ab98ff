"""Tests of smsc.sms.alphabet (TS 23.038 §6)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.sms import alphabet
from smsc.sms.alphabet import (
    GSM7_ESCAPE,
    decode_gsm7,
    decode_ucs2,
    encode_gsm7,
    encode_ucs2,
    gsm7_char_septets,
    gsm7_septet_count,
    has_locking_table,
    has_single_table,
    pack_septets,
    supported_languages,
    unpack_septets,
)
from smsc.sms.constants import NationalLanguage, RpCause, TpFailureCause
from smsc.sms.errors import TpduDecodeError, UnencodableTextError

L = NationalLanguage
LOCKING = alphabet._LOCKING_TABLES
SINGLE = alphabet._SINGLE_TABLES
ALL_IDS = [int(lang) for lang in NationalLanguage]
PAIRS = list(itertools.product(ALL_IDS, ALL_IDS))

DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
DEFAULT_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}


# --- reference implementations, written bit by bit from the spec text --------------------------


def ref_pack(septets: bytes, fill_bits: int = 0) -> bytes:
    """TS 23.038 §6.1.2.1, one bit at a time."""
    bits = [0] * fill_bits
    for septet in septets:
        bits.extend((septet >> i) & 1 for i in range(7))
    bits.extend([0] * (-len(bits) % 8))
    return bytes(sum(bits[i + j] << j for j in range(8)) for i in range(0, len(bits), 8))


def ref_unpack(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """TS 23.038 §6.1.2.1, one bit at a time."""
    bits = [(octet >> i) & 1 for octet in data for i in range(8)][fill_bits:]
    return bytes(sum(bits[7 * k + j] << j for j in range(7)) for k in range(count))


def ref_decode(septets: bytes, locking: int, single: int) -> str:
    """TS 23.038 §6.2.1.1, one septet at a time."""
    base = LOCKING.get(locking, LOCKING[0]).replace("\x00", " ")
    shift = SINGLE.get(single, SINGLE[0])
    out: list[str] = []
    codes = iter(code & 0x7F for code in septets)
    for code in codes:
        if code != GSM7_ESCAPE:
            out.append(base[code])
            continue
        nxt = next(codes, None)
        if nxt is None or nxt == GSM7_ESCAPE:
            out.append(" ")
        else:
            out.append(shift.get(nxt, base[nxt]))
    return "".join(out)


def encodable_chars(locking: int, single: int) -> str:
    """Every character the pair can encode."""
    base = LOCKING.get(locking, LOCKING[0])
    shift = SINGLE.get(single, SINGLE[0])
    chars = {c for c in base if c not in "\x00\x1b"} | set(shift.values())
    return "".join(sorted(chars))


# --- tables ------------------------------------------------------------------------------------


def test_default_alphabet_is_the_spec_table() -> None:
    assert LOCKING[L.DEFAULT] == DEFAULT_ALPHABET
    assert LOCKING[L.DEFAULT][0x09] == "Ç"
    assert LOCKING[L.DEFAULT][0x02] == "$"
    assert LOCKING[L.DEFAULT][0x22] == '"'


def test_default_extension_is_the_spec_table() -> None:
    assert SINGLE[L.DEFAULT] == DEFAULT_EXTENSION  # 0x0D CR2 and 0x1B ESC2 have no character


@pytest.mark.parametrize("lang", sorted(LOCKING))
def test_locking_tables_have_128_positions(lang: int) -> None:
    table = LOCKING[lang]
    assert len(table) == 128
    assert table[0x1B] == "\x1b"
    assert (table[0x0A], table[0x0D], table[0x20]) == ("\n", "\r", " ")


@pytest.mark.parametrize("lang", sorted(LOCKING))
def test_locking_tables_have_no_duplicates(lang: int) -> None:
    chars = [c for c in LOCKING[lang] if c not in "\x00\x1b"]
    assert len(chars) == len(set(chars))


@pytest.mark.parametrize("lang", sorted(SINGLE))
def test_single_tables_fit_128_positions(lang: int) -> None:
    table = SINGLE[lang]
    assert all(0 <= code < 128 for code in table)
    assert 0x0D not in table  # CR2
    assert 0x1B not in table  # ESC2
    assert all(len(c) == 1 and c not in "\x00\x1b " for c in table.values())


def test_single_table_duplicates_are_those_of_the_spec() -> None:
    """A.2.4-A.2.13 list '*' at 0x0B and 0x18 and '¡' at 0x13 and 0x15; encoding uses the lower."""
    for lang, table in SINGLE.items():
        dup = {c for c in table.values() if list(table.values()).count(c) > 1}
        if lang >= L.BENGALI:
            assert dup == {"*", "¡"}
            assert (table[0x0B], table[0x18], table[0x13], table[0x15]) == ("*", "*", "¡", "¡")
        else:
            assert dup == set()
    assert encode_gsm7("*¡", L.BENGALI, L.BENGALI) == b"\x1b\x0b\x1b\x13"


def test_spanish_has_no_locking_table() -> None:
    assert not has_locking_table(L.SPANISH)
    assert has_single_table(L.SPANISH)
    assert all(has_locking_table(lang) for lang in NationalLanguage if lang != L.SPANISH)
    assert all(has_single_table(lang) for lang in NationalLanguage)
    assert not has_locking_table(14)
    assert not has_single_table(255)
    assert supported_languages() == tuple(NationalLanguage)


def test_turkish_tables() -> None:
    lock, single = LOCKING[L.TURKISH], SINGLE[L.TURKISH]
    assert (lock[0x04], lock[0x05], lock[0x07]) == ("€", "é", "ı")
    assert (lock[0x0B], lock[0x0C], lock[0x1C], lock[0x1D]) == ("Ğ", "ğ", "Ş", "ş")
    assert (lock[0x40], lock[0x60]) == ("İ", "ç")
    assert {k: v for k, v in single.items() if k not in DEFAULT_EXTENSION} == {
        0x47: "Ğ",
        0x49: "İ",
        0x53: "Ş",
        0x63: "ç",
        0x67: "ğ",
        0x69: "ı",
        0x73: "ş",
    }


def test_spanish_single_table() -> None:
    assert {k: v for k, v in SINGLE[L.SPANISH].items() if k not in DEFAULT_EXTENSION} == {
        0x09: "ç",
        0x41: "Á",
        0x49: "Í",
        0x4F: "Ó",
        0x55: "Ú",
        0x61: "á",
        0x69: "í",
        0x6F: "ó",
        0x75: "ú",
    }


def test_portuguese_tables() -> None:
    lock, single = LOCKING[L.PORTUGUESE], SINGLE[L.PORTUGUESE]
    assert lock[:16] == "@£$¥êéúíóç\nÔô\rÁá"
    assert lock[0x10:0x20] == "Δ_ªÇÀ∞^\\€Ó|\x1bÂâÊÉ"
    assert (lock[0x24], lock[0x40], lock[0x60], lock[0x7D]) == ("º", "Í", "~", "`")
    # 0x05 'ê' and 0x1F 'Ê' as in AOSP, Tizen and Firefox OS (warthog618/sms omits 0x1F).
    assert (single[0x05], single[0x09], single[0x1F]) == ("ê", "ç", "Ê")
    assert (single[0x12], single[0x19], single[0x7F]) == ("Φ", "Θ", "â")


def test_indian_table_errata_followed() -> None:
    """Known TS 23.038 typos, corrected as AOSP and warthog618/sms do."""
    assert LOCKING[L.KANNADA][0x24] == "\u0ca1"  # spec: U+0CAA, a duplicate of 0x3D
    assert SINGLE[L.TAMIL][0x24] == "\u0bee"  # spec: U+0BEF, a duplicate of 0x25
    assert (SINGLE[L.TELUGU][0x22], SINGLE[L.TELUGU][0x23]) == ("\u0c6c", "\u0c6d")  # spec: Urdu
    # The spec lists U+0B91 / U+0C11 here; Unicode leaves both unassigned.
    assert LOCKING[L.TAMIL][0x11] == "\x00"
    assert LOCKING[L.TELUGU][0x11] == "\x00"
    # Devanagari signs, not the Bengali ones (warthog618/sms has U+0981..U+0983 here).
    assert LOCKING[L.HINDI][:3] == "\u0901\u0902\u0903"
    assert SINGLE[L.HINDI][0x2C] == "\u0958"  # precomposed QA, one code point


def test_indian_tables_share_layout() -> None:
    for lang in range(L.BENGALI, L.URDU + 1):
        lock = LOCKING[lang]
        assert lock[0x21] == "!" and lock[0x28:0x2A] == ")(" and lock[0x30:0x3C] == "0123456789:;"
        assert lock[0x3F] == "?" and lock[0x61:0x7B] == "abcdefghijklmnopqrstuvwxyz"
        single = SINGLE[lang]
        assert "".join(single[code] for code in range(0x41, 0x5B)) == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        assert single[0x65] == "€"


# --- septet packing ----------------------------------------------------------------------------


def test_known_packing_vectors() -> None:
    assert pack_septets(encode_gsm7("Test")).hex() == "d4f29c0e"
    assert pack_septets(encode_gsm7("hellohello")).hex() == "e8329bfd4697d9ec37"
    assert decode_gsm7(unpack_septets(bytes.fromhex("e8329bfd4697d9ec37"), 10)) == "hellohello"


def test_fill_bits_by_hand() -> None:
    assert pack_septets(b"A", 1) == b"\x82"
    assert pack_septets(b"AB", 1) == b"\x82\x42"
    assert pack_septets(b"A", 3) == b"\x08\x02"
    assert unpack_septets(b"\x82\x42", 2, 1) == b"AB"
    assert unpack_septets(b"\x08\x02", 1, 3) == b"A"


@pytest.mark.parametrize(
    ("udh", "fill"),
    [
        (bytes.fromhex("050003cc0201"), 1),  # 6-octet concat UDH: 48 bits, text at septet 7
        (bytes.fromhex("03240101"), 3),  # UDHL=3: 32 bits, text at septet 5
    ],
)
def test_fill_bits_align_text_on_septet_boundary(udh: bytes, fill: int) -> None:
    assert (7 - (len(udh) * 8) % 7) % 7 == fill  # TS 23.040 §9.2.3.24
    text = encode_gsm7("hello {world}")
    ud = udh + pack_septets(text, fill)
    header_septets = (len(udh) * 8 + fill) // 7
    assert unpack_septets(ud, header_septets + len(text))[header_septets:] == text
    assert unpack_septets(ud[len(udh) :], len(text), fill) == text


def test_eight_septets_fill_seven_octets() -> None:
    packed = pack_septets(b"ABCDEFGH")
    assert len(packed) == 7
    assert unpack_septets(packed, 8) == b"ABCDEFGH"


def test_seven_septets_leave_spare_bits_ignored_by_count() -> None:
    """TS 23.038 §6.1.2.3.1: with 7 spare bits a sender may pad with CR; `count` decides."""
    plain = pack_septets(b"ABCDEFG")
    padded = pack_septets(b"ABCDEFG\r")
    assert len(plain) == len(padded) == 7
    assert unpack_septets(plain, 7) == unpack_septets(padded, 7) == b"ABCDEFG"
    assert unpack_septets(plain, 8) == b"ABCDEFG\x00"  # would show as '@'
    assert unpack_septets(padded, 8) == b"ABCDEFG\r"


def test_unpack_ignores_octets_beyond_count() -> None:
    assert unpack_septets(pack_septets(b"abc") + b"\xff\xff", 3) == b"abc"
    assert unpack_septets(b"", 0) == b""
    assert unpack_septets(b"\xff", 0, 6) == b""
    assert pack_septets(b"") == b""
    assert pack_septets(b"", 6) == b"\x00"


def test_unpack_short_data_raises_tpdu_decode_error() -> None:
    with pytest.raises(TpduDecodeError) as info:
        unpack_septets(b"\x00" * 6, 8)
    assert info.value.tp_fcs == TpFailureCause.UNSPECIFIED_ERROR_CAUSE
    assert info.value.rp_cause == RpCause.SEMANTICALLY_INCORRECT_MESSAGE
    with pytest.raises(TpduDecodeError):
        unpack_septets(b"\x00" * 7, 8, 1)
    assert unpack_septets(b"\x00" * 8, 8, 1) == bytes(8)
    with pytest.raises(TpduDecodeError):  # ceil((fill + 7 * 0) / 8) = 1 octet
        unpack_septets(b"", 0, 1)
    assert unpack_septets(b"\x00", 0, 1) == b""


def test_pack_and_unpack_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="< 128"):
        pack_septets(b"\x80")
    with pytest.raises(ValueError, match="fill_bits"):
        pack_septets(b"a", 7)
    with pytest.raises(ValueError, match="fill_bits"):
        unpack_septets(b"a", 1, -1)
    with pytest.raises(ValueError, match="count"):
        unpack_septets(b"a", -1)


septet_strings = st.binary(max_size=600).map(lambda b: bytes(x & 0x7F for x in b))


@given(septet_strings, st.integers(0, 6))
def test_pack_matches_reference_and_round_trips(septets: bytes, fill: int) -> None:
    packed = pack_septets(septets, fill)
    assert packed == ref_pack(septets, fill)
    assert len(packed) == (fill + 7 * len(septets) + 7) // 8
    assert unpack_septets(packed, len(septets), fill) == septets


@given(st.binary(max_size=600), st.integers(0, 6), st.data())
def test_unpack_matches_reference(data: bytes, fill: int, draw: st.DataObject) -> None:
    count = draw.draw(st.integers(0, (len(data) * 8 + 7) // 7))
    if len(data) < (fill + 7 * count + 7) // 8:
        with pytest.raises(TpduDecodeError):
            unpack_septets(data, count, fill)
    else:
        assert unpack_septets(data, count, fill) == ref_unpack(data, count, fill)


# --- GSM 7-bit text ----------------------------------------------------------------------------


def test_extension_vector() -> None:
    septets = encode_gsm7("@{tést}!")
    assert septets == bytes([0x00, 0x1B, 0x28, 0x74, 0x05, 0x73, 0x74, 0x1B, 0x29, 0x21])
    assert gsm7_septet_count("@{tést}!") == 10
    assert decode_gsm7(septets) == "@{tést}!"


def test_cedilla_is_exact() -> None:
    assert encode_gsm7("Ç") == b"\x09"
    assert decode_gsm7(b"\x09") == "Ç"
    assert gsm7_septet_count("ç") is None
    assert encode_gsm7("ç", L.DEFAULT, L.SPANISH) == b"\x1b\x09"
    assert encode_gsm7("ç", L.TURKISH) == b"\x60"
    assert encode_gsm7("ç", L.PORTUGUESE) == b"\x09"


def test_escape_edge_cases_decode_without_raising() -> None:
    assert decode_gsm7(b"\x1bA") == "A"  # no extension entry: base table character
    assert decode_gsm7(b"\x1b\x1b") == " "  # ESC2
    assert decode_gsm7(b"a\x1b") == "a "  # trailing lone ESC
    assert decode_gsm7(b"\x1b") == " "
    assert decode_gsm7(b"\x1b\x1b\x1b(") == " {"
    assert decode_gsm7(b"\x1b\x1b\x1b") == "  "
    assert decode_gsm7(b"\x1b\x0d") == "\r"  # CR2: no character, so the base CR
    assert decode_gsm7(b"\x1b\x0a") == "\f"
    assert decode_gsm7(b"\xc1") == "A"  # bit 8 is ignored


def test_unassigned_locking_codes_decode_as_space() -> None:
    assert decode_gsm7(b"\x00\x0c", L.TAMIL, L.TAMIL) == "  "
    assert decode_gsm7(b"\x1b\x00", L.TAMIL, L.TAMIL) == "@"


def test_national_shift_decode() -> None:
    assert decode_gsm7(b"\x1b\x47\x07\x0b\x0c", L.TURKISH, L.TURKISH) == "ĞıĞğ"
    assert decode_gsm7(b"\x1b\x47", L.DEFAULT, L.TURKISH) == "Ğ"
    assert decode_gsm7(b"\x0b", L.DEFAULT, L.TURKISH) == "Ø"


def test_language_without_table_falls_back_to_default() -> None:
    assert decode_gsm7(b"\x7d\x1b\x09", L.SPANISH, L.SPANISH) == "ñç"
    assert encode_gsm7("ñç", L.SPANISH, L.SPANISH) == b"\x7d\x1b\x09"
    assert decode_gsm7(b"\x0b\x1b\x28", 99, 200) == "Ø{"
    assert encode_gsm7("Ø{", 99, 200) == b"\x0b\x1b\x28"
    with pytest.raises(UnencodableTextError, match="SPANISH"):
        encode_gsm7("Ğ", L.SPANISH, L.SPANISH)


def test_unencodable_error_names_character_and_position() -> None:
    with pytest.raises(UnencodableTextError) as info:
        encode_gsm7("abc\U0001f600d")
    assert "U+1F600" in str(info.value)
    assert "position 3" in str(info.value)
    with pytest.raises(UnencodableTextError, match=r"'`'.*position 1"):
        encode_gsm7("a`")
    with pytest.raises(UnencodableTextError, match="position 0"):
        encode_gsm7("\x1b")


def test_septet_counts() -> None:
    assert gsm7_septet_count("") == 0
    assert gsm7_septet_count("a{") == 3
    assert gsm7_septet_count("€" * 80) == 160
    assert gsm7_septet_count("\U0001f600") is None
    assert gsm7_septet_count("Ğ", L.TURKISH, L.TURKISH) == 1
    assert gsm7_septet_count("Ğ", L.DEFAULT, L.TURKISH) == 2
    assert gsm7_septet_count("Ğ") is None


def test_char_septets() -> None:
    assert gsm7_char_septets("a") == 1
    assert gsm7_char_septets("{") == 2
    assert gsm7_char_septets("\f") == 2
    assert gsm7_char_septets("\U0001f600") == 0
    assert gsm7_char_septets("\x1b") == 0
    assert gsm7_char_septets("ç", L.TURKISH) == 1
    assert gsm7_char_septets("ç", L.DEFAULT, L.TURKISH) == 2
    assert gsm7_char_septets("\u0915", L.HINDI, L.HINDI) == 1
    with pytest.raises(ValueError, match="one character"):
        gsm7_char_septets("ab")


pairs = st.sampled_from([*PAIRS, (99, 200), (L.SPANISH, L.DEFAULT)])


@given(pairs, st.data())
def test_encode_decode_round_trip_every_table_pair(
    pair: tuple[int, int], data: st.DataObject
) -> None:
    locking, single = pair
    text = data.draw(st.text(alphabet=encodable_chars(locking, single), max_size=200))
    septets = encode_gsm7(text, locking, single)
    assert max(septets, default=0) < 128
    assert len(septets) == gsm7_septet_count(text, locking, single)
    assert sum(gsm7_char_septets(c, locking, single) for c in text) == len(septets)
    assert decode_gsm7(septets, locking, single) == text


@given(pairs, st.binary(max_size=400))
def test_decode_never_raises_and_matches_reference(pair: tuple[int, int], raw: bytes) -> None:
    locking, single = pair
    assert decode_gsm7(raw, locking, single) == ref_decode(raw, locking, single)


@given(pairs, st.lists(st.sampled_from([0x1B, 0x1B, 0x28, 0x0D, 0x41, 0x00, 0x7F]), max_size=60))
def test_escape_heavy_decode_matches_reference(pair: tuple[int, int], codes: list[int]) -> None:
    raw = bytes(codes)
    assert decode_gsm7(raw, *pair) == ref_decode(raw, *pair)


@given(st.text(max_size=200))
def test_septet_count_agrees_with_encode(text: str) -> None:
    count = gsm7_septet_count(text)
    if count is None:
        with pytest.raises(UnencodableTextError):
            encode_gsm7(text)
    else:
        assert len(encode_gsm7(text)) == count


# --- UCS2 --------------------------------------------------------------------------------------


def test_ucs2_vectors() -> None:
    assert encode_ucs2("Hi") == b"\x00H\x00i"
    assert encode_ucs2("\U0001f600") == b"\xd8\x3d\xde\x00"
    assert decode_ucs2(b"\xd8\x3d\xde\x00\x04\x1f") == "\U0001f600П"
    assert decode_ucs2(b"") == ""


def test_ucs2_lone_surrogates_become_replacement_character() -> None:
    assert decode_ucs2(b"\xd8\x3d") == "\ufffd"
    assert decode_ucs2(b"\xd8\x3d\x00A") == "\ufffdA"
    assert decode_ucs2(b"\xde\x00\x00A") == "\ufffdA"
    assert decode_ucs2(b"\xd8\x3d\xd8\x3d\xde\x00") == "\ufffd\U0001f600"


def test_ucs2_odd_length_raises() -> None:
    with pytest.raises(TpduDecodeError, match="odd"):
        decode_ucs2(b"\x00A\x00")


def test_ucs2_encode_rejects_lone_surrogate() -> None:
    with pytest.raises(UnencodableTextError, match=r"U\+D800"):
        encode_ucs2("a\ud800")


@given(st.text(max_size=200))
def test_ucs2_round_trip(text: str) -> None:
    assert decode_ucs2(encode_ucs2(text)) == text


@given(st.text(alphabet=st.characters(min_codepoint=0x10000), max_size=50))
def test_ucs2_round_trip_astral(text: str) -> None:
    encoded = encode_ucs2(text)
    assert len(encoded) == 4 * len(text)
    assert decode_ucs2(encoded) == text


@given(st.binary(max_size=300))
def test_ucs2_decode_raises_only_tpdu_decode_error(data: bytes) -> None:
    try:
        decode_ucs2(data)
    except TpduDecodeError:
        assert len(data) % 2 == 1
