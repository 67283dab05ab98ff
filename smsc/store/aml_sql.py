"""The AML report store on SQLAlchemy (SQLite or PostgreSQL), sharing the message store's engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aml.store import (
    DEFAULT_LEASE_S,
    AmlAttempt,
    AmlReportNotFoundError,
    AmlState,
    NewAmlReport,
    StoredAmlReport,
)
from smsc.store.aml_tables import aml_attempts, aml_reports
from smsc.store.batching import GroupCommitter
from smsc.store.errors import StoreClosedError, StoreError
from smsc.store.lease_claims import lease_claim
from smsc.store.sql import SqlMessageStore
from smsc.store.sql_batches import write_isolating_unknown_ids
from smsc.store.tables import UtcDateTime, clean_text, to_utc

__all__ = ["SqlAmlStore", "clean_report", "report_row"]

_PENDING = AmlState.PENDING.value
_DELIVERING = AmlState.DELIVERING.value
_DELIVERED = AmlState.DELIVERED.value
_UNDELIVERED = (_PENDING, _DELIVERING)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One record_attempt call waiting for its group commit."""

    report_id: int
    attempt: AmlAttempt
    next_attempt_at: datetime | None


def _optional(value: str | None) -> str | None:
    return None if value is None else clean_text(value)


def clean_report(report: NewAmlReport) -> NewAmlReport:
    """The report as the store keeps it: UTC time, storable text (NUL and lone surrogates)."""
    return NewAmlReport(
        received_at=to_utc(report.received_at),
        sender_msisdn=clean_text(report.sender_msisdn),
        destination=clean_text(report.destination),
        raw_text=clean_text(report.raw_text),
        parsed_json=clean_text(report.parsed_json),
        route_name=clean_text(report.route_name),
        format=clean_text(report.format),
        url=clean_text(report.url),
        roaming_status=_optional(report.roaming_status),
        visited_plmn=_optional(report.visited_plmn),
    )


def clean_attempt(attempt: AmlAttempt) -> AmlAttempt:
    """The attempt as the store keeps it: UTC time, storable error text."""
    return AmlAttempt(
        at=to_utc(attempt.at),
        ok=bool(attempt.ok),
        http_status=attempt.http_status,
        error=_optional(attempt.error),
    )


def report_row(report: NewAmlReport) -> dict[str, Any]:
    """The `aml_reports` row of a new report (pending, due now, no attempt yet)."""
    report = clean_report(report)
    return {
        "received_at": report.received_at,
        "sender_msisdn": report.sender_msisdn,
        "destination": report.destination,
        "raw_text": report.raw_text,
        "parsed_json": report.parsed_json,
        "route_name": report.route_name,
        "format": report.format,
        "url": report.url,
        "roaming_status": report.roaming_status,
        "visited_plmn": report.visited_plmn,
        "state": _PENDING,
        "attempts": 0,
        "last_http_status": None,
        "last_error": None,
        "next_attempt_at": None,
        "lease_until": None,
        "updated_at": report.received_at,
        "delivered_at": None,
    }


def _stored(row: Mapping[Any, Any], history: Sequence[AmlAttempt]) -> StoredAmlReport:
    return StoredAmlReport(
        id=int(row["id"]),
        report=NewAmlReport(
            received_at=row["received_at"],
            sender_msisdn=row["sender_msisdn"],
            destination=row["destination"],
            raw_text=row["raw_text"],
            parsed_json=row["parsed_json"],
            route_name=row["route_name"],
            format=row["format"],
            url=row["url"],
            roaming_status=row["roaming_status"],
            visited_plmn=row["visited_plmn"],
        ),
        state=AmlState(row["state"]),
        attempts=int(row["attempts"]),
        last_http_status=row["last_http_status"],
        last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"],
        delivered_at=row["delivered_at"],
        history=tuple(history),
    )


def _attempt(row: Mapping[Any, Any]) -> AmlAttempt:
    return AmlAttempt(
        at=row["at"], ok=bool(row["ok"]), http_status=row["http_status"], error=row["error"]
    )


