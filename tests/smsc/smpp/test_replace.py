"""replace_sm's replacement (SMPP 3.4 §4.10.1) of a stored SMS: read in the original's
alphabet, what replace_sm leaves empty kept from the original, one SMS at most."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from smsc.routing.numbering import DiallingPlan
from smsc.service.model import MessageState, NewMessage, StoredMessage
from smsc.smpp.constants import CommandStatus
from smsc.smpp.pdu import ReplaceSm, SubmitSm
from smsc.smpp.replace import replacement
from smsc.smpp.submit import SubmitPolicy, SubmitRefused, messages_from_submit
from smsc.smpp.times import format_time
from smsc.sms.constants import RpMessageType
from smsc.sms.tp import SmsSubmit, decode_tpdu, encode_tpdu

S = CommandStatus
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)
PLAN = DiallingPlan()
POLICY = SubmitPolicy("acme", ("*",), timedelta(days=2))
SOURCE = {"source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "MyBank"}


def stored(state: MessageState = MessageState.SCHEDULED, **fields: object) -> StoredMessage:
    values: dict[str, object] = {
        "dest_addr_ton": 1,
        "dest_addr_npi": 1,
        "destination_addr": "4917612345678",
        "short_message": b"Old text",
        "registered_delivery": 1,
        "schedule_delivery_time": format_time(NOW + timedelta(hours=1)),
        "protocol_id": 0x41,
        "priority_flag": 2,
        **SOURCE,
        **fields,
    }
    pdu = SubmitSm(**values)  # type: ignore[arg-type]
    (message,) = messages_from_submit(pdu, POLICY, PLAN, NOW - timedelta(minutes=5), reference=1)
    return StoredMessage(id=7, message=message, state=state)


def submit_of(message: NewMessage) -> SmsSubmit:
    decoded = decode_tpdu(message.submit_tpdu, RpMessageType.RP_DATA_MS_TO_N)
    assert isinstance(decoded, SmsSubmit)
    return decoded


def replace_sm(**fields: object) -> ReplaceSm:
    values: dict[str, object] = {"message_id": "x", "short_message": b"New text", **SOURCE}
    return ReplaceSm(**{**values, **fields})  # type: ignore[arg-type]


def test_the_text_is_replaced_and_the_rest_kept() -> None:
    original = stored()
    new = replacement(replace_sm(), original, POLICY, PLAN, LATER)
    assert new.reschedule is False
    message = new.message
    assert message.text == "New text" and submit_of(message).user_data.text == "New text"
    kept = original.message
    assert (message.submission_id, message.received_at) == (kept.submission_id, kept.received_at)
    assert (message.deliver_at, message.expires_at) == (kept.deliver_at, kept.expires_at)
    assert (message.priority, submit_of(message).pid) == (2, 0x41)
    assert (message.status_report, message.source) == (False, "smpp:acme")  # no receipt now


def test_a_new_schedule_and_validity_and_receipt() -> None:
    new = replacement(
        replace_sm(
            schedule_delivery_time="000000020000000R",
            validity_period="000000030000000R",
            registered_delivery=1,
        ),
        stored(),
        POLICY,
        PLAN,
        LATER,
    )
    assert new.reschedule is True
    assert new.message.deliver_at == LATER + timedelta(hours=2)
    assert new.message.expires_at == LATER + timedelta(hours=3)
    assert (new.message.status_report, new.message.source) == (True, "smpp:acme")


@pytest.mark.parametrize("state", [MessageState.SCHEDULED, MessageState.QUEUED])
def test_a_schedule_in_the_past_is_now(state: MessageState) -> None:
    past = format_time(LATER - timedelta(minutes=1))
    new = replacement(replace_sm(schedule_delivery_time=past), stored(state), POLICY, PLAN, LATER)
    assert new.message.deliver_at is None
    assert new.reschedule is (state is MessageState.SCHEDULED)  # a queued one keeps its place


def test_ucs2_is_replaced_in_ucs2() -> None:
    original = stored(data_coding=8, short_message="Привет".encode("utf-16-be"))
    new = replacement(
        replace_sm(short_message="Пока".encode("utf-16-be")), original, POLICY, PLAN, LATER
    )
    assert new.message.text == "Пока"
    assert submit_of(new.message).dcs == 0x08


def test_a_replacement_longer_than_one_sms_is_refused() -> None:
    with pytest.raises(SubmitRefused) as info:
        replacement(replace_sm(short_message=b"x" * 161), stored(), POLICY, PLAN, LATER)
    assert info.value.command_status == S.ESME_RREPLACEFAIL


def test_a_schedule_after_the_kept_validity_is_refused() -> None:
    original = stored()
    assert original.message.expires_at is not None
    after = format_time(original.message.expires_at + timedelta(hours=1))
    with pytest.raises(SubmitRefused) as info:
        replacement(replace_sm(schedule_delivery_time=after), original, POLICY, PLAN, LATER)
    assert info.value.command_status == S.ESME_RINVEXPIRY


def test_an_original_in_a_class_coding_has_no_data_coding_to_replace_in() -> None:
    original = stored()
    submit = submit_of(original.message)
    classed = replace(submit, dcs=0x11)  # general group, GSM 7-bit, class 1
    odd = replace(original, message=replace(original.message, submit_tpdu=encode_tpdu(classed)))
    with pytest.raises(SubmitRefused) as info:
        replacement(replace_sm(), odd, POLICY, PLAN, LATER)
    assert info.value.command_status == S.ESME_RREPLACEFAIL
