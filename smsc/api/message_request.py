"""The body of POST /api/v1/messages, validated by a model (pydantic): every field error at
once, each naming its field."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from smsc.routing.numbering import DiallingPlan
from smsc.service.model import DEFAULT_VALIDITY, MAX_SCHEDULE
from smsc.service.submit import Submission, SubmissionError, parse_originator, parse_recipient
from smsc.sms.validity import MAX_RELATIVE_VALIDITY

MIN_VALIDITY_S = 300
MAX_VALIDITY_S = int(MAX_RELATIVE_VALIDITY.total_seconds())
MAX_BODY_OCTETS = 64 * 1024
"""Larger request bodies are refused with 413 before they are parsed."""
MAX_CLIENT_REF = 64


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """What a request is checked against: the dialling plan and the allowed callback URLs."""

    plan: DiallingPlan
    callback_url_allow: Sequence[str] = ()


def _policy(info: ValidationInfo) -> RequestPolicy:
    policy = info.context
    if not isinstance(policy, RequestPolicy):
        raise TypeError("MessageRequest is validated with a RequestPolicy as its context")
    return policy


class MessageRequest(BaseModel):
    """POST /api/v1/messages."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    to: Annotated[
        str,
        Field(
            description="Recipient: +E.164, or a number of the home dialling plan (national, "
            "00...), normalised by routing.numbering"
        ),
    ]
    sender: Annotated[
        str,
        Field(
            alias="from",
            description="E.164 number, or an alphanumeric sender of at most 11 GSM characters",
        ),
    ]
    text: Annotated[str, Field(min_length=1, description="The text; long texts are segmented")]
    status_report: StrictBool = Field(
        default=False, description="Report the final outcome to delivery.status_report_webhook"
    )
    callback_url: str | None = Field(
        default=None,
        description="Where the delivery report is POSTed; must start with one of "
        "delivery.callback_url_allow",
    )
    client_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CLIENT_REF,
        description="Your own reference, echoed in the delivery report",
    )
    validity_s: StrictInt = Field(
        default=int(DEFAULT_VALIDITY.total_seconds()),
        ge=MIN_VALIDITY_S,
        le=MAX_VALIDITY_S,
        description="How long to try, in seconds (300 s to 63 weeks), counted from deliver_at "
        "when it is given",
    )
    deliver_at: AwareDatetime | None = Field(
        default=None,
        description="Scheduled delivery: an RFC 3339 time with its offset, at most "
        f"{MAX_SCHEDULE.days} days ahead; the SMS is held until then (a time past is now)",
    )

    @field_validator("to")
    @classmethod
    def _recipient(cls, value: str, info: ValidationInfo) -> str:
        plan = _policy(info).plan
        _checked(lambda text: parse_recipient(text, plan), value)
        return value

    @field_validator("sender")
    @classmethod
    def _originator(cls, value: str, info: ValidationInfo) -> str:
        plan = _policy(info).plan
        _checked(lambda text: parse_originator(text, plan), value)
        return value

    @field_validator("callback_url")
    @classmethod
    def _callback(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        allowed = _policy(info).callback_url_allow
        if not allowed:
            raise ValueError(
                "callbacks per submission are not enabled (delivery.callback_url_allow)"
            )
        if not value.startswith(tuple(allowed)) or any(c.isspace() for c in value):
            raise ValueError("is not under an allowed prefix (delivery.callback_url_allow)")
        return value

    @field_validator("client_ref")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("must be printable text")
        return value

    @field_validator("text")
    @classmethod
    def _encodable(cls, value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("is not valid Unicode text (lone surrogate)") from None
        return value

    def submission(self, plan: DiallingPlan) -> Submission:
        """The service's view of the request, numbers normalised."""
        return Submission(
            parse_recipient(self.to, plan),
            parse_originator(self.sender, plan),
            self.text,
            self.status_report,
            timedelta(seconds=self.validity_s),
            self.callback_url,
            self.client_ref,
            self.deliver_at,
        )


def _checked(parse: Callable[[str], object], value: str) -> None:
    try:
        parse(value)
    except SubmissionError as exc:
        raise ValueError(str(exc).split(": ", 1)[1]) from None


class RequestError(ValueError):
    """The body is not an acceptable request: (field, message) pairs, all of them."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems[0][1])
        self.problems = problems


def _field_of(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "body"


def parse_message_request(raw: bytes, policy: RequestPolicy) -> MessageRequest:
    """JSON bytes -> MessageRequest; RequestError naming every bad field."""
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError([("body", "not valid JSON")]) from None
    except RecursionError:
        raise RequestError([("body", "JSON nested too deeply")]) from None
    if not isinstance(document, dict):
        raise RequestError([("body", "must be a JSON object")])
    try:
        return MessageRequest.model_validate(document, context=policy)
    except ValidationError as exc:
        problems = []
        for item in exc.errors(include_url=False):
            message = str(item["msg"]).removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = "unknown field"
            elif item["type"] == "missing":
                message = "is required"
            problems.append((_field_of(item["loc"]), message))
        raise RequestError(problems) from None
    except RecursionError:
        raise RequestError([("body", "JSON nested too deeply")]) from None
