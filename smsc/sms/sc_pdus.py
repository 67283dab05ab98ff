"""What the service centre sends: RP answers to MO, and MT RP-DATA built from a stored submit."""

from __future__ import annotations

from datetime import datetime

from smsc.sms.address import Address
from smsc.sms.constants import RpMessageType
from smsc.sms.rp import RpAck, RpData, RpError, encode_rp
from smsc.sms.tp import SmsDeliver, SmsSubmit, SmsSubmitReport, encode_tpdu


def submit_ack(rp_mr: int, scts: datetime) -> bytes:
    """TS 24.011 §7.3.3 RP-ACK carrying an SMS-SUBMIT-REPORT for RP-ACK (TS 23.040 §9.2.2.2a)."""
    report = encode_tpdu(SmsSubmitReport(scts))
    return encode_rp(RpAck(RpMessageType.RP_ACK_N_TO_MS, rp_mr, report))


def submit_error(rp_mr: int, cause: int, scts: datetime, failure_cause: int | None) -> bytes:
    """TS 24.011 §7.3.4 RP-ERROR, with an SMS-SUBMIT-REPORT for RP-ERROR when TP-FCS is known."""
    report = None
    if failure_cause is not None:
        report = encode_tpdu(SmsSubmitReport(scts, failure_cause))
    return encode_rp(RpError(RpMessageType.RP_ERROR_N_TO_MS, rp_mr, cause, None, report))


def bare_ack(rp_mr: int) -> bytes:
    """TS 24.011 §7.3.3 RP-ACK without user data (the answer to RP-SMMA)."""
    return encode_rp(RpAck(RpMessageType.RP_ACK_N_TO_MS, rp_mr))


def deliver_from_submit(
    submit: SmsSubmit, originator: Address, scts: datetime, *, more_messages: bool = False
) -> SmsDeliver:
    """TS 23.040 §9.2.2.1: the SMS-DELIVER the SC makes of a received SMS-SUBMIT; TP-MMS
    (§9.2.3.2) says whether the SC holds more messages for the recipient."""
    return SmsDeliver(
        originator,
        submit.pid,
        submit.dcs,
        scts,
        submit.user_data,
        no_more_messages=not more_messages,
        status_report_indication=submit.status_report_request,
        reply_path=submit.reply_path,
    )


def with_more_messages(tpdu: bytes, more: bool) -> bytes:
    """TS 23.040 §9.2.3.2: a stored SMS-DELIVER or SMS-STATUS-REPORT with TP-MMS set for
    `more` (bit 2 of the first octet is 0 while more messages are waiting)."""
    if not tpdu:
        return tpdu
    first = tpdu[0] & ~0x04 if more else tpdu[0] | 0x04
    return bytes((first,)) + tpdu[1:]


def mt_rp_data(
    rp_mr: int, sc_address: Address, tpdu: bytes, destination: Address | None = None
) -> bytes:
    """TS 24.011 §7.3.1.2 RP-DATA N->MS; RP-DA stays empty unless a quirk asks for it."""
    return encode_rp(RpData(RpMessageType.RP_DATA_N_TO_MS, rp_mr, sc_address, destination, tpdu))
