"""In-memory twin of the SQL AML store: same rules, no durability; for service and API tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aml.store import (
    DEFAULT_LEASE_S,
    AmlAttempt,
    AmlReportNotFoundError,
    AmlState,
    NewAmlReport,
    StoredAmlReport,
)
from smsc.store.aml_sql import clean_attempt, clean_report
from smsc.store.errors import StoreClosedError
from smsc.store.tables import to_utc

__all__ = ["MemoryAmlStore"]


@dataclass(slots=True)
class _Record:
    id: int
    report: NewAmlReport
    state: AmlState = AmlState.PENDING
    last_http_status: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    lease_until: datetime | None = None
    delivered_at: datetime | None = None
    history: list[AmlAttempt] = field(default_factory=list)

    def snapshot(self) -> StoredAmlReport:
        return StoredAmlReport(
            id=self.id,
            report=self.report,
            state=self.state,
            attempts=len(self.history),
            last_http_status=self.last_http_status,
            last_error=self.last_error,
            next_attempt_at=self.next_attempt_at,
            delivered_at=self.delivered_at,
            history=tuple(self.history),
        )

    def is_due(self, now: datetime) -> bool:
        if self.state is AmlState.PENDING:
            return self.next_attempt_at is None or self.next_attempt_at <= now
        if self.state is AmlState.DELIVERING:
            return self.lease_until is None or self.lease_until <= now
        return False


class MemoryAmlStore:
    """AmlStore kept in a dict, with the SQL store's rules (oldest first, leases, UTC times)."""

    def __init__(self) -> None:
        self._records: dict[int, _Record] = {}
        self._ids = itertools.count(1)
        self._open = False

    async def start(self) -> None:
        self._open = True

    async def close(self) -> None:
        """Later calls raise StoreClosedError; the data stays (a restart keeps it, for tests)."""
        self._open = False

    async def add_report(self, report: NewAmlReport) -> int:
        report = clean_report(report)
        self._require_open()
        record = _Record(next(self._ids), report)
        self._records[record.id] = record
        return record.id

    async def claim_due(
        self, now: datetime, limit: int, *, lease_s: float = DEFAULT_LEASE_S
    ) -> list[StoredAmlReport]:
        self._require_open()
        now = to_utc(now)
        claimed: list[StoredAmlReport] = []
        for record in self._records.values():  # ids ascend in insertion order
            if len(claimed) >= limit:
                break
            if record.is_due(now):
                record.state = AmlState.DELIVERING
                record.lease_until = now + timedelta(seconds=lease_s)
                claimed.append(record.snapshot())
        return claimed

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
        attempt = clean_attempt(AmlAttempt(at, ok, http_status, error))
        next_at = None if ok or next_attempt_at is None else to_utc(next_attempt_at)
        self._require_open()
        record = self._records.get(report_id)
        if record is None:
            raise AmlReportNotFoundError(report_id)
        record.history.append(attempt)
        record.last_http_status = attempt.http_status
        record.last_error = attempt.error
        record.lease_until = None
        if record.state is AmlState.DELIVERED:
            record.next_attempt_at = None
        elif attempt.ok:
            record.state = AmlState.DELIVERED
            record.next_attempt_at = None
            record.delivered_at = attempt.at
        else:
            record.state = AmlState.PENDING
            record.next_attempt_at = next_at

    async def requeue_delivering(self) -> int:
        self._require_open()
        count = 0
        for record in self._records.values():
            if record.state is AmlState.DELIVERING:
                record.state = AmlState.PENDING
                record.next_attempt_at = record.lease_until = None
                count += 1
        return count

    async def get(self, report_id: int) -> StoredAmlReport | None:
        self._require_open()
        record = self._records.get(report_id)
        return None if record is None else record.snapshot()

    async def recent(self, limit: int) -> list[StoredAmlReport]:
        self._require_open()
        if limit <= 0:
            return []
        newest = sorted(self._records, reverse=True)[:limit]
        return [self._records[i].snapshot() for i in newest]

    async def oldest_pending_age(self, now: datetime) -> float | None:
        self._require_open()
        now = to_utc(now)
        times = [r.report.received_at for r in self._records.values() if _undelivered(r)]
        return None if not times else (now - min(times)).total_seconds()

    async def overdue(self, received_before: datetime, limit: int) -> list[int]:
        self._require_open()
        before = to_utc(received_before)
        late = [
            (r.report.received_at, r.id)
            for r in self._records.values()
            if _undelivered(r) and r.report.received_at < before
        ]
        return [report_id for _, report_id in sorted(late)[: max(limit, 0)]]

    def _require_open(self) -> None:
        if not self._open:
            raise StoreClosedError("the AML store is not started")


def _undelivered(record: _Record) -> bool:
    return record.state is not AmlState.DELIVERED
