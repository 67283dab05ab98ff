"""The SQLAlchemy message store (SQLite or PostgreSQL) behind the MessageStore port."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import smsc.store.aml_tables
import smsc.store.outbox_jobs_table  # noqa: F401 (so does the outbox)
from smsc.service.model import (
    Attempt,
    ChargingRecord,
    DeferredCharge,
    DeferredChargeCounts,
    DeferredChargeState,
    DuplicateKey,
    MessageOrigin,
    MessageState,
    NewMessage,
    RecentMo,
    StoredDeferredCharge,
    StoredMessage,
)
from smsc.store.batching import GroupCommitter
from smsc.store.deferred_charges_sql import (
    add_deferred,
    claim_deferred,
    count_deferred,
    make_deferred_due,
    record_deferred,
)
from smsc.store.duplicate_keys import PURGE_EVERY_S, first_windows, rows_to_insert
from smsc.store.errors import (
    DuplicateMessageError,
    MessageNotFoundError,
    StoreClosedError,
    StoreError,
    StoreUnavailable,
)
from smsc.store.migrate import create_engine, run_upgrade
from smsc.store.sql_batches import write_isolating_unknown_ids
from smsc.store.sqlite_writer import (
    MESSAGE_COLUMNS,
    SqliteBatchWriter,
    sqlite_charging_row,
    sqlite_datetime,
    sqlite_duplicate_row,
    sqlite_file_of,
    sqlite_message_row,
    sqlite_outcome_rows,
    sqlite_time,
)
from smsc.store.tables import (
    ACTIVE_STATES,
    UtcDateTime,
    attempt_from_row,
    attempts,
    charging_record_from_row,
    charging_records,
    charging_row,
    clean_attempt,
    message_row,
    messages,
    mo_duplicate_keys,
    replacement_values,
    stored_message,
    to_utc,
)

__all__ = ["SqlMessageStore"]

_QUEUED = MessageState.QUEUED.value
_DELIVERING = MessageState.DELIVERING.value
_SCHEDULED = MessageState.SCHEDULED.value
_CANCELLED = MessageState.CANCELLED.value
_WAITING_STATES = (_SCHEDULED, *ACTIVE_STATES)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One record_attempt call waiting for its group commit."""

    message_id: int
    state: MessageState
    attempt: Attempt
    next_attempt_at: datetime | None


