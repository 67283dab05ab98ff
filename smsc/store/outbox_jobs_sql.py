"""The outbox's jobs on SQLite or PostgreSQL, on the engine of the message store.

Every write is one short transaction of its own (jobs come at the rate of applications' MO and
final outcomes, not of the SIP path). Claims lock with FOR UPDATE SKIP LOCKED on PostgreSQL,
so several instances share one outbox; SQLite has one writer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from smsc.outbox.jobs import NewOutboxJob, OutboxKind, OutboxState, StoredOutboxJob
from smsc.service.model import DuplicateKey
from smsc.store.errors import DuplicateMessageError, StoreClosedError
from smsc.store.lease_claims import lease_claim
from smsc.store.outbox_jobs_table import outbox_jobs
from smsc.store.sql import SqlMessageStore, take_duplicate_keys
from smsc.store.tables import UtcDateTime, clean_text, to_utc

__all__ = ["REASSEMBLY_S", "SqlOutboxStore", "job_row", "stored_job"]

REASSEMBLY_S = 300.0
"""How long the first segment of a concatenated MO waits for the others before its message is
sent with what came."""

_HELD = OutboxState.HELD.value
_MERGED = "merged"
"""A held segment whose message another row of its group carries (not a public state: shown
as delivered once that row is)."""
_PENDING = OutboxState.PENDING.value
_DELIVERING = OutboxState.DELIVERING.value
_DELIVERED = OutboxState.DELIVERED.value
_EXPIRED = OutboxState.EXPIRED.value
_UNDELIVERED = (_PENDING, _DELIVERING)

_table = outbox_jobs


def job_row(job: NewOutboxJob) -> dict[str, Any]:
    """The `outbox_jobs` row of a new job: held while it waits for its group, else pending."""
    return {
        "kind": job.kind.value,
        "target": clean_text(job.target),
        "url": clean_text(job.url),
        "body": bytes(job.body),
        "content_type": clean_text(job.content_type),
        "timeout_ms": job.timeout_ms,
        "verify_tls": job.verify_tls,
        "dedupe_key": None if job.dedupe_key is None else clean_text(job.dedupe_key),
        "group_key": None if job.group_key is None else clean_text(job.group_key),
        "group_size": job.group_size,
        "group_part": job.group_part,
        "reference": None if job.reference is None else clean_text(job.reference),
        "state": _HELD if job.group_key is not None and job.group_size > 1 else _PENDING,
        "attempts": 0,
        "created_at": to_utc(job.created_at),
        "expires_at": None if job.expires_at is None else to_utc(job.expires_at),
    }


def stored_job(row: Mapping[Any, Any]) -> StoredOutboxJob:
    """A StoredOutboxJob from an `outbox_jobs` row."""
    state = row["state"]
    return StoredOutboxJob(
        id=int(row["id"]),
        job=NewOutboxJob(
            kind=OutboxKind(row["kind"]),
            target=row["target"],
            url=row["url"],
            body=bytes(row["body"]),
            content_type=row["content_type"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            timeout_ms=row["timeout_ms"],
            verify_tls=bool(row["verify_tls"]),
            dedupe_key=row["dedupe_key"],
            group_key=row["group_key"],
            group_size=row["group_size"],
            group_part=row["group_part"],
            reference=row["reference"],
        ),
        state=OutboxState.HELD if state == _MERGED else OutboxState(state),
        attempts=row["attempts"],
        last_http_status=row["last_http_status"],
        last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"],
        delivered_at=row["delivered_at"],
    )


def _of_kinds(rows: Any) -> Any:
    return rows.c.kind.in_(bindparam("b_kinds", expanding=True))


def _of_targets(rows: Any) -> Any:
    return rows.c.target.in_(bindparam("b_targets", expanding=True))


def _of_both(rows: Any) -> Any:
    return and_(_of_kinds(rows), _of_targets(rows))


_CLAIMS = {
    (False, False): lease_claim(_table, pending=_PENDING, delivering=_DELIVERING),
    (True, False): lease_claim(_table, pending=_PENDING, delivering=_DELIVERING, only=_of_kinds),
    (False, True): lease_claim(_table, pending=_PENDING, delivering=_DELIVERING, only=_of_targets),
    (True, True): lease_claim(_table, pending=_PENDING, delivering=_DELIVERING, only=_of_both),
}
"""The claim by (kinds given, targets given): each built once, the values bound as expanding
IN parameters (b_kinds, b_targets)."""
_EXPIRE = (
    update(_table)
    .where(
        _table.c.state.in_((_HELD, _MERGED, _PENDING, _DELIVERING)),
        _table.c.expires_at.is_not(None),
        _table.c.expires_at <= bindparam("b_now", type_=UtcDateTime()),
    )
    .values(state=_EXPIRED, lease_until=None, updated_at=bindparam("b_now", type_=UtcDateTime()))
)
_READY_GROUPS = (
    select(_table.c.group_key, func.min(_table.c.id))
    .where(_table.c.state == _HELD)
    .group_by(_table.c.group_key)
    .having(
        or_(
            func.count(func.distinct(_table.c.group_part)) >= func.max(_table.c.group_size),
            func.min(_table.c.created_at) <= bindparam("b_cutoff", type_=UtcDateTime()),
        )
    )
)
_PROMOTE_LEAD = (
    update(_table)
    .where(_table.c.id == bindparam("b_id"), _table.c.state == _HELD)
    .values(state=_PENDING, next_attempt_at=None)
)
_MERGE_REST = (
    update(_table)
    .where(
        _table.c.group_key == bindparam("b_group"),
        _table.c.state == _HELD,
        _table.c.id > bindparam("b_id"),
    )
    .values(state=_MERGED)
)
_already_delivered = _table.c.state == _DELIVERED
_RECORD = (
    update(_table)
    .where(_table.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        attempts=_table.c.attempts + 1,
        last_http_status=bindparam("b_status"),
        last_error=bindparam("b_error"),
        next_attempt_at=bindparam("b_next", type_=UtcDateTime()),
        lease_until=None,
        updated_at=bindparam("b_at", type_=UtcDateTime()),
        delivered_at=func.coalesce(
            _table.c.delivered_at, bindparam("b_delivered", type_=UtcDateTime())
        ),
    )
    .returning(_table.c.group_key, _table.c.state)
)
_later_lead = _table.alias("later_lead")
_NEXT_LEAD = (
    select(func.min(_later_lead.c.id))
    .where(
        _later_lead.c.group_key == bindparam("b_group"),
        _later_lead.c.id > bindparam("b_id"),
        _later_lead.c.state.in_(_UNDELIVERED),
    )
    .scalar_subquery()
)
_DELIVER_MERGED = (
    update(_table)
    .where(
        _table.c.group_key == bindparam("b_group"),
        _table.c.state == _MERGED,
        _table.c.id > bindparam("b_id"),
        or_(_NEXT_LEAD.is_(None), _table.c.id < _NEXT_LEAD),
    )
    .values(
        state=_DELIVERED,
        delivered_at=bindparam("b_at", type_=UtcDateTime()),
        updated_at=bindparam("b_at", type_=UtcDateTime()),
    )
)
_REQUEUE = (
    update(_table)
    .where(_table.c.state == _DELIVERING)
    .values(state=_PENDING, next_attempt_at=None, lease_until=None)
)
_ANY_OPEN = (
    select(_table.c.id).where(_table.c.state.in_((_HELD, _MERGED, _PENDING, _DELIVERING))).limit(1)
)
_GET = select(_table).where(_table.c.id == bindparam("b_id"))
_BY_DEDUPE_KEY = select(_table.c.id).where(_table.c.dedupe_key == bindparam("b_key"))
_GROUP = select(_table).where(_table.c.group_key == bindparam("b_group")).order_by(_table.c.id)
_OLDEST = select(func.min(_table.c.created_at)).where(_table.c.state.in_(_UNDELIVERED))
_OLDEST_OF_KINDS = _OLDEST.where(_of_kinds(_table))
_OVERDUE = (
    select(_table.c.id)
    .where(
        _table.c.state.in_(_UNDELIVERED),
        _table.c.created_at < bindparam("b_before", type_=UtcDateTime()),
    )
    .order_by(_table.c.created_at, _table.c.id)
    .limit(bindparam("b_limit"))
)
_OVERDUE_OF_KINDS = _OVERDUE.where(_of_kinds(_table))
_COUNTS = select(_table.c.kind, _table.c.state, func.count()).group_by(
    _table.c.kind, _table.c.state
)


class SqlOutboxStore:
    """OutboxStore on the engine of a SqlMessageStore (same database, pool and SQLite write
    lock). Start the message store first (it runs the migrations; 0006 creates the table)."""

    def __init__(self, database: SqlMessageStore, *, reassembly_s: float = REASSEMBLY_S) -> None:
        self._database = database
        self._read, self._write = database.shared_connections()
        self._reassembly = timedelta(seconds=reassembly_s)
        self._open = False

    async def start(self) -> None:
        """Accept work (the shared engine must be open: start the message store first)."""
        self._open = True

    async def close(self) -> None:
        """Later calls raise StoreClosedError."""
        self._open = False

    async def add(self, job: NewOutboxJob, duplicate: DuplicateKey | None = None) -> int:
        """Keep a job (durable on return); with a dedupe key already kept, the kept job's id;
        with an MO's duplicate key held by another, DuplicateMessageError (nothing kept)."""
        row = job_row(job)  # bad input raises here, before the transaction
        self._require_open()
        async with self._write() as conn:
            if duplicate is not None:
                now = to_utc(job.created_at)
                sqlite = self._database.is_sqlite
                (free,) = await take_duplicate_keys(conn, [duplicate], now, sqlite=sqlite)
                if not free:
                    raise DuplicateMessageError(duplicate.key)
            return await self._insert(conn, row)

    async def _insert(self, conn: AsyncConnection, row: dict[str, Any]) -> int:
        if row["dedupe_key"] is None:
            result = await conn.execute(_table.insert().returning(_table.c.id), row)
            return int(result.scalar_one())
        insert = sqlite_insert(_table) if self._database.is_sqlite else postgresql_insert(_table)
        statement = (
            insert.values(row)
            .on_conflict_do_nothing(index_elements=[_table.c.dedupe_key])
            .returning(_table.c.id)
        )
        inserted = (await conn.execute(statement)).scalar()
        if inserted is not None:
            return int(inserted)
        kept = (await conn.execute(_BY_DEDUPE_KEY, {"b_key": row["dedupe_key"]})).scalar_one()
        return int(kept)

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        *,
        lease_s: float = 60.0,
        kinds: Collection[OutboxKind] | None = None,
        targets: Collection[str] | None = None,
    ) -> list[StoredOutboxJob]:
        """Expire jobs past their time, let complete (or timed-out) groups go, then move up to
        `limit` due jobs to delivering, oldest first; only jobs of `kinds` and for `targets`
        when given (an empty collection: none)."""
        self._require_open()
        now = to_utc(now)
        async with self._read() as conn:  # an empty outbox costs a read, not a write
            if (await conn.execute(_ANY_OPEN)).first() is None:
                return []
        async with self._write() as conn:
            await conn.execute(_EXPIRE, {"b_now": now})
            ready = (await conn.execute(_READY_GROUPS, {"b_cutoff": now - self._reassembly})).all()
            for group, lead in ready:
                promoted = await conn.execute(_PROMOTE_LEAD, {"b_id": lead})
                if promoted.rowcount:
                    await conn.execute(_MERGE_REST, {"b_group": group, "b_id": lead})
            if limit <= 0 or (kinds is not None and not kinds):
                return []
            if targets is not None and not targets:
                return []
            params: dict[str, Any] = {
                "b_now": now,
                "b_limit": limit,
                "b_lease": now + timedelta(seconds=lease_s),
            }
            if kinds is not None:
                params["b_kinds"] = _kind_values(kinds)
            if targets is not None:
                params["b_targets"] = sorted({clean_text(target) for target in targets})
            claim = _CLAIMS[(kinds is not None, targets is not None)]
            rows = (await conn.execute(claim, params)).mappings().all()
        return sorted((stored_job(row) for row in rows), key=lambda job: job.id)

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
        """One attempt: ok -> delivered (with the segments its POST carried: the merged rows
        after it up to the group's next undelivered lead, if late segments made one), else
        pending again, due at `next_attempt_at`; a job delivered or expired meanwhile stays
        so."""
        self._require_open()
        at = to_utc(at)
        async with self._write() as conn:
            current = (await conn.execute(_GET, {"b_id": job_id})).mappings().first()
            if current is None:
                return
            state = current["state"]
            if ok or state not in (_DELIVERED, _EXPIRED):
                state = _DELIVERED if ok else _PENDING
            params = {
                "b_id": job_id,
                "b_state": state,
                "b_status": http_status,
                "b_error": None if error is None else clean_text(error),
                "b_next": None if ok else next_attempt_at and to_utc(next_attempt_at),
                "b_at": at,
                "b_delivered": at if ok else None,
            }
            await conn.execute(_RECORD, params)
            if ok and current["group_key"] is not None:
                carried = {"b_group": current["group_key"], "b_id": job_id, "b_at": at}
                await conn.execute(_DELIVER_MERGED, carried)

    async def requeue_delivering(self) -> int:
        """Jobs left in delivering (by a stopped process) are due again."""
        self._require_open()
        async with self._write() as conn:
            return int((await conn.execute(_REQUEUE)).rowcount or 0)

    async def oldest_pending_age(
        self, now: datetime, *, kinds: Collection[OutboxKind] | None = None
    ) -> float | None:
        """Seconds since the oldest undelivered job (of `kinds`, when given) was made; None
        when there is none."""
        self._require_open()
        if kinds is not None and not kinds:
            return None
        async with self._read() as conn:
            if kinds is None:
                oldest = (await conn.execute(_OLDEST)).scalar()
            else:
                params = {"b_kinds": _kind_values(kinds)}
                oldest = (await conn.execute(_OLDEST_OF_KINDS, params)).scalar()
        return None if oldest is None else (to_utc(now) - oldest).total_seconds()

    async def overdue(
        self,
        received_before: datetime,
        limit: int,
        *,
        kinds: Collection[OutboxKind] | None = None,
    ) -> list[int]:
        """Ids of undelivered jobs (of `kinds`, when given) made before `received_before`,
        oldest first."""
        self._require_open()
        if kinds is not None and not kinds:
            return []
        params: dict[str, Any] = {"b_before": to_utc(received_before), "b_limit": max(limit, 0)}
        statement = _OVERDUE
        if kinds is not None:
            params["b_kinds"] = _kind_values(kinds)
            statement = _OVERDUE_OF_KINDS
        async with self._read() as conn:
            return [int(i) for i in (await conn.execute(statement, params)).scalars()]

    async def get(self, job_id: int) -> StoredOutboxJob | None:
        """One job."""
        self._require_open()
        async with self._read() as conn:
            row = (await conn.execute(_GET, {"b_id": job_id})).mappings().first()
        return None if row is None else stored_job(row)

    async def group(self, group_key: str) -> list[StoredOutboxJob]:
        """The jobs of one concatenated message that its POST carries (the one sent and the
        segments merged into it), oldest first."""
        self._require_open()
        async with self._read() as conn:
            rows = (await conn.execute(_GROUP, {"b_group": group_key})).mappings().all()
        carried = (_MERGED, _PENDING, _DELIVERING)
        return [stored_job(row) for row in rows if row["state"] in carried]

    async def counts(self) -> dict[tuple[str, str], int]:
        """Jobs by (kind, state)."""
        self._require_open()
        async with self._read() as conn:
            rows = (await conn.execute(_COUNTS)).all()
        counts: dict[tuple[str, str], int] = {}
        for kind, state, count in rows:
            shown = _HELD if state == _MERGED else state
            counts[(kind, shown)] = counts.get((kind, shown), 0) + int(count)
        return counts

    def _require_open(self) -> None:
        if not self._open:
            raise StoreClosedError("the outbox store is not started")


def _kind_values(kinds: Collection[OutboxKind]) -> list[str]:
    """The stored values of `kinds`, in a stable order (one cached statement per count)."""
    return sorted({OutboxKind(kind).value for kind in kinds})
