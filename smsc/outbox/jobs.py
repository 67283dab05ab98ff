"""The outbox's jobs: what is POSTed where (or sent to an ESME over SMPP), and how far it got."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "HTTP_KINDS",
    "SMPP_KINDS",
    "SMPP_PDU_CONTENT_TYPE",
    "NewOutboxJob",
    "OutboxKind",
    "OutboxState",
    "StoredOutboxJob",
]


class OutboxKind(StrEnum):
    """What a job delivers (a metric label)."""

    APPLICATION = "application"
    """An MO SMS to an application (routing.applications)."""
    DELIVERY_REPORT = "delivery-report"
    """The final outcome of an API submission, to its callback_url or the webhook."""
    SMPP_RECEIPT = "smpp-receipt"
    """SMPP 3.4 Appendix B: the final outcome of an ESME's submit_sm, as a deliver_sm."""
    SMPP_MO = "smpp-mo"
    """SMPP 3.4 §4.6.1: an MO SMS to an SMPP account, as a deliver_sm to its receivers."""


HTTP_KINDS: frozenset[OutboxKind] = frozenset({OutboxKind.APPLICATION, OutboxKind.DELIVERY_REPORT})
"""The jobs the HTTP delivery engine POSTs."""
SMPP_KINDS: frozenset[OutboxKind] = frozenset({OutboxKind.SMPP_RECEIPT, OutboxKind.SMPP_MO})
"""The jobs sent to an ESME's receiver sessions: `target` its system_id, `url` "smpp:" and the
system_id, `body` the encoded deliver_sm (sequence number 0: the sender puts a fresh one)."""
SMPP_PDU_CONTENT_TYPE = "application/vnd.smpp-pdu"
"""The content_type of an SMPP job's body."""


class OutboxState(StrEnum):
    """held (a segment waiting for the rest of its message) -> pending -> delivering ->
    delivered; expired when its time ran out first."""

    HELD = "held"
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class NewOutboxJob:
    """One POST to make until it gets a 2xx. Secrets (auth headers) are not kept here: they
    come from the configuration of `target` when the job is sent."""

    kind: OutboxKind
    target: str
    """The application's name, "callback" / "webhook" for delivery reports, or the ESME's
    system_id for SMPP jobs."""
    url: str
    body: bytes
    content_type: str
    created_at: datetime
    expires_at: datetime | None = None
    """Past it an undelivered job is expired and not sent again; None = never."""
    timeout_ms: int = 5000
    verify_tls: bool = True
    dedupe_key: str | None = None
    """Unique: adding a job whose key is kept already returns the kept job's id."""
    group_key: str | None = None
    """The segments of one concatenated MO share it; one POST carries the whole group."""
    group_size: int = 1
    group_part: int = 1
    reference: str | None = None
    """What the job is about (a submission id), for the log and the API."""


@dataclass(frozen=True, slots=True)
class StoredOutboxJob:
    """A kept job with its delivery state."""

    id: int
    job: NewOutboxJob
    state: OutboxState
    attempts: int = 0
    last_http_status: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