def _build_claim() -> Any:
    """UPDATE the recipient's head to delivering if it is queued and due (SKIP LOCKED on PG)."""
    now = bindparam("b_now", type_=UtcDateTime())
    active = messages.alias("active")
    head = (
        select(func.min(active.c.id))
        .where(active.c.recipient == bindparam("b_recipient"), active.c.state.in_(ACTIVE_STATES))
        .scalar_subquery()
    )
    due = messages.alias("due")
    candidate = (
        select(due.c.id)
        .where(
            due.c.id == head,
            due.c.state == _QUEUED,
            or_(due.c.next_attempt_at.is_(None), due.c.next_attempt_at <= now),
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(messages)
        .where(messages.c.id == candidate, messages.c.state == _QUEUED)
        .values(state=_DELIVERING, attempts=messages.c.attempts + 1, updated_at=now)
        .returning(*messages.c)
    )


def _build_claim_heads(*, more_queued: bool) -> Any:
    """UPDATE the heads of several recipients to delivering where queued and due (one statement).

    The heads and the locked candidates are CTEs, the heads materialised: as plain IN
    subqueries PostgreSQL, with a fresh table's row estimates of 1, re-ran the heads' GROUP BY
    for every queued row of every candidate (measured: 66 s for one claim of a recipient with
    600 queued messages); as CTEs each runs once."""
    now = bindparam("b_now", type_=UtcDateTime())
    active = messages.alias("active")
    heads = (
        select(func.min(active.c.id).label("id"))
        .where(
            active.c.recipient.in_(bindparam("b_recipients", expanding=True)),
            active.c.state.in_(ACTIVE_STATES),
        )
        .group_by(active.c.recipient)
        .cte("heads")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    due = messages.alias("due")
    candidates = (
        select(due.c.id)
        .where(
            due.c.id.in_(select(heads.c.id)),
            due.c.state == _QUEUED,
            or_(due.c.next_attempt_at.is_(None), due.c.next_attempt_at <= now),
        )
        .with_for_update(skip_locked=True)
        .cte("candidates")
    )
    claim = (
        update(messages)
        .where(messages.c.id.in_(select(candidates.c.id)), messages.c.state == _QUEUED)
        .values(state=_DELIVERING, attempts=messages.c.attempts + 1, updated_at=now)
    )
    if not more_queued:
        return claim.returning(*messages.c)
    # PostgreSQL: whether more are queued behind each head, in the RETURNING (no query of its
    # own). Written out, as SQLAlchemy would render the correlated columns unqualified.
    behind: Any = literal_column(
        f"EXISTS (SELECT 1 FROM {messages.name} AS behind"
        f" WHERE behind.recipient = {messages.name}.recipient"
        f" AND behind.state = '{_QUEUED}' AND behind.id <> {messages.name}.id)"
    ).label("more_queued")
    return claim.returning(*messages.c, behind)


def _build_due_recipients(*, priority: bool = False) -> Any:
    """Recipients whose head (no older queued or delivering message) is queued and due; of
    priority heads only with `priority` (their partial index finds them)."""
    now = bindparam("b_now", type_=UtcDateTime())
    older = messages.alias("older")
    is_head = ~exists().where(
        older.c.recipient == messages.c.recipient,
        older.c.state.in_(ACTIVE_STATES),
        older.c.id < messages.c.id,
    )
    return (
        select(messages.c.recipient)
        .where(
            messages.c.state == _QUEUED,
            or_(messages.c.next_attempt_at.is_(None), messages.c.next_attempt_at <= now),
            is_head,
            # a literal: bound as a parameter, PostgreSQL's generic plan cannot use the
            # partial index on `priority > 0` and walks every queued row
            *((messages.c.priority > literal_column("0"),) if priority else ()),
        )
        .order_by(messages.c.id)
        .limit(bindparam("b_limit"))
    )


def _build_release() -> Any:
    """UPDATE the recipients' queued messages due later than now to due now."""
    now = bindparam("b_now", type_=UtcDateTime())
    return (
        update(messages)
        .where(
            messages.c.recipient.in_(bindparam("b_recipients", expanding=True)),
            messages.c.state == _QUEUED,
            messages.c.next_attempt_at > now,
        )
        .values(next_attempt_at=now, updated_at=now)
    )


def _build_queue_scheduled() -> Any:
    """UPDATE scheduled messages whose time has come to queued, except those of a recipient
    with a message delivering (they would become its head while another is in flight: they
    are queued on a later pass, when it is done)."""
    now = bindparam("b_now", type_=UtcDateTime())
    busy = messages.alias("busy")
    in_flight = exists().where(
        busy.c.recipient == messages.c.recipient, busy.c.state == _DELIVERING
    )
    return (
        update(messages)
        .where(
            messages.c.state == _SCHEDULED,
            messages.c.next_attempt_at <= now,
            ~in_flight,
        )
        .values(state=_QUEUED, updated_at=now)
        .returning(messages.c.recipient, messages.c.priority)
    )


def _build_cancel_pending() -> Any:
    """UPDATE a submission's scheduled and queued messages to cancelled."""
    now = bindparam("b_now", type_=UtcDateTime())
    return (
        update(messages)
        .where(
            messages.c.submission_id == bindparam("b_submission"),
            messages.c.state.in_((_SCHEDULED, _QUEUED)),
        )
        .values(state=_CANCELLED, next_attempt_at=None, updated_at=now)
    )


_RECENT_PAGE = 5000
"""Rows per page when reading the newest MO back (duplicate filter at start)."""

_UNAVAILABLE = (DBAPIError, DisconnectionError, PoolTimeoutError, OSError)
"""Library errors meaning the database failed us (bugs such as CompileError propagate)."""

_CLAIM = _build_claim()
_CLAIM_HEADS = _build_claim_heads(more_queued=True)
_CLAIM_HEADS_SQLITE = _build_claim_heads(more_queued=False)
"""SQLite evaluates a correlated subquery in RETURNING without the index (measured: 130 ms
instead of 12 ms for 100 heads among 50,000 messages): it asks `_QUEUED_AMONG` after."""
_QUEUED_AMONG = (
    select(messages.c.recipient)
    .where(
        messages.c.recipient.in_(bindparam("b_recipients", expanding=True)),
        messages.c.state == _QUEUED,
    )
    .distinct()
)
_DATETIME_COLUMNS = tuple(c.name for c in messages.columns if isinstance(c.type, UtcDateTime))
"""The columns a row of the SQLite writer holds as DATETIME text (read back aware UTC)."""


def _build_due_priority_first() -> Any:
    """The due heads of priority SMS, then all due heads (each oldest first, at most
    b_limit): two selects in one statement, each on its own index, so a pass of the MT loop
    costs one round trip. A priority head comes twice; the first is kept."""
    ranked = []
    for rank, priority in ((0, True), (1, False)):
        heads = (
            _build_due_recipients(priority=priority)
            .add_columns(literal_column(str(rank)).label("rank"), messages.c.id.label("head"))
            .subquery()
        )
        ranked.append(select(heads.c.recipient, heads.c.rank, heads.c.head))
    both = union_all(*ranked).subquery()
    return select(both.c.recipient).order_by(both.c.rank, both.c.head)


_DUE_PRIORITY_FIRST = _build_due_priority_first()
_RELEASE = _build_release()
_QUEUE_SCHEDULED = _build_queue_scheduled()
_CANCEL_PENDING = _build_cancel_pending()
_GET = select(messages).where(messages.c.id == bindparam("id"))
_CHARGING = (
    select(charging_records)
    .where(charging_records.c.submission_id == bindparam("submission_id"))
    .order_by(charging_records.c.at, charging_records.c.id)
)
_HISTORY = select(attempts).where(attempts.c.message_id == bindparam("id")).order_by(attempts.c.id)
_UPDATE_OUTCOME = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        last_sip_status=bindparam("b_sip_status"),
        last_rp_cause=bindparam("b_rp_cause"),
        next_attempt_at=bindparam("b_next", type_=UtcDateTime()),
        updated_at=bindparam("b_at", type_=UtcDateTime()),
        delivered_at=func.coalesce(
            bindparam("b_delivered", type_=UtcDateTime()), messages.c.delivered_at
        ),
    )
)


