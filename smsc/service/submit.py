"""Messages submitted by an application (HTTP API): text -> segmented SMS-SUBMITs to store."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from smsc.service.model import DEFAULT_VALIDITY, MessageOrigin, NewMessage
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


def parse_recipient(value: object) -> str:
    """E.164 number with or without '+': the digits."""
    if not isinstance(value, str):
        raise SubmissionError("to", "must be a string")
    digits = value.strip().removeprefix("+")
    if not digits.isdigit() or not 3 <= len(digits) <= 15:
        raise SubmissionError("to", "must be an E.164 number of 3 to 15 digits")
    return digits


def parse_originator(value: object) -> Address:
    """E.164 number, or an alphanumeric sender of at most 11 GSM 7-bit septets (TON 5)."""
    if not isinstance(value, str) or not value.strip():
        raise SubmissionError("from", "must be a non-empty string")
    text = value.strip()
    digits = text.removeprefix("+")
    if digits.isdigit():
        if not 3 <= len(digits) <= 15:
            raise SubmissionError("from", "an E.164 number has 3 to 15 digits")
        return Address(
            digits,
            TypeOfNumber.INTERNATIONAL
            if text.startswith("+") or len(digits) > 6
            else TypeOfNumber.UNKNOWN,
        )
    septets = gsm7_septet_count(text)
    if septets is None or septets > 11:
        raise SubmissionError("from", "an alphanumeric sender is at most 11 GSM 7-bit characters")
    return Address.alphanumeric(text)


def build_messages(submission: Submission, now: datetime) -> list[NewMessage]:
    """Segment the text (TS 23.040 §9.2.3.24.1) and make one stored SMS-SUBMIT per segment."""
    try:
        plan = segment_text(submission.text, reference=secrets.randbelow(256))
    except EncodeError as exc:
        raise SubmissionError("text", str(exc)) from None
    submission_id = uuid.uuid4().hex
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
                expires_at=now + submission.validity,
                segment=number,
                segments=len(plan.segments),
                text=segment.text,
                status_report=submission.status_report,
            )
        )
    return messages
