"""The AML report store port: what PSAP delivery and the API need from persistence.

An AML report is written once (before the RP-ACK), then claimed, POSTed to its PSAP and given
an attempt outcome until a PSAP answers 2xx. Reports are never deleted, never given up on.
Implementations: `smsc.store.aml_sql.SqlAmlStore` (SQLite / PostgreSQL) and
`smsc.store.aml_memory.MemoryAmlStore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from smsc.store.errors import StoreError

__all__ = [
    "DEFAULT_LEASE_S",
    "AmlAttempt",
    "AmlReportNotFoundError",
    "AmlState",
    "AmlStore",
    "NewAmlReport",
    "StoredAmlReport",
]

DEFAULT_LEASE_S = 60.0
"""How long a claim holds a report in `delivering` before another claimer may take it."""


class AmlState(StrEnum):
    """Life of a stored AML report: pending -> delivering -> delivered (or back to pending)."""

    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"


@dataclass(frozen=True, slots=True)
class NewAmlReport:
    """An AML (or emergency text) SMS accepted for a PSAP, before the store gives it an id."""

    received_at: datetime
    """When the SMSC received the SMS; aware."""
    sender_msisdn: str
    """The sender (P-Asserted-Identity MSISDN)."""
    destination: str
    """The emergency number dialled (TP-DA digits)."""
    raw_text: str
    """The SMS text as received (`A"ML=1;...`)."""
    parsed_json: str
    """JSON of the parsed report (produced by aml.formats; opaque to the store)."""
    route_name: str
    """The `aml.psaps` route chosen at receipt."""
    format: str
    """json | etsi-https | pidf-lo: snapshot of the route's format at receipt."""
    url: str
    """Snapshot of the route's URL at receipt (used when the route is no longer configured)."""
    roaming_status: str | None = None
    visited_plmn: str | None = None


@dataclass(frozen=True, slots=True)
class AmlAttempt:
    """One POST to a PSAP and its outcome."""

    at: datetime
    ok: bool
    http_status: int | None = None
    """The PSAP's HTTP status; None when no answer came (refused, timeout, TLS failure)."""
    error: str | None = None
    """Why the attempt failed; None for a 2xx."""


@dataclass(frozen=True, slots=True)
class StoredAmlReport:
    """A stored report with its delivery state and every attempt, oldest first."""

    id: int
    report: NewAmlReport
    state: AmlState
    attempts: int
    """Attempts recorded (= len(history))."""
    last_http_status: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    """When a pending report is due again; None = due now."""
    delivered_at: datetime | None = None
    history: tuple[AmlAttempt, ...] = ()


class AmlReportNotFoundError(StoreError):
    """No stored AML report has this id."""

    def __init__(self, report_id: int) -> None:
        super().__init__(f"no stored AML report with id {report_id}")
        self.report_id = report_id


class AmlStore(Protocol):
    """Durable AML report store. Times are aware datetimes (naive ones raise ValueError)."""

    async def start(self) -> None:
        """Get ready (the SQL store needs its message store started: same engine)."""

    async def close(self) -> None:
        """Flush queued writes; later calls raise StoreClosedError."""

    async def add_report(self, report: NewAmlReport) -> int:
        """Store a new pending report; returns its id once it is committed (durable)."""

    async def claim_due(
        self, now: datetime, limit: int, *, lease_s: float = DEFAULT_LEASE_S
    ) -> list[StoredAmlReport]:
        """Move up to `limit` due reports to delivering, oldest first, and return them.

        Due: pending with next_attempt_at None or <= now, or delivering with its lease
        (`lease_s` from its claim) expired, i.e. its claimer died. On PostgreSQL rows are
        claimed with FOR UPDATE SKIP LOCKED: concurrent claimers never get the same report.
        """

    async def record_attempt(
        self,
        report_id: int,
        at: datetime,
        ok: bool,
        *,
        http_status: int | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Keep one attempt; ok -> delivered (delivered_at = at), else pending again, due at
        `next_attempt_at`. A delivered report stays delivered. Returns once committed;
        AmlReportNotFoundError for an unknown id."""

    async def requeue_delivering(self) -> int:
        """Reports left in delivering (by a stopped process) go back to pending, due now."""

    async def get(self, report_id: int) -> StoredAmlReport | None:
        """One report with its attempts."""

    async def recent(self, limit: int) -> list[StoredAmlReport]:
        """The newest `limit` reports, newest first, with their attempts."""

    async def oldest_pending_age(self, now: datetime) -> float | None:
        """Seconds since the oldest not yet delivered report was received; None if none."""

    async def overdue(self, received_before: datetime, limit: int) -> list[int]:
        """Ids of not yet delivered reports received before `received_before`, oldest first."""
