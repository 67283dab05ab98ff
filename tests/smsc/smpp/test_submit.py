"""SMPP 3.4 §4.4.1 submit_sm / §4.7.1 data_sm mapped to stored SMS-SUBMITs (smsc.smpp.submit)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsc.routing.numbering import DiallingPlan
from smsc.service.model import MessageOrigin, NewMessage
from smsc.smpp.constants import CommandStatus, Tag
from smsc.smpp.pdu import DataSm, SubmitSm
from smsc.smpp.submit import SubmitPolicy, SubmitRefused, messages_from_submit, source_allowed
from smsc.smpp.times import format_time
from smsc.smpp.tlv import Tlv, make_tlv
from smsc.sms.address import Address
from smsc.sms.alphabet import decode_gsm7, encode_gsm7, gsm7_septet_count
from smsc.sms.constants import RpMessageType, TypeOfNumber
from smsc.sms.tp import SmsSubmit, decode_tpdu
from smsc.sms.udh import ApplicationPorts, Concatenation
from smsc.sms.validity import RelativeValidity, relative_value
from tests.smsc.smpp.strategies import STRATEGIES, smpp_time, tlvs

S = CommandStatus
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PLAN = DiallingPlan()
POLICY = SubmitPolicy("acme", ("*",), timedelta(days=2))
SENDER = "4915100000001"
RECIPIENT = "4917612345678"
REFERENCE = 7
BASE = SubmitSm(
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr=SENDER,
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr=RECIPIENT,
    short_message=b"Hello",
)
DATA_BASE = DataSm(
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr=SENDER,
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr=RECIPIENT,
)
PORTS_UDH = b"\x06\x05\x04\x0b\x84\x23\xf0"  # 16-bit application ports 2948 <- 9200


def submit(**fields: Any) -> SubmitSm:
    return replace(BASE, **fields)


def payload(value: bytes) -> tuple[Tlv, ...]:
    return (make_tlv(Tag.MESSAGE_PAYLOAD, value),)


def sar(ref: int, total: int, seq: int) -> tuple[Tlv, ...]:
    return (
        (Tag.SAR_MSG_REF_NUM, ref.to_bytes(2, "big")),
        (Tag.SAR_TOTAL_SEGMENTS, total.to_bytes(1, "big")),
        (Tag.SAR_SEGMENT_SEQNUM, seq.to_bytes(1, "big")),
    )


def run(pdu: SubmitSm | DataSm, policy: SubmitPolicy = POLICY) -> list[NewMessage]:
    return messages_from_submit(pdu, policy, PLAN, NOW, reference=REFERENCE)


def one(pdu: SubmitSm | DataSm, policy: SubmitPolicy = POLICY) -> NewMessage:
    messages = run(pdu, policy)
    assert len(messages) == 1
    return messages[0]


def tpdu(message: NewMessage) -> SmsSubmit:
    decoded = decode_tpdu(message.submit_tpdu, RpMessageType.RP_DATA_MS_TO_N)
    assert isinstance(decoded, SmsSubmit)
    return decoded


def refused(pdu: SubmitSm | DataSm, status: int, policy: SubmitPolicy = POLICY) -> None:
    with pytest.raises(SubmitRefused) as info:
        run(pdu, policy)
    assert info.value.command_status == status


def check_rows(messages: list[NewMessage], text: str | None = None) -> list[SmsSubmit]:
    """The rows of one submission: same id, numbered, TP-MR = segment, texts as decoded."""
    assert len({m.submission_id for m in messages}) == 1
    assert [m.segment for m in messages] == list(range(1, len(messages) + 1))
    assert {m.segments for m in messages} == {len(messages)}
    submits = [tpdu(m) for m in messages]
    assert [s.message_reference for s in submits] == [m.segment & 0xFF for m in messages]
    assert [s.user_data.text for s in submits] == [m.text for m in messages]
    if text is not None:
        assert "".join(m.text or "" for m in messages) == text
    return submits


# --- a plain submit_sm ----------------------------------------------------------------------


def test_plain_submit_sm() -> None:
    message = one(submit(protocol_id=0x41))
    assert message.origin is MessageOrigin.SMPP
    assert message.originator == SENDER
    assert message.originator_ton == TypeOfNumber.INTERNATIONAL
    assert message.recipient == RECIPIENT
    assert message.received_at == NOW
    assert message.expires_at == NOW + timedelta(days=2)
    assert (message.segment, message.segments) == (1, 1)
    assert message.text == "Hello"
    assert message.status_report is False
    assert message.source == "smpp:acme"
    assert len(message.submission_id) == 32
    int(message.submission_id, 16)
    sms = tpdu(message)
    assert sms.destination == Address(RECIPIENT)
    assert sms.message_reference == 1
    assert sms.pid == 0x41
    assert sms.dcs == 0x00
    assert sms.user_data.header is None
    assert sms.user_data.text == "Hello"
    assert sms.validity == RelativeValidity(relative_value(timedelta(days=2)))
    assert (sms.status_report_request, sms.reply_path, sms.reject_duplicates) == (
        False,
        False,
        False,
    )


def test_every_submission_has_its_own_id() -> None:
    assert one(BASE).submission_id != one(BASE).submission_id


def test_data_sm() -> None:
    message = one(replace(DATA_BASE, tlvs=payload(b"Hi there")))
    assert message.text == "Hi there"
    sms = tpdu(message)
    assert sms.pid == 0
    assert sms.destination == Address(RECIPIENT)
    assert message.expires_at == NOW + timedelta(days=2)


# --- source ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ton", "npi", "addr", "value", "out_ton"),
    [
        (1, 1, "4915100000001", "4915100000001", 1),
        (2, 1, "015100000001", "4915100000001", 1),
        (2, 1, "15100000001", "4915100000001", 1),
        (0, 0, "004915100000001", "4915100000001", 1),
        (0, 0, "015100000001", "4915100000001", 1),
        (0, 1, "4444", "4444", 0),
        (3, 0, "4444", "4444", 0),
        (1, 9, "4444", "4444", 0),
        (5, 0, "MyBank", "MyBank", 5),
        (5, 0, "Bank {1}", "Bank {1}", 5),
    ],
)
def test_source(ton: int, npi: int, addr: str, value: str, out_ton: int) -> None:
    message = one(submit(source_addr_ton=ton, source_addr_npi=npi, source_addr=addr))
    assert (message.originator, message.originator_ton) == (value, out_ton)


@pytest.mark.parametrize(
    ("ton", "npi", "addr", "status"),
    [
        (1, 1, "", S.ESME_RINVSRCADR),
        (0, 0, "", S.ESME_RINVSRCADR),
        (1, 1, "49151abc", S.ESME_RINVSRCADR),
        (1, 1, "+4915100000001", S.ESME_RINVSRCADR),
        (1, 1, "12", S.ESME_RINVSRCADR),
        (1, 1, "0151", S.ESME_RINVSRCADR),
        (1, 1, "4915100000001234", S.ESME_RINVSRCADR),
        (3, 0, "1234567", S.ESME_RINVSRCADR),
        (5, 0, "", S.ESME_RINVSRCADR),
        (5, 0, "MyBankIsLong", S.ESME_RINVSRCADR),
        (5, 0, "Bank€€€€€€", S.ESME_RINVSRCADR),
        (5, 0, "þorn", S.ESME_RINVSRCADR),
        (7, 1, SENDER, S.ESME_RINVSRCTON),
        (1, 4, SENDER, S.ESME_RINVSRCNPI),
    ],
)
def test_source_refused(ton: int, npi: int, addr: str, status: int) -> None:
    refused(submit(source_addr_ton=ton, source_addr_npi=npi, source_addr=addr), status)


def test_alphanumeric_name_of_eleven_characters() -> None:
    assert one(submit(source_addr_ton=5, source_addr="ElevenChars")).originator == "ElevenChars"


POLICY_SOURCES = SubmitPolicy("acme", ("+49151*", "+4917000000001", "4444", "MyBank"))


@pytest.mark.parametrize(
    ("ton", "addr", "allowed"),
    [
        (1, "4915100000001", True),
        (1, "4915199999999", True),
        (2, "015100000002", True),
        (1, "4917000000001", True),
        (1, "4917000000002", False),
        (1, "4916000000001", False),
        (0, "4444", True),
        (0, "4445", False),
        (5, "MyBank", True),
        (5, "mybank", False),
        (5, "MyBank2", False),
        (5, "4444", False),
    ],
)
def test_allowed_sources(ton: int, addr: str, allowed: bool) -> None:
    pdu = submit(source_addr_ton=ton, source_addr_npi=0 if ton != 1 else 1, source_addr=addr)
    if allowed:
        assert one(pdu, POLICY_SOURCES).submission_id
    else:
        refused(pdu, S.ESME_RINVSRCADR, POLICY_SOURCES)


def test_no_allowed_source_refuses_all() -> None:
    refused(BASE, S.ESME_RINVSRCADR, SubmitPolicy("acme", ()))


INTL = Address("4915100000001")
SHORT = Address("4444", TypeOfNumber.UNKNOWN)
NAME = Address.alphanumeric("MyBank")


@pytest.mark.parametrize(
    ("pattern", "address", "allowed"),
    [
        ("*", INTL, True),
        ("*", SHORT, True),
        ("*", NAME, True),
        ("+4915100000001", INTL, True),
        ("+4915100000002", INTL, False),
        ("+49151*", INTL, True),
        ("+49152*", INTL, False),
        ("+4444", SHORT, False),
        ("+44*", SHORT, False),
        ("4444", SHORT, True),
        ("4444", Address("4444"), False),
        ("4444", Address.alphanumeric("4444"), False),
        ("44*", SHORT, True),
        ("45*", SHORT, False),
        ("4915100000001", INTL, False),
        ("MyBank", NAME, True),
        ("mybank", NAME, False),
        ("MyBan", NAME, False),
        ("MyBank", Address("MyBank", TypeOfNumber.UNKNOWN), False),
    ],
)
def test_source_allowed(pattern: str, address: Address, allowed: bool) -> None:
    assert source_allowed(address, (pattern,)) is allowed
    assert source_allowed(address, ("+1*", pattern, "Other")) is allowed


def test_source_allowed_without_patterns() -> None:
    assert source_allowed(INTL, ()) is False


# --- destination ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ton", "npi", "addr"),
    [
        (1, 1, RECIPIENT),
        (2, 1, "017612345678"),
        (2, 8, "17612345678"),
        (0, 0, "004917612345678"),
        (0, 0, "017612345678"),
        (0, 0, RECIPIENT),
    ],
)
def test_destination(ton: int, npi: int, addr: str) -> None:
    message = one(submit(dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr))
    assert message.recipient == RECIPIENT
    assert tpdu(message).destination == Address(RECIPIENT)


@pytest.mark.parametrize(
    ("ton", "npi", "addr", "status"),
    [
        (1, 1, "", S.ESME_RINVDSTADR),
        (1, 1, "+4917612345678", S.ESME_RINVDSTADR),
        (1, 1, "49176abc", S.ESME_RINVDSTADR),
        (1, 1, "12", S.ESME_RINVDSTADR),
        (0, 0, "4444", S.ESME_RINVDSTADR),
        (3, 0, "4444", S.ESME_RINVDSTADR),
        (1, 9, "4444", S.ESME_RINVDSTADR),
        (5, 0, "MyBank", S.ESME_RINVDSTADR),
        (7, 1, RECIPIENT, S.ESME_RINVDSTTON),
        (1, 3, RECIPIENT, S.ESME_RINVDSTNPI),
    ],
)
def test_destination_refused(ton: int, npi: int, addr: str, status: int) -> None:
    refused(submit(dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr), status)


# --- payload --------------------------------------------------------------------------------


def test_message_payload_instead_of_short_message() -> None:
    assert one(submit(short_message=b"", tlvs=payload(b"From the TLV"))).text == "From the TLV"


def test_empty_message_payload_leaves_short_message() -> None:
    assert one(submit(tlvs=payload(b""))).text == "Hello"


def test_short_message_and_message_payload_refused() -> None:
    refused(submit(tlvs=payload(b"Too")), S.ESME_RINVOPTPARAMVAL)


@pytest.mark.parametrize("tlv", [(), payload(b"")])
def test_no_message_refused(tlv: tuple[Tlv, ...]) -> None:
    refused(submit(short_message=b"", tlvs=tlv), S.ESME_RINVMSGLEN)
    refused(replace(DATA_BASE, tlvs=tlv), S.ESME_RINVMSGLEN)


# --- esm_class ------------------------------------------------------------------------------


@pytest.mark.parametrize("esm_class", [0x00, 0x01, 0x02, 0x03])
def test_messaging_modes_accepted(esm_class: int) -> None:
    sms = tpdu(one(submit(esm_class=esm_class)))
    assert sms.reply_path is False
    assert sms.user_data.header is None


@pytest.mark.parametrize("esm_class", [0x04, 0x08, 0x10, 0x18, 0x20, 0x24, 0x3C, 0x47, 0xC4, 0x100])
def test_message_types_refused(esm_class: int) -> None:
    refused(submit(esm_class=esm_class), S.ESME_RINVESMCLASS)
    refused(replace(DATA_BASE, esm_class=esm_class, tlvs=payload(b"x")), S.ESME_RINVESMCLASS)


def test_reply_path() -> None:
    assert tpdu(one(submit(esm_class=0x80))).reply_path is True
    assert tpdu(one(submit(esm_class=0x83))).reply_path is True
    assert tpdu(one(submit(esm_class=0xC0, short_message=b"\x00Hi"))).reply_path is True


def test_udhi_binary_with_ports() -> None:
    message = one(submit(esm_class=0x40, data_coding=4, short_message=PORTS_UDH + b"\x01\x02"))
    sms = tpdu(message)
    assert sms.dcs == 0x04
    assert sms.user_data.header is not None
    assert sms.user_data.header.ports == ApplicationPorts(2948, 9200, 16)
    assert sms.user_data.body == b"\x01\x02"
    assert message.text is None
    assert (message.segment, message.segments) == (1, 1)


def test_udhi_gsm7_segment_of_the_esme() -> None:
    udh = b"\x05\x00\x03\x2a\x02\x01"
    message = one(submit(esm_class=0x40, short_message=udh + encode_gsm7("Part one €")))
    sms = tpdu(message)
    assert sms.dcs == 0x00
    assert sms.user_data.header is not None
    assert sms.user_data.header.concatenation == Concatenation(0x2A, 2, 1, 8)
    assert sms.user_data.text == message.text == "Part one €"
    assert (message.segment, message.segments) == (1, 1)


def test_udhi_text_with_language_shift() -> None:
    udh = b"\x03\x24\x01\x01"  # single shift: Turkish
    message = one(submit(esm_class=0x40, short_message=udh + b"\x1b\x63"))
    assert message.text == "ç"
    assert tpdu(message).user_data.text == "ç"


def test_udhi_empty_header() -> None:
    message = one(submit(esm_class=0x40, short_message=b"\x00Hi"))
    sms = tpdu(message)
    assert sms.user_data.header is not None
    assert sms.user_data.header.elements == ()
    assert message.text == "Hi"


@pytest.mark.parametrize(
    ("data_coding", "dcs", "text"), [(1, 0x00, "Hello"), (3, 0x00, "Café"), (3, 0x08, "þorn")]
)
def test_udhi_text_alphabet_chosen(data_coding: int, dcs: int, text: str) -> None:
    encoded = text.encode("latin-1")
    message = one(
        submit(esm_class=0x40, data_coding=data_coding, short_message=PORTS_UDH + encoded)
    )
    sms = tpdu(message)
    assert sms.dcs == dcs
    assert sms.user_data.header is not None
    assert sms.user_data.header.ports is not None
    assert sms.user_data.text == message.text == text


@pytest.mark.parametrize(
    "short_message", [b"\x05\x00\x03", b"\x03\x00\x05\x01Hello", b"\x01\x00Hello", b"\x08"]
)
def test_udhi_malformed_refused(short_message: bytes) -> None:
    refused(submit(esm_class=0x40, short_message=short_message), S.ESME_RINVESMCLASS)


@pytest.mark.parametrize(
    ("data_coding", "unit", "fitting"), [(0, b"a", 153), (4, b"\x00", 134), (8, b"\x04\x4f", 67)]
)
def test_udhi_must_fit_one_sms(data_coding: int, unit: bytes, fitting: int) -> None:
    udh = b"\x05\x00\x03\x2a\x02\x01"  # UDHL 5: 6 octets, 7 septets
    fits = submit(esm_class=0x40, data_coding=data_coding, short_message=udh + unit * fitting)
    assert tpdu(one(fits)).user_data.body == unit * fitting
    too_long = replace(fits, short_message=b"", tlvs=payload(udh + unit * (fitting + 1)))
    refused(too_long, S.ESME_RINVMSGLEN)


# --- data_coding ----------------------------------------------------------------------------


def test_smsc_default_is_unpacked_gsm7() -> None:
    message = one(submit(short_message=b"\x00\x1b\x65"))
    assert message.text == "@€"
    sms = tpdu(message)
    assert sms.dcs == 0x00
    assert sms.user_data.body == b"\x00\x1b\x65"
    assert sms.user_data.text == "@€"


def test_smsc_default_whole_alphabet() -> None:
    text = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCZÄÖÑÜ§¿azäöñüà"
    text += "^{}\\[~]|€\x0c"
    assert one(submit(short_message=encode_gsm7(text))).text == text


def test_smsc_default_octet_above_0x7f_refused() -> None:
    refused(submit(short_message=b"Caf\xe9"), S.ESME_RSUBMITFAIL)
    refused(submit(data_coding=0xF0, short_message=b"\x80"), S.ESME_RSUBMITFAIL)


@pytest.mark.parametrize(
    ("data_coding", "octets", "dcs", "text"),
    [
        (1, b"Hello {IA5}", 0x00, "Hello {IA5}"),
        (3, b"Caf\xe9 \xa3 \xa7", 0x00, "Café £ §"),
        (3, b"\xfeorn", 0x08, "þorn"),
        (8, "Hello".encode("utf-16-be"), 0x08, "Hello"),
        (8, "Привет 你好 😀".encode("utf-16-be"), 0x08, "Привет 你好 😀"),
        (0xF0, encode_gsm7("Flash €"), 0xF0, "Flash €"),
        (0xF3, encode_gsm7("SIM"), 0xF3, "SIM"),
        (0xC8, encode_gsm7("Voicemail"), 0xC8, "Voicemail"),
        (0xD0, encode_gsm7("Stored"), 0xD0, "Stored"),
        (0xE8, "Почта".encode("utf-16-be"), 0xE8, "Почта"),
    ],
)
def test_text_codings(data_coding: int, octets: bytes, dcs: int, text: str) -> None:
    message = one(submit(data_coding=data_coding, short_message=octets))
    assert message.text == text
    sms = tpdu(message)
    assert sms.dcs == dcs
    assert sms.user_data.text == text


def test_ia5_above_0x7f_refused() -> None:
    refused(submit(data_coding=1, short_message=b"Caf\xe9"), S.ESME_RSUBMITFAIL)


def test_ucs2_kept_as_sent() -> None:
    octets = b"\x00H\xd8\x00"  # a lone high surrogate: not re-encoded
    sms = tpdu(one(submit(data_coding=8, short_message=octets)))
    assert sms.user_data.body == octets


def test_ucs2_odd_length_refused() -> None:
    refused(submit(data_coding=8, short_message=b"\x00H\x00"), S.ESME_RINVMSGLEN)
    refused(submit(data_coding=0xE0, short_message=b"\x04"), S.ESME_RINVMSGLEN)


@pytest.mark.parametrize(("data_coding", "dcs"), [(2, 0x04), (4, 0x04), (0xF4, 0xF4), (0xF7, 0xF7)])
def test_binary_codings(data_coding: int, dcs: int) -> None:
    octets = bytes(range(140))
    message = one(submit(data_coding=data_coding, short_message=b"", tlvs=payload(octets)))
    assert message.text is None
    sms = tpdu(message)
    assert sms.dcs == dcs
    assert sms.user_data.header is None
    assert sms.user_data.body == octets


@pytest.mark.parametrize(
    "data_coding", [5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 0x10, 0x40, 0x80, 0xBF, 0x100]
)
def test_other_codings_refused(data_coding: int) -> None:
    refused(submit(data_coding=data_coding), S.ESME_RSUBMITFAIL)


# --- segmentation ---------------------------------------------------------------------------


def test_long_gsm_text_split_in_two() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(200))
    messages = run(submit(short_message=text.encode("ascii")))
    assert len(messages) == 2
    submits = check_rows(messages, text)
    for number, sms in enumerate(submits, start=1):
        assert sms.dcs == 0x00
        assert sms.user_data.header is not None
        assert sms.user_data.header.concatenation == Concatenation(REFERENCE, 2, number, 8)
    assert [len(m.text or "") for m in messages] == [153, 47]


def test_160_gsm_characters_stay_one() -> None:
    assert tpdu(one(submit(short_message=b"x" * 160))).user_data.header is None


@pytest.mark.parametrize("text", [("Привет, мир! " * 40)[:500], ("你好世界，" * 100)[:500]])
def test_long_ucs2_payload_in_eight(text: str) -> None:
    messages = run(submit(data_coding=8, short_message=b"", tlvs=payload(text.encode("utf-16-be"))))
    assert len(messages) == 8
    submits = check_rows(messages, text)
    for number, sms in enumerate(submits, start=1):
        assert sms.dcs == 0x08
        assert sms.user_data.header is not None
        assert sms.user_data.header.concatenation == Concatenation(REFERENCE, 8, number, 8)
    assert "".join(s.user_data.text or "" for s in submits) == text


def test_ucs2_split_keeps_surrogate_pairs() -> None:
    text = "中" * 66 + "𝄞" + "中" * 10
    messages = run(submit(data_coding=8, short_message=text.encode("utf-16-be")))
    check_rows(messages, text)
    assert [m.text for m in messages] == ["中" * 66, "𝄞" + "中" * 10]


def test_70_ucs2_characters_stay_one() -> None:
    sms = tpdu(one(submit(data_coding=8, short_message="я".encode("utf-16-be") * 70)))
    assert sms.user_data.header is None


def test_long_latin1_text_in_ucs2() -> None:
    text = "þ" * 100
    messages = run(submit(data_coding=3, short_message=text.encode("latin-1")))
    submits = check_rows(messages, text)
    assert [s.dcs for s in submits] == [0x08, 0x08]


def test_long_class0_gsm_text_keeps_its_dcs() -> None:
    text = "Flash! " * 30
    messages = run(submit(data_coding=0xF0, short_message=encode_gsm7(text)))
    submits = check_rows(messages, text)
    assert [s.dcs for s in submits] == [0xF0, 0xF0]


def test_binary_300_octets_in_three() -> None:
    octets = bytes(i % 256 for i in range(300))
    messages = run(submit(data_coding=4, short_message=b"", tlvs=payload(octets)))
    assert len(messages) == 3
    submits = check_rows(messages)
    assert all(m.text is None for m in messages)
    assert [len(s.user_data.body) for s in submits] == [134, 134, 32]
    assert b"".join(s.user_data.body for s in submits) == octets
    for number, sms in enumerate(submits, start=1):
        assert sms.dcs == 0x04
        assert sms.user_data.header is not None
        assert sms.user_data.header.concatenation == Concatenation(REFERENCE, 3, number, 8)


def test_reference_takes_its_low_eight_bits() -> None:
    pdu = submit(short_message=b"x" * 200)
    messages = messages_from_submit(pdu, POLICY, PLAN, NOW, reference=0x1FE)
    header = tpdu(messages[0]).user_data.header
    assert header is not None
    assert header.concatenation == Concatenation(0xFE, 2, 1, 8)


@pytest.mark.parametrize(
    ("data_coding", "octets"),
    [
        pytest.param(0, b"a" * (255 * 153 + 1), id="gsm7"),
        pytest.param(4, b"\x00" * (255 * 134 + 1), id="8-bit"),
        pytest.param(8, b"\x00a" * (255 * 67 + 1), id="ucs2"),
    ],
)
def test_more_than_255_segments_refused(data_coding: int, octets: bytes) -> None:
    refused(
        submit(data_coding=data_coding, short_message=b"", tlvs=payload(octets)),
        S.ESME_RINVMSGLEN,
    )


def test_255_segments_accepted() -> None:
    octets = b"\x00" * (255 * 134)
    messages = run(submit(data_coding=4, short_message=b"", tlvs=payload(octets)))
    assert len(messages) == 255
    assert tpdu(messages[-1]).message_reference == 255


# --- sar_* TLVs -----------------------------------------------------------------------------


def test_a_wide_sar_reference_becomes_16_bit_concatenation_when_the_part_fits() -> None:
    message = one(submit(short_message=b"part two", tlvs=sar(0x1234, 3, 2)))
    sms = tpdu(message)
    assert sms.user_data.header is not None
    assert sms.user_data.header.concatenation == Concatenation(0x1234, 3, 2, 16)
    assert sms.user_data.text == message.text == "part two"
    assert (message.segment, message.segments) == (1, 1)


def test_sar_with_ucs2_and_data_sm() -> None:
    octets = "часть".encode("utf-16-be")
    message = one(replace(DATA_BASE, data_coding=8, tlvs=payload(octets) + sar(1, 2, 2)))
    sms = tpdu(message)
    assert sms.dcs == 0x08
    assert sms.user_data.header is not None
    assert sms.user_data.header.concatenation == Concatenation(1, 2, 2, 8)
    assert message.text == "часть"


def test_sar_joins_the_esme_udh() -> None:
    pdu = submit(
        esm_class=0x40, data_coding=4, short_message=PORTS_UDH + b"\x01", tlvs=sar(9, 2, 1)
    )
    header = tpdu(one(pdu)).user_data.header
    assert header is not None
    assert header.concatenation == Concatenation(9, 2, 1, 8)
    assert header.ports == ApplicationPorts(2948, 9200, 16)


def test_sar_and_udh_concatenation_refused() -> None:
    udh = b"\x05\x00\x03\x2a\x02\x01"
    pdu = submit(esm_class=0x40, short_message=udh + b"Hi", tlvs=sar(9, 2, 1))
    refused(pdu, S.ESME_RINVOPTPARAMVAL)


@pytest.mark.parametrize("keep", [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)])
def test_sar_incomplete_refused(keep: tuple[int, ...]) -> None:
    tlv = sar(1, 2, 1)
    refused(submit(tlvs=tuple(tlv[i] for i in keep)), S.ESME_RMISSINGOPTPARAM)


@pytest.mark.parametrize(("total", "seq"), [(0, 0), (0, 1), (2, 0), (2, 3), (1, 2)])
def test_sar_out_of_range_refused(total: int, seq: int) -> None:
    refused(submit(tlvs=sar(1, total, seq)), S.ESME_RINVOPTPARAMVAL)


def test_sar_wide_values_refused() -> None:
    tlv = ((Tag.SAR_MSG_REF_NUM, b"\x01\x00\x00"), *sar(1, 2, 1)[1:])
    refused(submit(tlvs=tlv), S.ESME_RINVOPTPARAMVAL)
    tlv = (*sar(1, 2, 1)[:1], (Tag.SAR_TOTAL_SEGMENTS, b"\x01\x00"), sar(1, 2, 1)[2])
    refused(submit(tlvs=tlv), S.ESME_RINVOPTPARAMVAL)


def test_sar_does_not_split() -> None:
    refused(submit(short_message=b"a" * 154, tlvs=sar(1, 2, 1)), S.ESME_RINVMSGLEN)
    assert one(submit(short_message=b"a" * 153, tlvs=sar(1, 2, 1))).text == "a" * 153


@pytest.mark.parametrize(("reference", "size", "bits"), [(7, 153, 8), (0x1234, 152, 16),
                                                           (0x1234, 153, 8)])  # fmt: skip
def test_sar_parts_cut_for_an_8_bit_header_fit(reference: int, size: int, bits: int) -> None:
    """ESMEs cut SAR parts at 153 septets (134 UCS2 octets), the room an 8-bit-reference
    concatenation IE leaves: a reference of one octet takes that IE; a wider one the 16-bit IE
    when the part fits, else its low octet."""
    header = tpdu(one(submit(short_message=b"a" * size, tlvs=sar(reference, 2, 1)))).user_data
    assert header.header is not None
    assert header.header.concatenation == Concatenation(
        reference if bits == 16 else reference & 0xFF, 2, 1, bits
    )
    ucs2 = ("ж" * 67).encode("utf-16-be")  # 134 octets
    part = tpdu(one(submit(data_coding=8, short_message=ucs2, tlvs=sar(reference, 2, 2))))
    assert part.user_data.header is not None and part.user_data.header.concatenation is not None
    assert part.user_data.header.concatenation.reference_bits == 8


# --- validity_period ------------------------------------------------------------------------


def expiry(validity_period: str, policy: SubmitPolicy = POLICY) -> tuple[datetime, int]:
    message = one(submit(validity_period=validity_period), policy)
    sms = tpdu(message)
    assert isinstance(sms.validity, RelativeValidity)
    return message.expires_at, sms.validity.value


def test_validity_default() -> None:
    assert expiry("") == (NOW + timedelta(days=2), relative_value(timedelta(days=2)))
    policy = SubmitPolicy("acme", ("*",), timedelta(hours=6))
    assert expiry("", policy) == (NOW + timedelta(hours=6), relative_value(timedelta(hours=6)))


def test_validity_default_capped() -> None:
    policy = SubmitPolicy("acme", ("*",), timedelta(days=10), timedelta(days=3))
    assert expiry("", policy) == (NOW + timedelta(days=3), relative_value(timedelta(days=3)))


@pytest.mark.parametrize(
    ("validity_period", "validity"),
    [
        ("000001000000000R", timedelta(days=1)),
        ("000000013000000R", timedelta(hours=1, minutes=30)),
        ("000000000001000R", timedelta(seconds=1)),
        (format_time(NOW + timedelta(hours=3)), timedelta(hours=3)),
        ("250301150000004+", timedelta(hours=2)),  # 15:00 at UTC+1
        ("250301110000008-", timedelta(hours=1)),  # 11:00 at UTC-2
        ("000030000000000R", timedelta(days=7)),
        ("990101000000000+", timedelta(days=7)),
    ],
)
def test_validity_period(validity_period: str, validity: timedelta) -> None:
    assert expiry(validity_period) == (NOW + validity, relative_value(validity))


def test_validity_capped_at_max() -> None:
    policy = SubmitPolicy("acme", ("*",), timedelta(days=1), timedelta(days=30))
    assert expiry("000020000000000R", policy)[0] == NOW + timedelta(days=20)
    assert expiry("010000000000000R", policy)[0] == NOW + timedelta(days=30)


@pytest.mark.parametrize(
    "validity_period",
    [
        format_time(NOW - timedelta(minutes=1)),
        format_time(NOW),
        "250301100000008-",
        "000000000000000R",
        "garbage",
        "250301120000000",
        "251301120000000+",
        "250301120000049+",
        "250301120000000X",
    ],
)
def test_validity_refused(validity_period: str) -> None:
    refused(submit(validity_period=validity_period), S.ESME_RINVEXPIRY)


# --- schedule_delivery_time -----------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule", ["", format_time(NOW - timedelta(hours=1)), format_time(NOW), "000000000000000R"]
)
def test_schedule_now(schedule: str) -> None:
    message = one(submit(schedule_delivery_time=schedule))
    assert (message.received_at, message.deliver_at) == (NOW, None)
    assert message.expires_at == NOW + timedelta(days=2)


@pytest.mark.parametrize(
    ("schedule", "at"),
    [
        (format_time(NOW + timedelta(minutes=1)), NOW + timedelta(minutes=1)),
        ("000000010000000R", NOW + timedelta(hours=1)),
        ("250301150000004+", NOW + timedelta(hours=2)),  # 15:00 at UTC+1
        ("000007000000000R", NOW + timedelta(days=7)),
    ],
)
def test_schedule_later(schedule: str, at: datetime) -> None:
    """§5.2.15: kept until then; the default validity counts from the scheduled time."""
    messages = messages_from_submit(
        submit(schedule_delivery_time=schedule, short_message=b"x" * 200),
        POLICY,
        PLAN,
        NOW,
        reference=1,
    )
    assert len(messages) == 2
    for message in messages:
        assert message.deliver_at == at and message.deliver_at.tzinfo is UTC
        assert (message.received_at, message.expires_at) == (NOW, at + timedelta(days=2))
        sms = tpdu(message)
        assert sms.validity == RelativeValidity(relative_value(timedelta(days=2)))


@pytest.mark.parametrize(
    ("validity_period", "expires_at"),
    [
        ("000000050000000R", NOW + timedelta(hours=5)),  # relative to now (§7.1.1.2)
        (format_time(NOW + timedelta(days=1)), NOW + timedelta(days=1)),
        ("000030000000000R", NOW + timedelta(hours=1, days=7)),  # capped after the schedule
    ],
)
def test_schedule_with_validity(validity_period: str, expires_at: datetime) -> None:
    message = one(
        submit(schedule_delivery_time="000000010000000R", validity_period=validity_period)
    )
    assert (message.deliver_at, message.expires_at) == (NOW + timedelta(hours=1), expires_at)
    sms = tpdu(message)
    assert sms.validity == RelativeValidity(relative_value(expires_at - message.deliver_at))


@pytest.mark.parametrize(
    "validity_period", ["000000010000000R", "000000005900000R", format_time(NOW)]
)
def test_validity_ending_before_the_schedule_is_refused(validity_period: str) -> None:
    refused(
        submit(schedule_delivery_time="000000010000000R", validity_period=validity_period),
        S.ESME_RINVEXPIRY,
    )


@pytest.mark.parametrize(
    ("schedule", "status"),
    [
        ("000007000001000R", S.ESME_RINVSCHED),  # beyond max_schedule
        (format_time(NOW + timedelta(days=8)), S.ESME_RINVSCHED),
        ("soon", S.ESME_RINVSCHED),
        ("251301120000000+", S.ESME_RINVSCHED),
    ],
)
def test_schedule_refused(schedule: str, status: int) -> None:
    refused(submit(schedule_delivery_time=schedule), status)


def test_max_schedule_is_the_accounts() -> None:
    policy = SubmitPolicy("acme", ("*",), max_schedule=timedelta(hours=1))
    assert one(submit(schedule_delivery_time="000000010000000R"), policy).deliver_at == (
        NOW + timedelta(hours=1)
    )
    refused(submit(schedule_delivery_time="000000010001000R"), S.ESME_RINVSCHED, policy)


def test_data_sm_has_no_schedule() -> None:
    assert one(replace(DATA_BASE, tlvs=payload(b"hi"))).deliver_at is None


# --- registered_delivery, priority_flag, protocol_id ----------------------------------------


@pytest.mark.parametrize(
    ("registered_delivery", "status_report", "source"),
    [
        (0x00, False, "smpp:acme"),
        (0x01, True, "smpp:acme"),
        (0x02, True, "smpp:acme:failure"),
        (0x03, True, "smpp:acme"),
        (0x0C, False, "smpp:acme"),
        (0x11, True, "smpp:acme"),
        (0x1E, True, "smpp:acme:failure"),
    ],
)
def test_registered_delivery(registered_delivery: int, status_report: bool, source: str) -> None:
    for pdu in (
        submit(registered_delivery=registered_delivery),
        replace(DATA_BASE, registered_delivery=registered_delivery, tlvs=payload(b"x")),
    ):
        message = one(pdu)
        assert (message.status_report, message.source) == (status_report, source)
        assert tpdu(message).status_report_request is False


@pytest.mark.parametrize("priority_flag", [0, 1, 2, 3])
def test_priority_kept(priority_flag: int) -> None:
    message = one(submit(priority_flag=priority_flag))
    assert (message.text, message.priority) == ("Hello", priority_flag)


@pytest.mark.parametrize(("priority_flag", "priority"), [(0, 2), (1, 1), (3, 3)])
def test_the_account_s_default_priority_stands_for_0(priority_flag: int, priority: int) -> None:
    policy = SubmitPolicy("acme", ("*",), default_priority=2)
    assert one(submit(priority_flag=priority_flag), policy).priority == priority
    assert one(replace(DATA_BASE, tlvs=payload(b"hi")), policy).priority == 2


def test_every_segment_has_the_priority() -> None:
    messages = messages_from_submit(
        submit(priority_flag=1, short_message=b"x" * 200), POLICY, PLAN, NOW, reference=1
    )
    assert [m.priority for m in messages] == [1, 1]


@pytest.mark.parametrize("priority_flag", [4, 0xFF])
def test_priority_refused(priority_flag: int) -> None:
    refused(submit(priority_flag=priority_flag), S.ESME_RINVPRTFLG)


@pytest.mark.parametrize("protocol_id", [0x00, 0x40, 0x41, 0x7F, 0xFF])
def test_protocol_id_is_tp_pid(protocol_id: int) -> None:
    messages = run(submit(protocol_id=protocol_id, short_message=b"x" * 200))
    assert [tpdu(m).pid for m in messages] == [protocol_id, protocol_id]


# --- properties -----------------------------------------------------------------------------


def _gsm_characters() -> list[str]:
    chars = {decode_gsm7(bytes((code,))) for code in range(128) if code != 0x1B}
    chars |= {decode_gsm7(bytes((0x1B, code))) for code in range(128)}
    return sorted(ch for ch in chars if gsm7_septet_count(ch) is not None)


GSM_CHARACTERS = _gsm_characters()


@settings(max_examples=60, deadline=None)
@given(st.text(st.sampled_from(GSM_CHARACTERS), min_size=1, max_size=1000))
def test_gsm_text_in_message_payload_is_kept(text: str) -> None:
    messages = run(submit(short_message=b"", tlvs=payload(encode_gsm7(text))))
    submits = check_rows(messages, text)
    assert all(s.dcs == 0x00 for s in submits)
    if len(messages) > 1:
        for number, sms in enumerate(submits, start=1):
            assert sms.user_data.header is not None
            assert sms.user_data.header.concatenation == Concatenation(
                REFERENCE, len(messages), number, 8
            )


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_any_ucs2_text_is_kept(text: str) -> None:
    octets = text.encode("utf-16-be", "surrogatepass")
    messages = run(submit(data_coding=8, short_message=b"", tlvs=payload(octets)))
    submits = check_rows(messages)
    assert b"".join(s.user_data.body for s in submits) == octets


def _outcome(pdu: SubmitSm | DataSm) -> None:
    try:
        messages = run(pdu)
    except SubmitRefused as exc:
        assert exc.command_status in set(CommandStatus) - {CommandStatus.ESME_ROK}
        return
    check_rows(messages)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STRATEGIES[SubmitSm])
def test_any_submit_sm_maps_or_is_refused(pdu: SubmitSm) -> None:
    _outcome(pdu)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    esm_class=st.sampled_from([0x00, 0x03, 0x40, 0x43, 0x80, 0xC0, 0x08]),
    data_coding=st.sampled_from([0, 1, 2, 3, 4, 5, 8, 0xC0, 0xD8, 0xE0, 0xF0, 0xF5, 0xFF]),
    short_message=st.binary(max_size=254),
    extra=st.one_of(
        st.just(()),
        st.builds(sar, st.integers(0, 0xFFFF), st.integers(0, 4), st.integers(0, 4)),
        st.binary(max_size=600).map(payload),
        tlvs,
    ),
    validity_period=smpp_time,
    registered_delivery=st.integers(0, 255),
    protocol_id=st.integers(0, 255),
)
def test_valid_addresses_any_message_maps_or_is_refused(
    *,
    esm_class: int,
    data_coding: int,
    short_message: bytes,
    extra: tuple[Tlv, ...],
    validity_period: str,
    registered_delivery: int,
    protocol_id: int,
) -> None:
    fields: dict[str, Any] = {
        "esm_class": esm_class,
        "data_coding": data_coding,
        "short_message": short_message,
        "tlvs": extra,
        "validity_period": validity_period,
        "registered_delivery": registered_delivery,
        "protocol_id": protocol_id,
    }
    _outcome(submit(**fields))
    _outcome(replace(DATA_BASE, esm_class=esm_class, data_coding=data_coding, tlvs=extra))


@pytest.mark.parametrize(
    ("seconds", "expires_at"),
    [
        (3600, NOW + timedelta(hours=1)),
        (1, NOW + timedelta(seconds=1)),
        (0xFFFFFFFF, NOW + timedelta(days=7)),  # capped at max_validity
    ],
)
def test_data_sm_qos_time_to_live_is_its_validity(seconds: int, expires_at: datetime) -> None:
    tlvs = (*payload(b"hi"), make_tlv(Tag.QOS_TIME_TO_LIVE, seconds.to_bytes(4, "big")))
    assert one(replace(DATA_BASE, tlvs=tlvs)).expires_at == expires_at


def test_data_sm_qos_time_to_live_0_is_refused() -> None:
    tlvs = (*payload(b"hi"), make_tlv(Tag.QOS_TIME_TO_LIVE, bytes(4)))
    refused(replace(DATA_BASE, tlvs=tlvs), S.ESME_RINVEXPIRY)
