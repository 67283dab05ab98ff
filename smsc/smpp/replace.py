"""replace_sm (SMPP 3.4 §4.10) of a pending SMS: the replacement as the submit mapping makes
it, with what replace_sm leaves empty kept from the original."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from smsc.routing.numbering import DiallingPlan
from smsc.service.model import MessageState, NewMessage, StoredMessage
from smsc.smpp.constants import CommandStatus
from smsc.smpp.pdu import ReplaceSm, SubmitSm
from smsc.smpp.submit import SubmitPolicy, SubmitRefused, messages_from_submit
from smsc.sms.constants import RpMessageType
from smsc.sms.errors import DecodeError
from smsc.sms.tp import SmsSubmit, decode_tpdu

__all__ = ["Replacement", "replacement"]

_DATA_CODING_OF_DCS = {0x00: 0x00, 0x04: 0x04, 0x08: 0x08}
"""TS 23.038 TP-DCS of a stored SMS -> the SMPP data_coding its replacement is read in: GSM
7-bit (unpacked septets), 8-bit data, UCS2; 0xC0-0xFF are themselves (§5.2.19)."""
_GSM_GROUPS = 0xC0


@dataclass(frozen=True, slots=True)
class Replacement:
    """The new content of a stored SMS; `reschedule`: replace_sm gave a schedule_delivery_time
    (the message's state and next attempt follow `message.deliver_at`), else they stay."""

    message: NewMessage
    reschedule: bool


def replacement(
    pdu: ReplaceSm,
    stored: StoredMessage,
    policy: SubmitPolicy,
    plan: DiallingPlan,
    now: datetime,
) -> Replacement:
    """SMPP 3.4 §4.10.1: `stored` (one pending SMS of the account) with replace_sm's
    short_message, read in the original's alphabet, and its registered_delivery; its
    schedule_delivery_time and validity_period when given, else the original's. Raises
    SubmitRefused (ESME_RREPLACEFAIL, or the submit mapping's own status for a bad field)."""
    original = stored.message
    submit = _original_submit(original)
    data_coding = _data_coding(submit.dcs)
    as_submit = SubmitSm(
        source_addr_ton=pdu.source_addr_ton,
        source_addr_npi=pdu.source_addr_npi,
        source_addr=pdu.source_addr,
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=original.recipient,
        protocol_id=submit.pid,
        priority_flag=original.priority,
        schedule_delivery_time=pdu.schedule_delivery_time,
        validity_period=pdu.validity_period,
        registered_delivery=pdu.registered_delivery,
        data_coding=data_coding,
        short_message=pdu.short_message,
    )
    made = messages_from_submit(as_submit, policy, plan, now, reference=0)
    if len(made) != 1:
        raise SubmitRefused("the replacement does not fit one SMS", CommandStatus.ESME_RREPLACEFAIL)
    (new,) = made
    reschedule = bool(pdu.schedule_delivery_time)
    kept = replace(
        new,
        submission_id=original.submission_id,
        received_at=original.received_at,
        deliver_at=new.deliver_at if reschedule else original.deliver_at,
        expires_at=new.expires_at if pdu.validity_period else original.expires_at,
    )
    if kept.deliver_at is not None and kept.expires_at <= kept.deliver_at:
        raise SubmitRefused(
            "the validity period ends before the schedule_delivery_time",
            CommandStatus.ESME_RINVEXPIRY,
        )
    if reschedule and stored.state is MessageState.QUEUED and new.deliver_at is None:
        reschedule = False  # queued, and to go now: it keeps its place and its next attempt
    return Replacement(kept, reschedule)


def _original_submit(message: NewMessage) -> SmsSubmit:
    try:
        submit = decode_tpdu(message.submit_tpdu, RpMessageType.RP_DATA_MS_TO_N)
    except DecodeError:
        submit = None
    if not isinstance(submit, SmsSubmit):
        raise SubmitRefused("the stored SMS cannot be read", CommandStatus.ESME_RREPLACEFAIL)
    return submit


def _data_coding(dcs: int) -> int:
    if dcs >= _GSM_GROUPS:
        return dcs
    data_coding = _DATA_CODING_OF_DCS.get(dcs)
    if data_coding is None:
        raise SubmitRefused(
            f"the stored SMS's TP-DCS {dcs:#04x} has no SMPP data_coding to replace it in",
            CommandStatus.ESME_RREPLACEFAIL,
        )
    return data_coding