async def take_duplicate_keys(
    conn: AsyncConnection, entries: Sequence[DuplicateKey | None], now: datetime, *, sqlite: bool
) -> list[bool]:
    """Take the free duplicate keys of a batch (new, or past their window) in its transaction:
    per entry, whether its message may be kept (True without a key). Keys go in sorted, so two
    writers lock them in the same order; on PostgreSQL a writer meeting a key another has not
    committed yet waits for it."""
    wanted = first_windows(None if d is None else (d.key, to_utc(d.until)) for d in entries)
    if not wanted:
        return [True] * len(entries)
    keys = mo_duplicate_keys
    upsert = sqlite_insert(keys) if sqlite else postgresql_insert(keys)
    statement = upsert.values(
        [{"key": key, "until": until} for key, until in sorted(wanted.items())]
    )
    claim = statement.on_conflict_do_update(
        index_elements=[keys.c.key],
        set_={"until": statement.excluded.until},
        where=keys.c.until <= now,
    ).returning(keys.c.key)
    taken = (await conn.execute(claim)).scalars()
    return rows_to_insert((None if d is None else d.key for d in entries), taken)


class SqlMessageStore:
    """MessageStore on SQLAlchemy async: grouped inserts, in-order per-recipient claims.

    `add()` and `record_attempt()` go through group committers (one transaction per batch);
    they return only after the commit. On SQLite every write is serialised in-process (one
    writer); on PostgreSQL claims use FOR UPDATE SKIP LOCKED so several stores may share a
    database. On a SQLite file the hot writes (`add`, `record_attempt`, `claim_heads`,
    `release_recipient`) go through the SqliteBatchWriter thread (stdlib sqlite3) instead, and
    the MT loop's `due_recipients` through its reading thread.
    """

    def __init__(
        self,
        database_url: str,
        *,
        batch_max: int = 500,
        batch_delay_s: float = 0.002,
        schema: str | None = None,
        migrate: bool = True,
        clock: Callable[[], datetime] | None = None,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        self._url = database_url
        self._schema = schema
        self._migrate = migrate
        self._clock = clock or (lambda: datetime.now(UTC))
        self._engine_options = dict(engine_options or {})
        self._engine: AsyncEngine | None = None
        self._reader: AsyncEngine | None = None
        self._sqlite = False
        self._sqlite_file = sqlite_file_of(database_url)
        self._writer: SqliteBatchWriter | None = None
        self._write_lock = asyncio.Lock()
        self._next_purge = time.monotonic()
        self.adds: GroupCommitter[NewMessage, int] = GroupCommitter(
            self._insert_batch, max_items=batch_max, delay_s=batch_delay_s, name="store-add"
        )
        """The group committer of `add()`; its `flushes` counts insert transactions."""
        self.outcomes = GroupCommitter[_Outcome, None](
            self._outcome_batch, max_items=batch_max, delay_s=0.0, name="store-attempt"
        )
        """The group committer of `record_attempt()` (no added delay: groups under load)."""
        self.charges = GroupCommitter[dict[str, Any], None](
            self._charging_batch, max_items=batch_max, delay_s=0.0, name="store-charging"
        )
        """The group committer of `add_charging_record()` (no added delay)."""

    async def start(self) -> None:
        """Open the engine and migrate the schema to the newest revision."""
        engine = create_engine(self._url, schema=self._schema, **self._engine_options)
        self._sqlite = engine.dialect.name == "sqlite"
        try:
            if self._migrate:
                await run_upgrade(engine, schema=self._schema)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        if self._sqlite_file is not None:
            self._writer = SqliteBatchWriter(self._sqlite_file)
        # PostgreSQL reads skip BEGIN/ROLLBACK; SQLite keeps its cheaper implicit transactions
        self._reader = (
            engine if self._sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    async def close(self) -> None:
        """Flush queued writes, then dispose of the engine."""
        await self.adds.close()
        await self.outcomes.close()
        await self.charges.close()
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = self._reader = None

    async def add(self, message: NewMessage) -> int:
        """Store a message; returns its id once its batch is committed."""
        return await self.add_soon(message)

    def add_soon(self, message: NewMessage) -> asyncio.Future[int]:
        """`add` without a coroutine: the future gets the id once the batch is committed.

        Bad input (naive datetimes) raises here, before it can spoil a batch.
        """
        if self._sqlite_file is not None:
            if message.received_at.tzinfo is not UTC or message.expires_at.tzinfo is not UTC:
                sqlite_time(message.received_at)  # only the datetimes can be refused (naive)
                sqlite_time(message.expires_at)
            if message.deliver_at is not None:
                sqlite_time(message.deliver_at)
        else:
            message_row(message, self._clock())
        self._require_engine()
        return self.adds.submit_nowait(message)

    async def add_many(self, messages_: Sequence[NewMessage]) -> list[int]:
        """Store several messages in one commit; ids in the same order.

        A message whose duplicate key is held raises DuplicateMessageError; the others of the
        batch are stored all the same."""
        if not messages_:
            return []
        ids: list[int] = []
        for result in await self._insert_batch(list(messages_)):
            if isinstance(result, BaseException):
                raise result
            ids.append(result)
        return ids

    async def get(self, message_id: int) -> StoredMessage | None:
        """One message with its attempts."""
        async with self._connect() as conn:
            result = await conn.execute(_GET, {"id": message_id})
            row = result.mappings().first()
            if row is None:
                return None
            return stored_message(row, await _history(conn, message_id))

    async def waiting_for(self, recipient: str, limit: int = 100) -> list[StoredMessage]:
        """The recipient's scheduled, queued and delivering messages, oldest first (no history)."""
        query = (
            select(messages)
            .where(messages.c.recipient == recipient, messages.c.state.in_(_WAITING_STATES))
            .order_by(messages.c.id)
            .limit(limit)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [stored_message(row) for row in rows]

    async def get_submission(self, submission_id: str) -> list[StoredMessage]:
        """Every segment of one submission, in segment order."""
        async with self._connect() as conn:
            query = (
                select(messages)
                .where(messages.c.submission_id == submission_id)
                .order_by(messages.c.segment, messages.c.id)
            )
            rows = (await conn.execute(query)).mappings().all()
            history: dict[int, list[Attempt]] = {int(row["id"]): [] for row in rows}
            if history:
                query = (
                    select(attempts)
                    .where(attempts.c.message_id.in_(list(history)))
                    .order_by(attempts.c.id)
                )
                for attempt_row in (await conn.execute(query)).mappings():
                    history[attempt_row["message_id"]].append(attempt_from_row(attempt_row))
            return [stored_message(row, history[int(row["id"])]) for row in rows]

    async def due_recipients(self, now: datetime, limit: int) -> list[str]:
        """Recipients whose oldest active message is queued and due: priority heads first,
        each group oldest head first."""
        writer = self._writer
        if writer is not None:
            return await writer.due_recipients(sqlite_time(now), limit)
        params = {"b_now": to_utc(now), "b_limit": max(limit, 0)}
        async with self._connect() as conn:
            found = (await conn.execute(_DUE_PRIORITY_FIRST, params)).scalars()
            return list(dict.fromkeys(found))[: max(limit, 0)]  # a priority head comes twice

    async def claim_next(self, recipient: str, now: datetime) -> StoredMessage | None:
        """Move the recipient's oldest active message to delivering if it is queued and due.

        Only the head of the recipient's queue (oldest queued-or-delivering message) is ever a
        candidate: if it is delivering, or queued but not yet due, this returns None. On
        PostgreSQL the head row is locked with SKIP LOCKED, so racing claimers get None.
        """
        params = {"b_recipient": recipient, "b_now": to_utc(now)}
        async with self._write() as conn:
            row = (await conn.execute(_CLAIM, params)).mappings().first()
            if row is None:
                return None
            return stored_message(row, await _history(conn, int(row["id"])))

    async def claim_heads(self, recipients: Sequence[str], now: datetime) -> list[StoredMessage]:
        """`claim_next` for several recipients in one statement; oldest first, no history."""
        if not recipients:
            return []
        writer = self._writer
        if writer is not None:
            heads, more_queued = await writer.claim_heads(recipients, sqlite_time(now))
            found = [_claimed_from_sqlite(head, more_queued) for head in heads]
            found.sort(key=lambda m: m.id)
            return found
        params = {"b_recipients": list(recipients), "b_now": to_utc(now)}
        async with self._write() as conn:
            if not self._sqlite:
                rows = (await conn.execute(_CLAIM_HEADS, params)).mappings().all()
                more = {row["recipient"] for row in rows if row["more_queued"]}
            else:
                rows = (await conn.execute(_CLAIM_HEADS_SQLITE, params)).mappings().all()
                claimed_recipients = [row["recipient"] for row in rows]
                more = set()
                if claimed_recipients:
                    among = {"b_recipients": claimed_recipients}
                    more = set((await conn.execute(_QUEUED_AMONG, among)).scalars())
        claimed = [stored_message(row, more_queued=row["recipient"] in more) for row in rows]
        claimed.sort(key=lambda m: m.id)
        return claimed

    async def release_recipients(self, recipients: Sequence[str], now: datetime) -> int:
        """The recipients' queued messages waiting past `now` become due now; returns how
        many (one transaction)."""
        if not recipients:
            return 0
        writer = self._writer
        if writer is not None:
            return await writer.release(recipients, sqlite_time(now))
        params = {"b_recipients": list(recipients), "b_now": to_utc(now)}
        async with self._write() as conn:
            return int((await conn.execute(_RELEASE, params)).rowcount)

    async def queue_scheduled(self, now: datetime) -> list[tuple[str, int]]:
        """Scheduled messages due at `now` join their recipients' queues; (recipient,
        priority) of each."""
        writer = self._writer
        if writer is not None:
            return await writer.queue_scheduled(sqlite_time(now))
        async with self._write() as conn:
            rows = await conn.execute(_QUEUE_SCHEDULED, {"b_now": to_utc(now)})
            return [(recipient, priority) for recipient, priority in rows]

    async def cancel_pending(self, submission_id: str, now: datetime) -> int:
        """The submission's scheduled and queued messages become cancelled; how many."""
        writer = self._writer
        if writer is not None:
            return await writer.cancel_pending(submission_id, sqlite_time(now))
        params = {"b_submission": submission_id, "b_now": to_utc(now)}
        async with self._write() as conn:
            return int((await conn.execute(_CANCEL_PENDING, params)).rowcount)

    async def replace_pending(
        self, message_id: int, message: NewMessage, *, reschedule: bool, now: datetime
    ) -> bool:
        """A scheduled or queued message gets the new content (and, with `reschedule`, its
        delivery time and state); False when it is not pending."""
        values = replacement_values(message, reschedule=reschedule, now=to_utc(now))
        query = (
            update(messages)
            .where(messages.c.id == message_id, messages.c.state.in_((_SCHEDULED, _QUEUED)))
            .values(**values)
        )
        async with self._write() as conn:
            return int((await conn.execute(query)).rowcount) == 1

    async def record_attempt(
        self,
        message_id: int,
        state: MessageState,
        attempt: Attempt,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record an attempt and the message's new state; returns once committed."""
        outcome = _Outcome(
            message_id,
            state,
            clean_attempt(attempt),
            None if next_attempt_at is None else to_utc(next_attempt_at),
        )
        self._require_engine()
        await self.outcomes.submit(outcome)

    async def requeue_delivering(self, claimed_before: datetime | None = None) -> int:
        """Messages left in delivering (claimed before `claimed_before`, when given) go back
        to queued, due at once; returns how many."""
        condition = messages.c.state == _DELIVERING
        if claimed_before is not None:
            condition = condition & (messages.c.updated_at < to_utc(claimed_before))
        query = (
            update(messages)
            .where(condition)
            .values(state=_QUEUED, next_attempt_at=None, updated_at=to_utc(self._clock()))
        )
        async with self._write() as conn:
            return int((await conn.execute(query)).rowcount)

    async def recent_mo(self, since: datetime, limit: int) -> list[RecentMo]:
        """MO messages received at or after `since`, newest first, at most `limit`. Read
        backwards by id in pages (rows arrive in id order), so no index on the time is needed
        and an old table is not scanned whole."""
        found: list[RecentMo] = []
        below: int | None = None
        c = messages.c
        columns = (c.id, c.origin, c.originator, c.rp_mr, c.submit_tpdu, c.received_at)
        async with self._connect() as conn:
            while len(found) < limit:
                query = select(*columns).order_by(messages.c.id.desc()).limit(_RECENT_PAGE)
                if below is not None:
                    query = query.where(messages.c.id < below)
                rows = (await conn.execute(query)).all()
                if not rows:
                    break
                fresh = False
                for row in rows:
                    received = to_utc(row.received_at)
                    if received < since:
                        continue
                    fresh = True
                    if row.origin == MessageOrigin.MO.value:
                        found.append(
                            RecentMo(row.originator, row.rp_mr or 0, row.submit_tpdu, received)
                        )
                if not fresh:
                    break
                below = rows[-1].id
        return found[:limit]

    async def count_by_state(self) -> dict[MessageState, int]:
        """Messages per state; every state present."""
        counts = dict.fromkeys(MessageState, 0)
        query = select(messages.c.state, func.count()).group_by(messages.c.state)
        async with self._connect() as conn:
            for state, count in await conn.execute(query):
                counts[MessageState(state)] = int(count)
        return counts

    async def add_charging_record(self, record: ChargingRecord) -> None:
        """Keep one charging record; returns once its (grouped) insert is committed."""
        row = charging_row(record)
        self._require_engine()
        await self.charges.submit(row)

    async def charging_records(self, submission_id: str) -> list[ChargingRecord]:
        """The charging records of one submission, oldest first."""
        async with self._connect() as conn:
            rows = (await conn.execute(_CHARGING, {"submission_id": submission_id})).mappings()
            return [charging_record_from_row(row) for row in rows]

    async def add_deferred_charge(self, charge: DeferredCharge) -> int:
        """Keep a CCR no OCS answered, pending and due at once; its id once committed."""
        async with self._write() as conn:
            return await add_deferred(conn, charge)

    async def claim_due_deferred_charges(
        self, now: datetime, limit: int, lease_s: float
    ) -> list[StoredDeferredCharge]:
        """Move up to `limit` due CCRs to sending with a lease, oldest first."""
        async with self._write() as conn:
            return await claim_deferred(conn, now, limit, lease_s)

    async def make_deferred_charges_due(self, now: datetime) -> int:
        """Every pending CCR waiting out its back-off due at `now`; how many."""
        async with self._write() as conn:
            return await make_deferred_due(conn, now)

    async def record_deferred_outcome(
        self,
        charge_id: int,
        *,
        at: datetime,
        state: DeferredChargeState,
        result_code: int | None = None,
        reason: str | None = None,
        next_attempt_at: datetime | None = None,
        record: ChargingRecord | None = None,
    ) -> bool:
        """One replay's outcome, with the final charging record in the same transaction."""
        async with self._write() as conn:
            return await record_deferred(
                conn,
                charge_id,
                at=at,
                state=state,
                result_code=result_code,
                reason=reason,
                next_attempt_at=next_attempt_at,
                record=record,
            )

    async def deferred_charge_counts(self) -> DeferredChargeCounts:
        """Deferred CCRs per state and the oldest unsettled one's created_at."""
        async with self._connect() as conn:
            return await count_deferred(conn)

    async def _insert_batch(self, batch: list[NewMessage]) -> list[int | BaseException]:
        """One transaction: the batch's duplicate keys taken, then one multi-row INSERT ...
        RETURNING id for the messages whose key was free; ids in parameter order, and a
        DuplicateMessageError for each message whose key a stored MO still holds.

        A SQLite file goes through the SqliteBatchWriter thread (stdlib sqlite3, one multi-row
        INSERT per chunk); the rest of this describes the SQLAlchemy path.

        PostgreSQL: SQLAlchemy's insertmanyvalues with sort_by_parameter_order. SQLite: that
        option makes SQLAlchemy fall back to one INSERT per row, so the batch is inserted
        unordered and the ids sorted: SQLite hands out rowids in VALUES order (max + 1 each),
        and we are the only writer while the transaction holds the write lock.
        """
        writer = self._writer
        if writer is not None:
            now_text = sqlite_time(self._clock())
            written = await writer.insert(
                [sqlite_message_row(m, now_text) for m in batch],
                [sqlite_duplicate_row(m) for m in batch],
                now_text,
                [sqlite_charging_row(m.charging) for m in batch if m.charging is not None],
            )
            return [_id_or_duplicate(i, m) for i, m in zip(written, batch, strict=True)]
        now = to_utc(self._clock())
        ordered = not self._sqlite
        query = insert(messages).returning(messages.c.id, sort_by_parameter_order=ordered)
        async with self._write() as conn:
            kept = await self._claim_keys(conn, batch, now)
            fresh = [m for m, k in zip(batch, kept, strict=True) if k]
            ids: list[int] = []
            if fresh:
                result = await conn.execute(query, [message_row(m, now) for m in fresh])
                ids = [int(row[0]) for row in result]
            charged = [charging_row(m.charging) for m in batch if m.charging is not None]
            if charged:  # the OCS was asked: kept for duplicates too
                await conn.execute(insert(charging_records), charged)
            await self._purge_keys(conn, now)
        if not ordered:
            ids.sort()
        if len(ids) != len(fresh):
            raise StoreError(f"insert returned {len(ids)} ids for {len(fresh)} messages")
        next_id = iter(ids)
        return [next(next_id) if k else _duplicate(m) for m, k in zip(batch, kept, strict=True)]

    async def _claim_keys(
        self, conn: AsyncConnection, batch: list[NewMessage], now: datetime
    ) -> list[bool]:
        """Take the batch's free duplicate keys: which messages may be inserted."""
        return await take_duplicate_keys(
            conn, [m.duplicate for m in batch], now, sqlite=self._sqlite
        )

    async def _purge_keys(self, conn: AsyncConnection, now: datetime) -> None:
        """Now and then, delete the duplicate keys whose window has ended."""
        moment = time.monotonic()
        if moment < self._next_purge:
            return
        self._next_purge = moment + PURGE_EVERY_S
        await conn.execute(delete(mo_duplicate_keys).where(mo_duplicate_keys.c.until <= now))

    async def _charging_batch(self, batch: list[dict[str, Any]]) -> list[None]:
        """Insert the charging rows in one transaction."""
        async with self._write() as conn:
            await conn.execute(insert(charging_records), batch)
        return [None] * len(batch)

    async def _outcome_batch(self, batch: list[_Outcome]) -> list[BaseException | None]:
        """One transaction for the batch; if an unknown id spoils it, each item on its own."""
        return await write_isolating_unknown_ids(
            batch, self._write_outcomes, lambda o: MessageNotFoundError(o.message_id)
        )

    async def _write_outcomes(self, batch: list[_Outcome]) -> None:
        """Insert the attempts (the foreign key refuses unknown ids) and update the messages;
        through the writer thread on a SQLite file."""
        writer = self._writer
        if writer is not None:
            await writer.record_outcomes(
                [
                    sqlite_outcome_rows(o.message_id, o.state, o.attempt, o.next_attempt_at)
                    for o in batch
                ]
            )
            return
        async with self._write() as conn:
            await conn.execute(insert(attempts), [_attempt_row(o) for o in batch])
            await conn.execute(_UPDATE_OUTCOME, [_outcome_params(o) for o in batch])

    @property
    def is_sqlite(self) -> bool:
        """Whether the (started) store is on SQLite (else PostgreSQL)."""
        return self._sqlite

    def shared_connections(
        self,
    ) -> tuple[
        Callable[[], contextlib.AbstractAsyncContextManager[AsyncConnection]],
        Callable[[], contextlib.AbstractAsyncContextManager[AsyncConnection]],
    ]:
        """(read, write) openers on this store's engine, for stores sharing it (smsc.store.aml_sql).

        `write()` is one transaction committed on exit, serialised with this store's writes on
        SQLite; both turn library errors into StoreUnavailable, StoreClosedError when not started.
        """
        return self._connect, self._write

    def _require_engine(self) -> AsyncEngine:
        """The open engine, or StoreClosedError."""
        if self._engine is None:
            raise StoreClosedError("the message store is not started")
        return self._engine

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        """A read connection; library errors become StoreUnavailable."""
        self._require_engine()
        assert self._reader is not None
        try:
            async with self._reader.connect() as conn:
                yield conn
        except _UNAVAILABLE as exc:
            raise _translate(exc) from exc

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed on exit; serialised in-process on SQLite."""
        engine = self._require_engine()
        lock = self._write_lock if self._sqlite else contextlib.nullcontext()
        try:
            async with lock, engine.begin() as conn:
                yield conn
        except _UNAVAILABLE as exc:
            raise _translate(exc) from exc


async def _history(conn: AsyncConnection, message_id: int) -> list[Attempt]:
    """The attempts of one message, oldest first."""
    rows = (await conn.execute(_HISTORY, {"id": message_id})).mappings()
    return [attempt_from_row(row) for row in rows]


def _attempt_row(outcome: _Outcome) -> dict[str, Any]:
    """The `attempts` row of one outcome."""
    return {
        "message_id": outcome.message_id,
        "at": outcome.attempt.at,
        "sip_status": outcome.attempt.sip_status,
        "rp_cause": outcome.attempt.rp_cause,
        "outcome": outcome.attempt.outcome,
    }


def _outcome_params(outcome: _Outcome) -> dict[str, Any]:
    """Parameters of the `messages` update for one outcome."""
    delivered = outcome.state is MessageState.DELIVERED
    return {
        "b_id": outcome.message_id,
        "b_state": outcome.state.value,
        "b_sip_status": outcome.attempt.sip_status,
        "b_rp_cause": outcome.attempt.rp_cause,
        "b_next": outcome.next_attempt_at,
        "b_at": outcome.attempt.at,
        "b_delivered": outcome.attempt.at if delivered else None,
    }


def _claimed_from_sqlite(row: tuple[Any, ...], more_queued: set[str]) -> StoredMessage:
    """A claimed row of the SQLite writer (`MESSAGE_COLUMNS`) as the SQLAlchemy path makes it."""
    mapping = dict(zip(MESSAGE_COLUMNS, row, strict=True))
    for name in _DATETIME_COLUMNS:
        value = mapping[name]
        if value is not None:
            mapping[name] = sqlite_datetime(value)
    return stored_message(mapping, more_queued=mapping["recipient"] in more_queued)


def _duplicate(message: NewMessage) -> DuplicateMessageError:
    assert message.duplicate is not None
    return DuplicateMessageError(message.duplicate.key)


def _id_or_duplicate(written: int | None, message: NewMessage) -> int | BaseException:
    return _duplicate(message) if written is None else written


def _translate(exc: BaseException) -> StoreUnavailable:
    """Our error for a library error; nothing of the failed transaction was committed."""
    if isinstance(exc, OSError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return StoreUnavailable(f"database unreachable: {exc}")
    return StoreUnavailable(f"database error: {type(exc).__name__}: {exc}")
