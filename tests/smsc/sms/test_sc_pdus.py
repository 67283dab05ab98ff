"""What the SC sends: RP-ACK/RP-ERROR answers and the MT RP-DATA with an empty RP-DA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from smsc.sms.address import Address
from smsc.sms.constants import Alphabet, RpMessageType, TpFailureCause
from smsc.sms.rp import RpAck, RpData, RpError, decode_rp
from smsc.sms.sc_pdus import (
    bare_ack,
    deliver_from_submit,
    mt_rp_data,
    submit_ack,
    submit_error,
    with_more_messages,
)
from smsc.sms.tp import SmsDeliver, SmsSubmit, SmsSubmitReport, decode_tpdu, encode_tpdu
from smsc.sms.user_data import make_user_data

WHEN = datetime(2026, 11, 26, 10, 0, tzinfo=timezone(timedelta(hours=1)))
SC = Address("491710760000")


def test_submit_ack_carries_a_submit_report() -> None:
    message = decode_rp(submit_ack(0x22, WHEN))
    assert isinstance(message, RpAck)
    assert message.message_type == RpMessageType.RP_ACK_N_TO_MS
    assert message.message_reference == 0x22
    assert message.user_data is not None
    report = decode_tpdu(message.user_data, message.message_type)
    assert report == SmsSubmitReport(WHEN)


def test_submit_error_with_and_without_report() -> None:
    message = decode_rp(submit_error(5, 42, WHEN, TpFailureCause.SC_BUSY))
    assert isinstance(message, RpError)
    assert message.cause == 42
    assert message.user_data is not None
    report = decode_tpdu(message.user_data, message.message_type)
    assert isinstance(report, SmsSubmitReport)
    assert report.failure_cause == TpFailureCause.SC_BUSY
    assert decode_rp(submit_error(5, 96, WHEN, None)) == RpError(
        RpMessageType.RP_ERROR_N_TO_MS, 5, 96
    )
    assert bare_ack(7) == bytes.fromhex("0307")


def test_mt_rp_data_has_empty_rp_da_and_alphanumeric_sender() -> None:
    submit = SmsSubmit(
        3, Address("4917"), 0, 0, make_user_data("Hi", Alphabet.GSM7), status_report_request=True
    )
    deliver = deliver_from_submit(submit, Address.alphanumeric("MyBank"), WHEN)
    body = mt_rp_data(9, SC, encode_tpdu(deliver))
    assert body[10] == 0x00  # RP-DA length 0 right after the SC address (07 91 ...)
    message = decode_rp(body)
    assert isinstance(message, RpData)
    assert message.destination is None
    assert message.originator == SC
    decoded = decode_tpdu(message.user_data, message.message_type)
    assert isinstance(decoded, SmsDeliver)
    assert decoded.originator == Address.alphanumeric("MyBank")
    assert decoded.status_report_indication
    assert decoded.scts == WHEN
    assert decoded.user_data.text == "Hi"


def test_filled_rp_da_quirk() -> None:
    body = mt_rp_data(1, SC, b"\x04", Address("4917"))
    message = decode_rp(body)
    assert isinstance(message, RpData)
    assert message.destination == Address("4917")


def test_tp_mms_of_a_stored_tpdu_follows_the_queue() -> None:
    """TS 23.040 §9.2.3.2: bit 2 of the first octet is 0 while more messages are waiting."""
    report = bytes((0x06, 0x42)) + bytes(20)  # SMS-STATUS-REPORT, TP-MMS "no more"
    assert with_more_messages(report, True)[0] == 0x02
    assert with_more_messages(report, False)[0] == 0x06
    assert with_more_messages(with_more_messages(report, True), False) == report
    assert with_more_messages(b"", True) == b""
    submit = decode_tpdu(
        bytes.fromhex("0100" + "0b919471011232f5" + "0000" + "04d4f29c0e"),
        RpMessageType.RP_DATA_MS_TO_N,
    )
    assert isinstance(submit, SmsSubmit)
    scts = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    deliver = deliver_from_submit(submit, Address("491710000001"), scts, more_messages=True)
    assert deliver.no_more_messages is False
    assert encode_tpdu(deliver)[0] & 0x04 == 0
