"""The body of POST /api/v1/messages, validated by a model (pydantic): every field error at
once, each naming its field."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

from smsc.service.model import DEFAULT_VALIDITY
from smsc.service.submit import Submission, SubmissionError, parse_originator, parse_recipient
from smsc.sms.validity import MAX_RELATIVE_VALIDITY

MIN_VALIDITY_S = 300
MAX_VALIDITY_S = int(MAX_RELATIVE_VALIDITY.total_seconds())
MAX_BODY_OCTETS = 64 * 1024
"""Larger request bodies are refused with 413 before they are parsed."""


class MessageRequest(BaseModel):
    """POST /api/v1/messages."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    to: Annotated[str, Field(description="Recipient, E.164 with or without '+'")]
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
    validity_s: StrictInt = Field(
        default=int(DEFAULT_VALIDITY.total_seconds()),
        ge=MIN_VALIDITY_S,
        le=MAX_VALIDITY_S,
        description="How long to try, in seconds (300 s to 63 weeks)",
    )

    @field_validator("to")
    @classmethod
    def _recipient(cls, value: str) -> str:
        _checked(parse_recipient, value)
        return value

    @field_validator("sender")
    @classmethod
    def _originator(cls, value: str) -> str:
        _checked(parse_originator, value)
        return value

    @field_validator("text")
    @classmethod
    def _encodable(cls, value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("is not valid Unicode text (lone surrogate)") from None
        return value

    def submission(self) -> Submission:
        """The service's view of the request."""
        return Submission(
            parse_recipient(self.to),
            parse_originator(self.sender),
            self.text,
            self.status_report,
            timedelta(seconds=self.validity_s),
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


def parse_message_request(raw: bytes) -> MessageRequest:
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
        return MessageRequest.model_validate(document)
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
