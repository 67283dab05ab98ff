"""The outbox's jobs in memory: the SQL store's twin for tests (same contract, no database)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from smsc.outbox.jobs import NewOutboxJob, OutboxKind, OutboxState, StoredOutboxJob
from smsc.service.model import DuplicateKey
from smsc.store.errors import DuplicateMessageError, StoreClosedError
from smsc.store.outbox_jobs_sql import REASSEMBLY_S
from smsc.store.tables import to_utc

__all__ = ["MemoryOutboxStore"]

_UNDELIVERED = (OutboxState.PENDING, OutboxState.DELIVERING)


@dataclass(slots=True)
class _Row:
    job: StoredOutboxJob
    merged: bool = False
    """A held segment another row of its group carries."""
    lease_until: datetime | None = None


class MemoryOutboxStore:
    """OutboxStore in a dict; duplicate keys in a dict of their own (this store's only)."""

    def __init__(self, *, reassembly_s: float = REASSEMBLY_S) -> None:
        self._rows: dict[int, _Row] = {}
        self._keys: dict[str, datetime] = {}
        self._dedupe: dict[str, int] = {}
        self._next_id = 1
        self._reassembly = timedelta(seconds=reassembly_s)
        self._open = False

    async def start(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def add(self, job: NewOutboxJob, duplicate: DuplicateKey | None = None) -> int:
        self._require_open()
        created = to_utc(job.created_at)
        if duplicate is not None:
            until = self._keys.get(duplicate.key)
            if until is not None and until > created:
                raise DuplicateMessageError(duplicate.key)
            self._keys[duplicate.key] = to_utc(duplicate.until)  # taken, as the SQL store does
        if job.dedupe_key is not None and job.dedupe_key in self._dedupe:
            return self._dedupe[job.dedupe_key]
        job_id = self._next_id
        self._next_id += 1
        held = job.group_key is not None and job.group_size > 1
        state = OutboxState.HELD if held else OutboxState.PENDING
        self._rows[job_id] = _Row(StoredOutboxJob(job_id, job, state))
        if job.dedupe_key is not None:
            self._dedupe[job.dedupe_key] = job_id
        return job_id

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        *,
        lease_s: float = 60.0,
        kinds: Collection[OutboxKind] | None = None,
        targets: Collection[str] | None = None,
    ) -> list[StoredOutboxJob]:
        self._require_open()
        now = to_utc(now)
        self._expire(now)
        self._promote(now)
        wanted_kinds = None if kinds is None else frozenset(OutboxKind(k) for k in kinds)
        wanted_targets = None if targets is None else frozenset(targets)
        claimed: list[StoredOutboxJob] = []
        for job_id in sorted(self._rows):
            if len(claimed) >= limit:
                break
            row = self._rows[job_id]
            stored = row.job
            if wanted_kinds is not None and stored.job.kind not in wanted_kinds:
                continue
            if wanted_targets is not None and stored.job.target not in wanted_targets:
                continue
            due = (
                stored.state is OutboxState.PENDING
                and (stored.next_attempt_at is None or stored.next_attempt_at <= now)
            ) or (
                stored.state is OutboxState.DELIVERING
                and (row.lease_until is None or row.lease_until <= now)
            )
            if due:
                row.job = replace(stored, state=OutboxState.DELIVERING)
                row.lease_until = now + timedelta(seconds=lease_s)
                claimed.append(row.job)
        return claimed

    def _expire(self, now: datetime) -> None:
        for row in self._rows.values():
            stored = row.job
            live = stored.state in (OutboxState.HELD, *_UNDELIVERED)
            if live and stored.job.expires_at is not None and stored.job.expires_at <= now:
                row.job = replace(stored, state=OutboxState.EXPIRED)
                row.merged = False

    def _promote(self, now: datetime) -> None:
        groups: dict[str, list[_Row]] = {}
        for job_id in sorted(self._rows):
            row = self._rows[job_id]
            key = row.job.job.group_key
            if row.job.state is OutboxState.HELD and not row.merged and key is not None:
                groups.setdefault(key, []).append(row)
        cutoff = now - self._reassembly
        for rows in groups.values():
            parts = {row.job.job.group_part for row in rows}
            size = max(row.job.job.group_size for row in rows)
            oldest = min(to_utc(row.job.job.created_at) for row in rows)
            if len(parts) >= size or oldest <= cutoff:
                lead, *rest = rows
                lead.job = replace(lead.job, state=OutboxState.PENDING, next_attempt_at=None)
                for row in rest:
                    row.merged = True

    async def record_attempt(
        self,
        job_id: int,
        at: datetime,
        ok: bool,
        *,
        http_status: int | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        self._require_open()
        row = self._rows.get(job_id)
        if row is None:
            return
        at = to_utc(at)
        stored = row.job
        state = stored.state
        if ok or state not in (OutboxState.DELIVERED, OutboxState.EXPIRED):
            state = OutboxState.DELIVERED if ok else OutboxState.PENDING
        row.lease_until = None
        row.job = replace(
            stored,
            state=state,
            attempts=stored.attempts + 1,
            last_http_status=http_status,
            last_error=error,
            next_attempt_at=None if ok else next_attempt_at,
            delivered_at=stored.delivered_at or (at if ok else None),
        )
        key = stored.job.group_key
        if ok and key is not None:
            for other_id in sorted(i for i in self._rows if i > job_id):
                other = self._rows[other_id]
                if other.job.job.group_key != key:
                    continue
                if other.job.state in _UNDELIVERED:
                    break  # the next lead: what follows is carried by it
                if other.merged:
                    other.merged = False
                    other.job = replace(other.job, state=OutboxState.DELIVERED, delivered_at=at)

    async def requeue_delivering(self) -> int:
        self._require_open()
        count = 0
        for row in self._rows.values():
            if row.job.state is OutboxState.DELIVERING:
                row.job = replace(row.job, state=OutboxState.PENDING, next_attempt_at=None)
                row.lease_until = None
                count += 1
        return count

    async def oldest_pending_age(
        self, now: datetime, *, kinds: Collection[OutboxKind] | None = None
    ) -> float | None:
        self._require_open()
        times = [
            to_utc(row.job.job.created_at)
            for row in self._rows.values()
            if row.job.state in _UNDELIVERED and _of_kinds(row, kinds)
        ]
        return None if not times else (to_utc(now) - min(times)).total_seconds()

    async def overdue(
        self,
        received_before: datetime,
        limit: int,
        *,
        kinds: Collection[OutboxKind] | None = None,
    ) -> list[int]:
        self._require_open()
        before = to_utc(received_before)
        found = sorted(
            (to_utc(row.job.job.created_at), job_id)
            for job_id, row in self._rows.items()
            if row.job.state in _UNDELIVERED
            and to_utc(row.job.job.created_at) < before
            and _of_kinds(row, kinds)
        )
        return [job_id for _, job_id in found[: max(limit, 0)]]

    async def get(self, job_id: int) -> StoredOutboxJob | None:
        self._require_open()
        row = self._rows.get(job_id)
        return None if row is None else row.job

    async def group(self, group_key: str) -> list[StoredOutboxJob]:
        self._require_open()
        return [
            self._rows[job_id].job
            for job_id in sorted(self._rows)
            if self._rows[job_id].job.job.group_key == group_key
            and (self._rows[job_id].merged or self._rows[job_id].job.state in _UNDELIVERED)
        ]

    async def counts(self) -> dict[tuple[str, str], int]:
        self._require_open()
        counts: dict[tuple[str, str], int] = {}
        for row in self._rows.values():
            key = (row.job.job.kind.value, row.job.state.value)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def _require_open(self) -> None:
        if not self._open:
            raise StoreClosedError("the outbox store is not started")


def _of_kinds(row: _Row, kinds: Collection[OutboxKind] | None) -> bool:
    """The row is of one of `kinds` (None: of any)."""
    return kinds is None or row.job.job.kind in kinds
