"""Messages submitted by an application (HTTP API): text -> segmented SMS-SUBMITs to store."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from smsc.routing.numbering import DiallingPlan, NumberKind, NumberRefused, normalise_text
from smsc.service.model import (
    DEFAULT_VALIDITY,
    MAX_SCHEDULE,
    MessageOrigin,
    NewMessage,
    new_submission_id,
)
from smsc.sms.address import Address
from smsc.sms.alphabet import gsm7_septet_count
from smsc.sms.constants import TypeOfNumber
from smsc.sms.dcs import dcs_for
from smsc.sms.errors import EncodeError
from smsc.sms.segments import segment_text
from smsc.sms.tp import SmsSubmit, encode_tpdu
from smsc.sms.validity import RelativeValidity, relative_value


class SubmissionError(ValueError):
    """The request is not acceptable; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Submission:
    """A validated API request."""

    recipient: str
    originator: Address
    text: str
    status_report: bool = False
    validity: timedelta = DEFAULT_VALIDITY
    callback_url: str | None = None
    """Where the delivery report goes (an allowed prefix was checked); None: the webhook."""
    client_ref: str | None = None
    deliver_at: datetime | None = None
    """Not delivered before this (aware); None or a time past: now."""


def parse_recipient(value: object, plan: DiallingPlan) -> str:
    """A subscriber's number in the dialling plan (+E.164, national, 00...): E.164 digits."""
    if not isinstance(value, str):
        raise SubmissionError("to", "must be a string")
    try:
        number = normalise_text(value.strip(), plan)
    except NumberRefused as exc:
        raise SubmissionError("to", f"is not a number: {exc}") from None
    if number.kind is not NumberKind.E164 or len(number.digits) < 3:
        raise SubmissionError("to", "must be a subscriber's number, not a short code")
    return number.digits


def parse_originator(value: object, plan: DiallingPlan) -> Address:
    """A number (normalised by the dialling plan; a short code stays TON unknown), or an
    alphanumeric sender of at most 11 GSM 7-bit septets (TON 5)."""
    if not isinstance(value, str) or not value.strip():
        raise SubmissionError("from", "must be a non-empty string")
    text = value.strip()
    if text.removeprefix("+").isdigit():
        try:
            number = normalise_text(text, plan)
        except NumberRefused as exc:
            raise SubmissionError("from", f"is not a number: {exc}") from None
        if number.kind is NumberKind.SHORT_CODE:
            return Address(number.digits, TypeOfNumber.UNKNOWN)
        if len(number.digits) < 3:
            raise SubmissionError("from", "an E.164 number has 3 to 15 digits")
        return Address(number.digits, TypeOfNumber.INTERNATIONAL)
    septets = gsm7_septet_count(text)
    if septets is None or septets > 11:
        raise SubmissionError("from", "an alphanumeric sender is at most 11 GSM 7-bit characters")
    return Address.alphanumeric(text)


def build_messages(submission: Submission, now: datetime) -> list[NewMessage]:
    """Segment the text (TS 23.040 §9.2.3.24.1) and make one stored SMS-SUBMIT per segment;
    a delivery time in the future makes them scheduled, their validity counted from it."""
    deliver_at = _schedule(submission.deliver_at, now)
    start = now if deliver_at is None else deliver_at
    try:
        plan = segment_text(submission.text, reference=secrets.randbelow(256))
    except EncodeError as exc:
        raise SubmissionError("text", str(exc)) from None
    submission_id = new_submission_id()
    destination = Address(submission.recipient)
    dcs = dcs_for(plan.alphabet)
    validity = RelativeValidity(relative_value(submission.validity))
    originator = submission.originator
    messages = []
    for number, segment in enumerate(plan.segments, start=1):
        submit = SmsSubmit(
            number & 0xFF,
            destination,
            0,
            dcs,
            segment.user_data,
            validity,
            status_report_request=submission.status_report,
        )
        messages.append(
            NewMessage(
                submission_id=submission_id,
                origin=MessageOrigin.API,
                originator=originator.value,
                originator_ton=int(originator.ton),
                recipient=submission.recipient,
                submit_tpdu=encode_tpdu(submit),
                received_at=now,
                expires_at=start + submission.validity,
                segment=number,
                segments=len(plan.segments),
                text=segment.text,
                status_report=submission.status_report or submission.callback_url is not None,
                callback_url=submission.callback_url,
                client_ref=submission.client_ref,
                deliver_at=deliver_at,
            )
        )
    return messages


def _schedule(deliver_at: datetime | None, now: datetime) -> datetime | None:
    """The delivery time to keep: None for none or one not after `now`; refused when more than
    MAX_SCHEDULE ahead."""
    if deliver_at is None or deliver_at <= now:
        return None
    if deliver_at - now > MAX_SCHEDULE:
        raise SubmissionError("deliver_at", f"is more than {MAX_SCHEDULE.days} days ahead")
    return deliver_at.astimezone(UTC)
