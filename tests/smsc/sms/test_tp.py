"""TS 23.040 TPDUs: round trips of every type, direction from the RP MTI, strict decoding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.sms.address import Address
from smsc.sms.constants import (
    Alphabet,
    RpMessageType,
    TpFailureCause,
    TpMessageType,
    TpStatus,
    TypeOfNumber,
)
from smsc.sms.errors import EncodeError, TpduDecodeError
from smsc.sms.tp import (
    SmsCommand,
    SmsDeliver,
    SmsDeliverReport,
    SmsStatusReport,
    SmsSubmit,
    SmsSubmitReport,
    Tpdu,
    decode_tpdu,
    encode_tpdu,
)
from smsc.sms.user_data import make_user_data
from smsc.sms.validity import AbsoluteValidity, EnhancedValidity, RelativeValidity
from tests.smsc.sms.strategies import TPDU_CARRIERS

CET = timezone(timedelta(hours=1))
WHEN = datetime(2026, 11, 26, 10, 0, 0, tzinfo=CET)


@pytest.mark.parametrize(("strategy", "carrier"), TPDU_CARRIERS, ids=lambda v: str(v)[:30])
@given(data=st.data())
def test_every_tpdu_type_round_trips(
    strategy: st.SearchStrategy[Tpdu], carrier: RpMessageType, data: st.DataObject
) -> None:
    tpdu = data.draw(strategy)
    wire = encode_tpdu(tpdu)
    decoded = decode_tpdu(wire, carrier)
    assert decoded == tpdu
    assert encode_tpdu(decoded) == wire


def test_direction_comes_from_the_rp_mti() -> None:
    # TP-MTI 00 is SMS-DELIVER towards the MS and SMS-DELIVER-REPORT from it.
    assert isinstance(
        decode_tpdu(bytes.fromhex("0000"), RpMessageType.RP_ACK_MS_TO_N), SmsDeliverReport
    )
    deliver = bytes.fromhex("040b913306000000f000007101911172758004d4f29c0e")
    assert isinstance(decode_tpdu(deliver, RpMessageType.RP_DATA_N_TO_MS), SmsDeliver)
    # TP-MTI 01 is SMS-SUBMIT from the MS and SMS-SUBMIT-REPORT towards it.
    report = bytes.fromhex("01" + "00" + "6211620100002b")
    assert isinstance(decode_tpdu(report, RpMessageType.RP_ACK_N_TO_MS), SmsSubmitReport)


@pytest.mark.parametrize(
    ("hex_tpdu", "carrier"),
    [
        ("0000", RpMessageType.RP_DATA_MS_TO_N),  # DELIVER-REPORT inside RP-DATA
        ("03", RpMessageType.RP_DATA_MS_TO_N),  # reserved TP-MTI
        ("03", RpMessageType.RP_DATA_N_TO_MS),
        ("01", RpMessageType.RP_DATA_N_TO_MS),  # SUBMIT-REPORT inside RP-DATA
        ("02", RpMessageType.RP_ACK_MS_TO_N),  # COMMAND inside RP-ACK
    ],
)
def test_tpdu_that_does_not_belong_in_its_carrier_is_rejected(
    hex_tpdu: str, carrier: RpMessageType
) -> None:
    with pytest.raises(TpduDecodeError) as info:
        decode_tpdu(bytes.fromhex(hex_tpdu), carrier)
    assert info.value.tp_fcs == TpFailureCause.TPDU_NOT_SUPPORTED


def test_submit_report_error_form_has_fcs_then_scts() -> None:
    report = SmsSubmitReport(WHEN, TpFailureCause.SC_BUSY)
    wire = encode_tpdu(report)
    assert wire.hex() == "01c000" + "6211620100004" + "0"
    assert decode_tpdu(wire, RpMessageType.RP_ERROR_N_TO_MS) == report


def test_submit_report_without_scts_is_short_data() -> None:
    with pytest.raises(TpduDecodeError):
        decode_tpdu(bytes.fromhex("01c000"), RpMessageType.RP_ERROR_N_TO_MS)


def test_deliver_report_error_form_memory_full() -> None:
    wire = bytes.fromhex("00d300")
    report = decode_tpdu(wire, RpMessageType.RP_ERROR_MS_TO_N)
    assert report == SmsDeliverReport(TpFailureCause.MEMORY_CAPACITY_EXCEEDED, 0)


def test_deliver_report_with_optional_parameters() -> None:
    user_data = make_user_data("ok", Alphabet.GSM7)
    report = SmsDeliverReport(None, 0x07, 0x7F, 0x00, user_data)
    wire = encode_tpdu(report)
    assert wire.hex() == "00077f0002ef35"
    assert decode_tpdu(wire, RpMessageType.RP_ACK_MS_TO_N) == report


def test_deliver_with_alphanumeric_sender() -> None:
    deliver = SmsDeliver(
        Address.alphanumeric("MyBank"), 0, 0, WHEN, make_user_data("Hi", Alphabet.GSM7)
    )
    wire = encode_tpdu(deliver)
    assert wire[1:3] == bytes((11, 0xD0))  # 6 characters = 42 bits = 11 semi-octets
    assert decode_tpdu(wire, RpMessageType.RP_DATA_N_TO_MS) == deliver


def test_submit_with_every_validity_format() -> None:
    for validity, vpf in [
        (None, 0),
        (RelativeValidity(0xA7), 2),
        (AbsoluteValidity(WHEN), 3),
        (EnhancedValidity(bytes.fromhex("02ff0000000000")), 1),
    ]:
        submit = SmsSubmit(1, Address("4917"), 0, 0, make_user_data("x", Alphabet.GSM7), validity)
        wire = encode_tpdu(submit)
        assert (wire[0] >> 3) & 3 == vpf
        assert decode_tpdu(wire, RpMessageType.RP_DATA_MS_TO_N) == submit


def test_status_report_with_and_without_parameter_indicator() -> None:
    base = SmsStatusReport(
        0xD6, Address("31628870634"), WHEN, WHEN + timedelta(seconds=2), TpStatus.RECEIVED_BY_SME
    )
    wire = encode_tpdu(base)
    assert len(wire) == 2 + 8 + 14 + 1
    with_pi = SmsStatusReport(0xD6, Address("31628870634"), WHEN, WHEN, 0x46, parameter_indicator=0)
    wire_pi = encode_tpdu(with_pi)
    assert wire_pi[-2:] == bytes((0x46, 0x00))
    for report in (base, with_pi):
        assert decode_tpdu(encode_tpdu(report), RpMessageType.RP_DATA_N_TO_MS) == report


def test_status_report_pi_announcing_missing_fields_is_rejected() -> None:
    wire = (
        encode_tpdu(SmsStatusReport(1, Address("1"), WHEN, WHEN, 0, parameter_indicator=0))[:-1]
        + b"\x01"
    )
    with pytest.raises(TpduDecodeError):
        decode_tpdu(wire, RpMessageType.RP_DATA_N_TO_MS)


def test_command_round_trip_and_cdl_mismatch() -> None:
    command = SmsCommand(5, 0, 2, 7, Address("4917"), b"\x01\x02")
    wire = encode_tpdu(command)
    assert wire.hex() == "02050002070491947102" + "0102"
    assert decode_tpdu(wire, RpMessageType.RP_DATA_MS_TO_N) == command
    with pytest.raises(TpduDecodeError):
        decode_tpdu(wire[:-1], RpMessageType.RP_DATA_MS_TO_N)


@pytest.mark.parametrize(
    "hex_tpdu",
    [
        "",
        "01",  # SUBMIT without TP-MR
        "0184",  # no TP-DA
        "01840a8160",  # TP-DA truncated
        "01841581" + "11" * 11,  # TP-DA of 21 semi-octets
        "01840a816000000000",  # no PID/DCS
        "01840a81600000000000",  # no TP-UDL
        "01840a8160000000000004d4f29c",  # GSM7 user data short of one octet
        "01840a8160000000000004d4f29c0e00",  # an octet after the user data
        "11840a81600000000000",  # relative VP missing
        "19840a8160000000000000",  # absolute VP truncated
        "01840a816000000000000804304253",  # UCS2 odd length
    ],
)
def test_malformed_submit_is_a_typed_error(hex_tpdu: str) -> None:
    with pytest.raises(TpduDecodeError) as info:
        decode_tpdu(bytes.fromhex(hex_tpdu), RpMessageType.RP_DATA_MS_TO_N)
    assert info.value.rp_cause in (95, 96)


def test_gsm7_udl_overflow_is_rejected() -> None:
    # TP-UDL claims 160 septets but 4 octets follow (Wireshark: malformed).
    with pytest.raises(TpduDecodeError):
        decode_tpdu(bytes.fromhex("01840a81600000000000a0d4f29c0e"), RpMessageType.RP_DATA_MS_TO_N)


def test_ucs2_udl_larger_than_data_is_rejected() -> None:
    # Wireshark accepts this silently; we do not (TS 23.040 §9.2.3.16).
    with pytest.raises(TpduDecodeError):
        decode_tpdu(
            bytes.fromhex("01000b914316565811f900080a304253f68449"), RpMessageType.RP_DATA_MS_TO_N
        )


def test_invalid_timestamp_is_rejected() -> None:
    deliver = bytes.fromhex("040b913306000000f00000" + "71139111727580" + "00")
    with pytest.raises(TpduDecodeError):
        decode_tpdu(deliver, RpMessageType.RP_DATA_N_TO_MS)


def test_compressed_dcs_counts_octets_and_has_no_text() -> None:
    body = bytes.fromhex("0102030405")
    wire = bytes.fromhex("01000491947100" + "20" + "05") + body
    submit = decode_tpdu(wire, RpMessageType.RP_DATA_MS_TO_N)
    assert isinstance(submit, SmsSubmit)
    assert submit.user_data.text is None
    assert submit.user_data.body == body
    assert encode_tpdu(submit) == wire


def test_encode_refuses_out_of_range_fields() -> None:
    with pytest.raises(EncodeError):
        encode_tpdu(SmsSubmit(256, Address("1"), 0, 0, make_user_data("", Alphabet.GSM7)))
    with pytest.raises(EncodeError):
        encode_tpdu(
            SmsDeliver(Address("1"), 0, 0, datetime(2026, 1, 1), make_user_data("", Alphabet.GSM7))
        )
    with pytest.raises(EncodeError):
        encode_tpdu(SmsCommand(1, 0, 0, 0, Address("1"), bytes(158)))


def test_message_types_are_named_after_the_spec() -> None:
    assert SmsDeliver.message_type == TpMessageType.SMS_DELIVER
    assert Address.alphanumeric("x").ton == TypeOfNumber.ALPHANUMERIC
    assert datetime(2026, 1, 1, tzinfo=UTC).utcoffset() == timedelta(0)
