"""AML detection in an SMS-SUBMIT: GSM 7-bit text (iOS), packed data SMS (Android), UCS2."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from aml.detect import aml_text_of, reassemble_text, unpack_text
from aml.parser import format_aml_v1, parse_aml
from smsc.sms.address import Address
from smsc.sms.alphabet import encode_gsm7, pack_septets
from smsc.sms.constants import Alphabet, RpMessageType, TypeOfNumber
from smsc.sms.rp import RpData, decode_rp
from smsc.sms.tp import SmsSubmit, decode_tpdu, encode_tpdu
from smsc.sms.udh import UserDataHeader, concatenation_ie, ports_ie
from smsc.sms.user_data import UserData, make_user_data
from tests.vectors import load_vectors

TEXTS = {
    e["id"]: e
    for e in json.loads((Path(__file__).parent / "texts.json").read_text(encoding="utf-8"))["texts"]
}
EXAMPLE = TEXTS["amllib-v1-example"]["text"]
_EMERGENCY = Address("112", TypeOfNumber.UNKNOWN)


def _wire(user_data: UserData, dcs: int) -> SmsSubmit:
    """An SMS-SUBMIT to 112 taken through the codec's encoder and decoder, as received."""
    submit = SmsSubmit(1, _EMERGENCY, 0, dcs, user_data)
    decoded = decode_tpdu(encode_tpdu(submit), RpMessageType.RP_DATA_MS_TO_N)
    assert isinstance(decoded, SmsSubmit)
    return decoded


def test_vector_rp_data_to_112() -> None:
    vector = next(v for v in load_vectors() if v["id"] == "aml-v1-text-amllib")
    rp = decode_rp(bytes.fromhex(vector["hex"]))
    assert isinstance(rp, RpData)
    submit = decode_tpdu(rp.user_data, rp.message_type)
    assert isinstance(submit, SmsSubmit)
    assert submit.destination.value == "112"
    text = aml_text_of(submit)
    assert text == EXAMPLE
    assert parse_aml(EXAMPLE, strict=True).length_ok


def _packed(text: str, header: UserDataHeader | None = None) -> SmsSubmit:
    """Android's form: 8-bit TP-DCS, user data = the text packed as GSM 7-bit septets."""
    return _wire(UserData(header, pack_septets(encode_gsm7(text)), None), 0x04)


def test_gsm7_text() -> None:
    assert aml_text_of(_wire(make_user_data(EXAMPLE, Alphabet.GSM7), 0x00)) == EXAMPLE


def test_packed_data_sms() -> None:
    submit = _packed(EXAMPLE)
    assert submit.user_data.text is None
    assert aml_text_of(submit) == EXAMPLE


def test_packed_data_sms_with_application_ports() -> None:
    header = UserDataHeader((ports_ie(9200, 9200),))
    submit = _packed(EXAMPLE, header)
    assert submit.user_data.header is not None
    assert submit.user_data.header.ports is not None
    assert aml_text_of(submit) == EXAMPLE


def test_android_packed_user_data_from_aml_lib() -> None:
    entry = TEXTS["android-packed-amllib"]
    submit = _wire(UserData(None, bytes.fromhex(entry["packed_hex"]), None), 0x04)
    assert aml_text_of(submit) == entry["text"]
    assert parse_aml(entry["text"]).length_ok


def _text_of_length(length: int) -> str:
    """A valid AML text of exactly `length` characters (a vendor attribute pads it)."""
    base = parse_aml(EXAMPLE)
    for pad in range(40):
        text = format_aml_v1(replace(base, extra=(("zz", "x" * pad),)))
        if len(text) == length:
            return text
    raise AssertionError(length)


@pytest.mark.parametrize("length", range(136, 144))
def test_packed_padding_septet_is_not_text(length: int) -> None:
    """7 spare bits in the last octet would read as a trailing '@'; they are dropped."""
    text = _text_of_length(length)
    assert aml_text_of(_packed(text)) == text
    assert parse_aml(text, strict=True).length_ok


def test_ucs2_text() -> None:
    text = TEXTS["truncated"]["text"]  # 126 characters would need two UCS2 segments
    assert aml_text_of(_wire(make_user_data(text, Alphabet.UCS2), 0x08)) == text


def test_plain_8bit_ascii() -> None:
    submit = _wire(UserData(None, EXAMPLE.encode("ascii"), None), 0x04)
    assert aml_text_of(submit) == EXAMPLE


@pytest.mark.parametrize(
    ("user_data", "dcs"),
    [
        (make_user_data("Help, I am at the station", Alphabet.GSM7), 0x00),
        (make_user_data("Hilfe", Alphabet.UCS2), 0x08),
        (UserData(None, bytes(range(100)), None), 0x04),
        (UserData(None, pack_septets(encode_gsm7("Help me")), None), 0x04),
        (UserData(None, b"", None), 0x04),
        (make_user_data('a"ML=1;lt=1', Alphabet.GSM7), 0x00),
    ],
)
def test_not_aml(user_data: UserData, dcs: int) -> None:
    assert aml_text_of(_wire(user_data, dcs)) is None


def _segments(text: str, coding: str) -> list[SmsSubmit]:
    halves = (text[:63], text[63:])
    parts = []
    for sequence, half in enumerate(halves, start=1):
        header = UserDataHeader((concatenation_ie(42, 2, sequence),))
        if coding == "packed":
            parts.append(_packed(half, header))
        elif coding == "ucs2":
            parts.append(_wire(make_user_data(half, Alphabet.UCS2, header), 0x08))
        else:
            parts.append(_wire(make_user_data(half, Alphabet.GSM7, header), 0x00))
    return parts


@pytest.mark.parametrize("coding", ["gsm7", "packed", "ucs2"])
def test_reassemble_in_sequence_order(coding: str) -> None:
    first, second = _segments(EXAMPLE, coding)
    assert reassemble_text([second, first]) == EXAMPLE
    assert reassemble_text([first, second, first]) == EXAMPLE  # a retransmitted segment


def test_reassemble_single_and_empty() -> None:
    assert reassemble_text([_packed(EXAMPLE)]) == EXAMPLE
    assert reassemble_text([]) == ""


def test_unpack_text_of_nothing() -> None:
    assert unpack_text(b"") == ""