_CLAIM = lease_claim(aml_reports, pending=_PENDING, delivering=_DELIVERING)
_GET = select(aml_reports).where(aml_reports.c.id == bindparam("b_id"))
_RECENT = select(aml_reports).order_by(aml_reports.c.id.desc()).limit(bindparam("b_limit"))
_OLDEST = select(func.min(aml_reports.c.received_at)).where(aml_reports.c.state.in_(_UNDELIVERED))
_OVERDUE = (
    select(aml_reports.c.id)
    .where(
        aml_reports.c.state.in_(_UNDELIVERED),
        aml_reports.c.received_at < bindparam("b_before", type_=UtcDateTime()),
    )
    .order_by(aml_reports.c.received_at, aml_reports.c.id)
    .limit(bindparam("b_limit"))
)
_REQUEUE = (
    update(aml_reports)
    .where(aml_reports.c.state == _DELIVERING)
    .values(state=_PENDING, next_attempt_at=None, lease_until=None)
)
_already_delivered = aml_reports.c.state == _DELIVERED
_UPDATE_OUTCOME = (
    update(aml_reports)
    .where(aml_reports.c.id == bindparam("b_id"))
    .values(
        state=case((_already_delivered, _DELIVERED), else_=bindparam("b_state")),
        attempts=aml_reports.c.attempts + 1,
        last_http_status=bindparam("b_status"),
        last_error=bindparam("b_error"),
        next_attempt_at=case(
            (_already_delivered, None), else_=bindparam("b_next", type_=UtcDateTime())
        ),
        lease_until=None,
        updated_at=bindparam("b_at", type_=UtcDateTime()),
        delivered_at=func.coalesce(
            aml_reports.c.delivered_at, bindparam("b_delivered", type_=UtcDateTime())
        ),
    )
)


class SqlAmlStore:
    """AmlStore on the engine of a SqlMessageStore (same database, pool and SQLite write lock).

    Start the message store first (it runs the migrations, 0003 creates these tables) and close
    this store before it. `add_report()` and `record_attempt()` go through group committers with
    no added delay: concurrent callers share one transaction, a lone caller commits at once.
    """

    def __init__(self, database: SqlMessageStore, *, batch_max: int = 200) -> None:
        self._read, self._write = database.shared_connections()
        self._open = False
        self.adds = GroupCommitter[dict[str, Any], int](
            self._insert_batch, max_items=batch_max, delay_s=0.0, name="aml-add"
        )
        """The group committer of `add_report()`; its `flushes` counts insert transactions."""
        self.outcomes = GroupCommitter[_Outcome, None](
            self._outcome_batch, max_items=batch_max, delay_s=0.0, name="aml-attempt"
        )

    async def start(self) -> None:
        """Accept work (the shared engine must be open: start the message store first)."""
        self._open = True

    async def close(self) -> None:
        """Flush queued writes; later calls raise StoreClosedError."""
        self._open = False
        await self.adds.close()
        await self.outcomes.close()

    async def add_report(self, report: NewAmlReport) -> int:
        """Store a pending report; returns its id once its batch is committed."""
        row = report_row(report)  # bad input raises here, before it can spoil a batch
        self._require_open()
        return await self.adds.submit(row)

    async def claim_due(
        self, now: datetime, limit: int, *, lease_s: float = DEFAULT_LEASE_S
    ) -> list[StoredAmlReport]:
        """Move up to `limit` due reports (or expired leases) to delivering, oldest first."""
        self._require_open()
        if limit <= 0:
            return []
        now = to_utc(now)
        params = {"b_now": now, "b_limit": limit, "b_lease": now + timedelta(seconds=lease_s)}
        async with self._write() as conn:
            rows = sorted((await conn.execute(_CLAIM, params)).mappings(), key=lambda r: r["id"])
            history = await _histories(conn, [int(row["id"]) for row in rows])
        return [_stored(row, history[int(row["id"])]) for row in rows]

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
        """Keep one attempt and the report's new state; returns once committed."""
        attempt = clean_attempt(AmlAttempt(at, ok, http_status, error))
        next_at = None if ok or next_attempt_at is None else to_utc(next_attempt_at)
        self._require_open()
        await self.outcomes.submit(_Outcome(report_id, attempt, next_at))

    async def requeue_delivering(self) -> int:
        """Reports left in delivering go back to pending, due at once; returns how many."""
        self._require_open()
        async with self._write() as conn:
            return int((await conn.execute(_REQUEUE)).rowcount)

    async def get(self, report_id: int) -> StoredAmlReport | None:
        """One report with its attempts."""
        self._require_open()
        async with self._read() as conn:
            row = (await conn.execute(_GET, {"b_id": report_id})).mappings().first()
            if row is None:
                return None
            history = await _histories(conn, [report_id])
        return _stored(row, history[report_id])

    async def recent(self, limit: int) -> list[StoredAmlReport]:
        """The newest reports first, with their attempts."""
        self._require_open()
        if limit <= 0:
            return []
        async with self._read() as conn:
            rows = list((await conn.execute(_RECENT, {"b_limit": limit})).mappings())
            history = await _histories(conn, [int(row["id"]) for row in rows])
        return [_stored(row, history[int(row["id"])]) for row in rows]

    async def oldest_pending_age(self, now: datetime) -> float | None:
        """Seconds since the oldest undelivered report was received; None when all delivered."""
        self._require_open()
        now = to_utc(now)
        async with self._read() as conn:
            oldest = (await conn.execute(_OLDEST)).scalar()
        return None if oldest is None else (now - oldest).total_seconds()

    async def overdue(self, received_before: datetime, limit: int) -> list[int]:
        """Ids of undelivered reports received before `received_before`, oldest first."""
        self._require_open()
        params = {"b_before": to_utc(received_before), "b_limit": max(limit, 0)}
        async with self._read() as conn:
            return [int(i) for i in (await conn.execute(_OVERDUE, params)).scalars()]

    def _require_open(self) -> None:
        if not self._open:
            raise StoreClosedError("the AML store is not started")

    async def _insert_batch(self, rows: list[dict[str, Any]]) -> list[int]:
        """One transaction, INSERT ... RETURNING id; ids in row order (see SqlMessageStore)."""
        async with self._write() as conn:
            ordered = conn.dialect.name != "sqlite"
            query = insert(aml_reports).returning(aml_reports.c.id, sort_by_parameter_order=ordered)
            ids = [int(row[0]) for row in await conn.execute(query, rows)]
        if not ordered:
            # SQLite: one writer holds the transaction, rowids are handed out in VALUES order
            ids.sort()
        if len(ids) != len(rows):
            raise StoreError(f"insert returned {len(ids)} ids for {len(rows)} AML reports")
        return ids

    async def _outcome_batch(self, batch: list[_Outcome]) -> list[BaseException | None]:
        """One transaction for the batch; if an unknown id spoils it, each item on its own."""
        return await write_isolating_unknown_ids(
            batch, self._write_outcomes, lambda o: AmlReportNotFoundError(o.report_id)
        )

    async def _write_outcomes(self, batch: list[_Outcome]) -> None:
        """Insert the attempts (the foreign key refuses unknown ids), then update the reports."""
        attempt_rows = [
            {
                "report_id": o.report_id,
                "at": o.attempt.at,
                "ok": o.attempt.ok,
                "http_status": o.attempt.http_status,
                "error": o.attempt.error,
            }
            for o in batch
        ]
        params = [
            {
                "b_id": o.report_id,
                "b_state": _DELIVERED if o.attempt.ok else _PENDING,
                "b_status": o.attempt.http_status,
                "b_error": o.attempt.error,
                "b_next": o.next_attempt_at,
                "b_at": o.attempt.at,
                "b_delivered": o.attempt.at if o.attempt.ok else None,
            }
            for o in batch
        ]
        async with self._write() as conn:
            await conn.execute(insert(aml_attempts), attempt_rows)
            await conn.execute(_UPDATE_OUTCOME, params)


async def _histories(conn: AsyncConnection, ids: list[int]) -> dict[int, list[AmlAttempt]]:
    """The attempts of each report, oldest first."""
    history: dict[int, list[AmlAttempt]] = {i: [] for i in ids}
    if not ids:
        return history
    query = (
        select(aml_attempts)
        .where(aml_attempts.c.report_id.in_(ids))
        .order_by(aml_attempts.c.report_id, aml_attempts.c.id)
    )
    for row in (await conn.execute(query)).mappings():
        history[int(row["report_id"])].append(_attempt(row))
    return history
