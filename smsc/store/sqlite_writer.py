"""The SQLite fast path of the hot writes: whole batches written by one thread, stdlib module.

SQLAlchemy's parameter processing costs ~60 µs per row on the event loop thread, and aiosqlite's
thread then competes with the loop for the GIL once per row. Here a batch costs one cheap tuple
per row (built on the loop, which also validates) and, in one dedicated thread, `BEGIN
IMMEDIATE`, one multi-row statement per chunk (a single `sqlite3_step`, so the GIL is released
once for the whole chunk, not once per row), and `COMMIT`. The caller awaits a future that the
thread settles through `loop.call_soon_threadsafe` (`run_in_executor`).

The schema is still Alembic's (tables.py). This path takes the INSERT of new messages, the
outcomes of delivery attempts (attempts rows, messages updated), the claims of recipients'
heads and releases; each writes the same values and text formats as the SQLAlchemy path. The
MT loop's read of the due recipients runs beside it, on a reading thread of its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from smsc.service.model import Attempt, ChargingRecord, MessageState, NewMessage
from smsc.store.due_order import priority_first
from smsc.store.duplicate_keys import PURGE_EVERY_S, first_windows, rows_to_insert
from smsc.store.errors import StoreClosedError, StoreUnavailable
from smsc.store.migrate import sqlite_pragmas
from smsc.store.tables import (
    ACTIVE_STATES,
    PRIORITY_INDEX,
    attempts,
    charging_records,
    clean_text,
    messages,
    mo_duplicate_keys,
)

__all__ = [
    "MESSAGE_COLUMNS",
    "DuplicateRow",
    "OutcomeRows",
    "SqliteBatchWriter",
    "sqlite_datetime",
    "sqlite_duplicate_row",
    "sqlite_file_of",
    "sqlite_message_row",
    "sqlite_outcome_rows",
    "sqlite_time",
]

Row = tuple[Any, ...]
T = TypeVar("T")

_COLUMNS = (
    "submission_id",
    "origin",
    "originator",
    "originator_ton",
    "recipient",
    "submit_tpdu",
    "received_at",
    "expires_at",
    "segment",
    "segments",
    "text",
    "status_report",
    "rp_mr",
    "source",
    "call_id",
    "tp_mr",
    "roaming_status",
    "visited_plmn",
    "callback_url",
    "client_ref",
    "updated_at",
    "state",
    "attempts",
    "deliver_at",
    "next_attempt_at",
    "priority",
)
_PLACEHOLDERS = "(" + ",".join("?" * len(_COLUMNS)) + ")"
_INSERT = f"INSERT INTO {messages.name} ({', '.join(_COLUMNS)}) VALUES "
_CHUNK = 1_000
"""Rows (or recipients) per statement: at most 23 parameters each stays under SQLite's 32,766."""
_QUEUED = MessageState.QUEUED.value
_SCHEDULED = MessageState.SCHEDULED.value
_CANCELLED = MessageState.CANCELLED.value
_QUEUED_TAIL = (_QUEUED, 0, None, None, 0)
"""The last columns of a new message's row (state, attempts, deliver_at, next_attempt_at,
priority)."""
_KEYS = mo_duplicate_keys.name
_HELD_KEYS = f"SELECT key FROM {_KEYS} WHERE until > ? AND key IN "
"""The keys a stored MO still holds (their window has not ended); the IN list follows."""
_TAKE_KEYS = f"INSERT OR REPLACE INTO {_KEYS} (key, until) VALUES "
"""Take keys known free: new ones, or rows whose window ended (replaced)."""
_PURGE_KEYS = f"DELETE FROM {_KEYS} WHERE until <= ?"

_MESSAGES = messages.name
_DELIVERING = MessageState.DELIVERING.value
MESSAGE_COLUMNS = tuple(column.name for column in messages.columns)
"""The columns of a claimed row, in the order of the table (as SQLAlchemy's RETURNING)."""
_CHARGING_COLUMNS = (
    "submission_id",
    "at",
    "originator",
    "session_id",
    "outcome",
    "result_code",
    "units",
    "granted_units",
    "roaming_status",
    "visited_plmn",
    "peer",
    "retransmitted",
    "latency_ms",
    "rp_cause",
)
_INSERT_CHARGING = (
    f"INSERT INTO {charging_records.name} ({', '.join(_CHARGING_COLUMNS)}) "
    f"VALUES ({','.join('?' * len(_CHARGING_COLUMNS))})"
)
_ATTEMPT_COLUMNS = ("message_id", "at", "sip_status", "rp_cause", "outcome")
_INSERT_ATTEMPTS = f"INSERT INTO {attempts.name} ({', '.join(_ATTEMPT_COLUMNS)}) VALUES "
_ATTEMPT_PLACEHOLDERS = "(" + ",".join("?" * len(_ATTEMPT_COLUMNS)) + ")"
_OUTCOME_COLUMNS = ("id", "state", "sip_status", "rp_cause", "next_at", "at", "delivered")
_UPDATE_OUTCOMES = (
    f"WITH outcome({', '.join(_OUTCOME_COLUMNS)}) AS (VALUES {{values}})"
    f" UPDATE {_MESSAGES} SET state = outcome.state, last_sip_status = outcome.sip_status,"
    " last_rp_cause = outcome.rp_cause, next_attempt_at = outcome.next_at, updated_at = outcome.at,"
    f" delivered_at = coalesce(outcome.delivered, {_MESSAGES}.delivered_at)"
    f" FROM outcome WHERE {_MESSAGES}.id = outcome.id"
)
"""`_UPDATE_OUTCOME` of sql.py for many messages in one statement (UPDATE ... FROM, SQLite
3.33): each message at most once per statement (`_rounds`)."""
_OUTCOME_PLACEHOLDERS = "(" + ",".join("?" * len(_OUTCOME_COLUMNS)) + ")"
_ACTIVE = ", ".join(f"'{state}'" for state in ACTIVE_STATES)
_CLAIM_HEADS = (
    f"WITH heads AS (SELECT min(id) AS id FROM {_MESSAGES}"
    f" WHERE recipient IN ({{values}}) AND state IN ({_ACTIVE}) GROUP BY recipient)"
    f" UPDATE {_MESSAGES} SET state = '{_DELIVERING}', attempts = attempts + 1, updated_at = ?"
    f" WHERE id IN (SELECT id FROM heads) AND +state = '{_QUEUED}'"
    " AND (+next_attempt_at IS NULL OR +next_attempt_at <= ?)"
    f" RETURNING {', '.join(MESSAGE_COLUMNS)}"
)
"""`_CLAIM_HEADS_SQLITE` of sql.py: the heads of the recipients, claimed where queued and due.

Its `candidates` CTE (there for FOR UPDATE SKIP LOCKED on PostgreSQL) folded into the WHERE:
the same rows. The unary `+` keeps SQLite off the state indexes, which it otherwise scans
whole for state = 'queued' (measured, 50,000 queued: 3 ms per claim of 20 heads; by the heads'
ids: 0.2 ms)."""
_QUEUED_AMONG = (
    f"SELECT DISTINCT recipient FROM {_MESSAGES}"
    f" WHERE recipient IN ({{values}}) AND state = '{_QUEUED}'"
)
_DUE_HEADS = (
    f"SELECT m.recipient FROM {_MESSAGES} AS m{{indexed}} WHERE m.state = '{_QUEUED}'"
    " AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= ?)"
    f" AND NOT EXISTS (SELECT 1 FROM {_MESSAGES} AS older WHERE older.recipient = m.recipient"
    f" AND older.state IN ({_ACTIVE}) AND older.id < m.id){{priority}}"
    " ORDER BY m.id LIMIT ?"
)
_DUE_RECIPIENTS = _DUE_HEADS.format(indexed="", priority="")
"""The second half of `_DUE_PRIORITY_FIRST` of sql.py: recipients whose head (no older queued
or delivering message) is queued and due, oldest head first."""
_DUE_PRIORITY = _DUE_HEADS.format(
    indexed=f" INDEXED BY {PRIORITY_INDEX}", priority=" AND m.priority > 0"
)
"""Its first half: the same, of priority heads only, by their partial index (which SQLite
would otherwise pass over for the state index, walking every queued row). Two statements on
the reading thread cost no round trip."""
_RELEASE = (
    f"UPDATE {_MESSAGES} SET next_attempt_at = ?, updated_at = ?"
    f" WHERE recipient IN ({{values}}) AND state = '{_QUEUED}' AND next_attempt_at > ?"
)
_QUEUE_SCHEDULED = (
    f"UPDATE {_MESSAGES} SET state = '{_QUEUED}', updated_at = ?"
    f" WHERE state = '{_SCHEDULED}' AND next_attempt_at <= ?"
    f" AND NOT EXISTS (SELECT 1 FROM {_MESSAGES} AS busy"
    f" WHERE busy.recipient = {_MESSAGES}.recipient AND busy.state = '{_DELIVERING}')"
    " RETURNING recipient, priority"
)
"""`_QUEUE_SCHEDULED` of sql.py: scheduled messages whose time has come join their
recipients' queues, except where one is delivering."""
_CANCEL_PENDING = (
    f"UPDATE {_MESSAGES} SET state = '{_CANCELLED}', next_attempt_at = NULL, updated_at = ?"
    f" WHERE submission_id = ? AND state IN ('{_SCHEDULED}', '{_QUEUED}')"
)
"""`_CANCEL_PENDING` of sql.py."""

DuplicateRow = tuple[str, str]
"""A row's duplicate key and the end of its window (as `sqlite_time` text)."""

OutcomeRows = tuple[Row, Row]
"""One attempt's outcome: its `attempts` row and its `messages` update (`_OUTCOME_COLUMNS`)."""


def sqlite_time(value: datetime) -> str:
    """An aware datetime as SQLAlchemy's SQLite DATETIME text (naive UTC, microseconds)."""
    tzinfo = value.tzinfo
    if tzinfo is not UTC:
        if tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: the store needs aware datetimes")
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def sqlite_datetime(value: str) -> datetime:
    """SQLite DATETIME text as SQLAlchemy and UtcDateTime read it: fromisoformat, aware UTC."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _optional_text(value: str | None) -> str | None:
    return None if value is None else clean_text(value)


def sqlite_message_row(message: NewMessage, updated_at: str) -> Row:
    """The `messages` row of a new message as INSERT parameters (the columns of _COLUMNS).

    The same cleaning and initial state as `tables.message_row` (UTC times, storable text,
    plain bytes; scheduled when it has a delivery time) without building an intermediate
    NewMessage; raises ValueError on naive datetimes.
    """
    if message.deliver_at is None:
        tail: Row = (_QUEUED, 0, None, None, message.priority) if message.priority else _QUEUED_TAIL
    else:
        deliver_at = sqlite_time(message.deliver_at)
        tail = (_SCHEDULED, 0, deliver_at, deliver_at, message.priority)
    return (
        clean_text(message.submission_id),
        message.origin.value,
        clean_text(message.originator),
        message.originator_ton,
        clean_text(message.recipient),
        bytes(message.submit_tpdu),
        sqlite_time(message.received_at),
        sqlite_time(message.expires_at),
        message.segment,
        message.segments,
        _optional_text(message.text),
        1 if message.status_report else 0,
        message.rp_mr,
        _optional_text(message.source),
        _optional_text(message.call_id),
        message.tp_mr,
        _optional_text(message.roaming_status),
        _optional_text(message.visited_plmn),
        _optional_text(message.callback_url),
        _optional_text(message.client_ref),
        updated_at,
        *tail,
    )


def sqlite_outcome_rows(
    message_id: int, state: MessageState, attempt: Attempt, next_attempt_at: datetime | None
) -> OutcomeRows:
    """The rows of one recorded attempt (already cleaned): as `_attempt_row` and
    `_outcome_params` of sql.py, times as `sqlite_time` text."""
    at = sqlite_time(attempt.at)
    sip_status, rp_cause = attempt.sip_status, attempt.rp_cause
    return (
        (message_id, at, sip_status, rp_cause, attempt.outcome),
        (
            message_id,
            state.value,
            sip_status,
            rp_cause,
            None if next_attempt_at is None else sqlite_time(next_attempt_at),
            at,
            at if state is MessageState.DELIVERED else None,
        ),
    )


def sqlite_charging_row(record: ChargingRecord) -> Row:
    """The `charging_records` row of a record as INSERT parameters (`_CHARGING_COLUMNS`).

    The same cleaning as `tables.charging_row` without building an intermediate record."""
    latency = record.latency_ms
    return (
        clean_text(record.submission_id),
        sqlite_time(record.at),
        clean_text(record.originator),
        clean_text(record.session_id),
        clean_text(record.outcome),
        record.result_code,
        record.units,
        record.granted_units,
        _optional_text(record.roaming_status),
        _optional_text(record.visited_plmn),
        _optional_text(record.peer),
        1 if record.retransmitted else 0,
        None if latency is None else float(latency),
        record.rp_cause,
    )


def sqlite_duplicate_row(message: NewMessage) -> DuplicateRow | None:
    """The message's duplicate key and window end as the writer takes them, or None."""
    duplicate = message.duplicate
    return None if duplicate is None else (duplicate.key, sqlite_time(duplicate.until))


def sqlite_file_of(database_url: str) -> str | None:
    """The database file of a SQLite URL, or None (not SQLite, in memory, or a URI)."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None  # create_engine reports it when the store starts
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if url.query.get("uri"):
        return None
    return database


class SqliteBatchWriter:
    """Writes batches to a SQLite file in one dedicated thread; one transaction per batch.

    `insert`: new message rows. A row may carry a duplicate key (key, window end): it is
    inserted only when its key is not held by a stored MO whose window is still open at `now`;
    otherwise its id comes back None. `record_outcomes`, `claim_heads` and `release`: the MT
    writes of the store (sql.py), serialised with the inserts by the one thread.
    `due_recipients`, the MT loop's read, runs on a reading thread (and connection) of its own.
    """

    def __init__(
        self,
        path: str,
        *,
        name: str = "sqlite-writer",
        purge_every_s: float = PURGE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._connection: sqlite3.Connection | None = None
        self._reader: ThreadPoolExecutor | None = ThreadPoolExecutor(
            1, thread_name_prefix=f"{name}-read"
        )
        self._read_connection: sqlite3.Connection | None = None
        self._statements: dict[tuple[str, int], str] = {}
        self._purge_every_s = purge_every_s
        self._clock = clock
        self._next_purge = clock()

    async def insert(
        self,
        rows: list[Row],
        keys: list[DuplicateRow | None],
        now: str,
        charging: Sequence[Row] = (),
    ) -> list[int | None]:
        """Insert the rows, and the charging rows, in one transaction; their ids in the same
        order once committed, None for a row whose duplicate key is held (that row is not
        inserted; the charging rows always are: the OCS was asked)."""
        if not rows:
            self._require_open()
            return []
        if len(keys) != len(rows):
            raise ValueError(f"{len(keys)} duplicate keys for {len(rows)} rows")
        return await self._call(self._insert, rows, keys, now, charging)

    async def record_outcomes(self, outcomes: list[OutcomeRows]) -> None:
        """Insert the attempts and update their messages in one transaction, in batch order.

        An unknown message id fails the whole batch: StoreUnavailable caused by the foreign
        key's sqlite3.IntegrityError (sql_batches isolates it)."""
        if outcomes:
            await self._call(self._transaction, self._record_outcomes, outcomes)

    async def claim_heads(self, recipients: Sequence[str], now: str) -> tuple[list[Row], set[str]]:
        """Claim the recipients' heads that are queued and due (`now` as `sqlite_time` text):
        the claimed rows (columns `MESSAGE_COLUMNS`), and which of their recipients have more
        messages queued, in one transaction."""
        if not recipients:
            self._require_open()
            return [], set()
        return await self._call(self._transaction, self._claim_heads, list(recipients), now)

    async def due_recipients(self, now: str, limit: int) -> list[str]:
        """The recipients whose head is queued and due at `now` (`sqlite_time` text), oldest
        head first, at most `limit`. One hop to a reading thread of its own (SQLAlchemy's aiosqlite
        read takes several trips through a busy event loop), with its own connection: a long
        read (every head delivering: all queued rows walked) does not hold up the writes."""
        self._require_open()
        reader = self._reader
        assert reader is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(reader, self._due_recipients, now, max(limit, 0))

    async def release(self, recipients: Sequence[str], now: str) -> int:
        """The recipients' queued messages waiting past `now` become due now; how many."""
        return await self._call(self._transaction, self._release, list(recipients), now)

    async def queue_scheduled(self, now: str) -> list[tuple[str, int]]:
        """Scheduled messages due at `now` are queued (none of a recipient with a message
        delivering); (recipient, priority) of each."""
        return await self._call(self._transaction, self._queue_scheduled, now)

    async def cancel_pending(self, submission_id: str, now: str) -> int:
        """The submission's scheduled and queued messages become cancelled; how many."""
        return await self._call(self._transaction, self._cancel_pending, submission_id, now)

    async def close(self) -> None:
        """Close the connection in its thread, then stop the thread."""
        executor, self._executor = self._executor, None
        reader, self._reader = self._reader, None
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(executor, self._disconnect)
            if reader is not None:
                await loop.run_in_executor(reader, self._disconnect_reader)
        finally:
            executor.shutdown(wait=False)
            if reader is not None:
                reader.shutdown(wait=False)

    def _require_open(self) -> ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            raise StoreClosedError("the SQLite writer is closed")
        return executor

    async def _call(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(*args)` in the writer thread."""
        executor = self._require_open()
        return await asyncio.get_running_loop().run_in_executor(executor, work, *args)

    # -- in the writer thread -----------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(self._path, isolation_level=None)
            sqlite_pragmas(connection, None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"database unreachable: {exc}") from exc
        return connection

    def _connect(self) -> sqlite3.Connection:
        connection = self._connection
        if connection is None:
            connection = self._connection = self._open()
        return connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _disconnect_reader(self) -> None:  # in the reading thread
        connection, self._read_connection = self._read_connection, None
        if connection is not None:
            connection.close()

    def _transaction(self, work: Callable[..., T], *args: Any) -> T:
        """`work(connection, *args)` between BEGIN IMMEDIATE and COMMIT (ROLLBACK if it raises);
        sqlite3 errors become StoreUnavailable (caused by them)."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(connection, *args)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"database error: {type(exc).__name__}: {exc}") from exc
        return result

    def _statement(self, kind: str, template: str, count: int, placeholders: str) -> str:
        """`template` with `count` placeholder groups in place of `{values}` (cached)."""
        key = (kind, count)
        sql = self._statements.get(key)
        if sql is None:
            sql = template.format(values=",".join([placeholders] * count))
            if len(self._statements) < 256:
                self._statements[key] = sql
        return sql

    def _insert(
        self,
        rows: list[Row],
        keys: list[DuplicateRow | None],
        now: str,
        charging: Sequence[Row] = (),
    ) -> list[int | None]:
        kept, count, last = self._transaction(self._insert_rows, rows, keys, now, charging)
        # BEGIN IMMEDIATE made this the only writer: the rows got consecutive rowids
        # (max + 1 each) in VALUES order.
        ids = iter(range(int(last) - count + 1, int(last) + 1))
        if kept is None:
            return list(ids)
        return [next(ids) if k else None for k in kept]

    def _insert_rows(
        self,
        connection: sqlite3.Connection,
        rows: list[Row],
        keys: list[DuplicateRow | None],
        now: str,
        charging: Sequence[Row] = (),
    ) -> tuple[list[bool] | None, int, int]:
        """The duplicate keys taken, then the rows inserted, then the charging rows: (which
        rows, how many, last message id)."""
        kept = self._claim_keys(connection, keys, now)
        fresh = rows if kept is None else [row for row, k in zip(rows, kept, strict=True) if k]
        count = len(fresh)
        before = connection.total_changes
        for start in range(0, count, _CHUNK):
            chunk = fresh[start : start + _CHUNK]
            sql = self._statement("insert", _INSERT + "{values}", len(chunk), _PLACEHOLDERS)
            connection.execute(sql, list(chain.from_iterable(chunk)))
        last = connection.execute("SELECT last_insert_rowid()").fetchone()[0]
        inserted = connection.total_changes - before
        if inserted != count:
            raise StoreUnavailable(f"inserted {inserted} rows for {count} messages")
        if charging:  # after last_insert_rowid(): these rowids are another table's
            connection.executemany(_INSERT_CHARGING, charging)
        self._purge_keys(connection, now)
        return kept, count, int(last)

    def _record_outcomes(self, connection: sqlite3.Connection, outcomes: list[OutcomeRows]) -> None:
        """Every attempts row first (the foreign key refuses unknown ids), then the updates."""
        for start in range(0, len(outcomes), _CHUNK):
            chunk = outcomes[start : start + _CHUNK]
            sql = self._statement(
                "attempts", _INSERT_ATTEMPTS + "{values}", len(chunk), _ATTEMPT_PLACEHOLDERS
            )
            connection.execute(sql, list(chain.from_iterable(row for row, _ in chunk)))
        for updates in _rounds([update for _, update in outcomes]):
            for start in range(0, len(updates), _CHUNK):
                chunk = updates[start : start + _CHUNK]
                sql = self._statement(
                    "outcomes", _UPDATE_OUTCOMES, len(chunk), _OUTCOME_PLACEHOLDERS
                )
                connection.execute(sql, list(chain.from_iterable(chunk)))

    def _claim_heads(
        self, connection: sqlite3.Connection, recipients: list[str], now: str
    ) -> tuple[list[Row], set[str]]:
        """The UPDATE ... RETURNING of the heads, then which claimed recipients have more
        queued (a query of its own: SQLite runs a correlated subquery in RETURNING without
        the index)."""
        rows: list[Row] = []
        for start in range(0, len(recipients), _CHUNK):
            chunk = recipients[start : start + _CHUNK]
            sql = self._statement("claim", _CLAIM_HEADS, len(chunk), "?")
            rows.extend(connection.execute(sql, [*chunk, now, now]))
        claimed = list({row[_RECIPIENT] for row in rows})
        more: set[str] = set()
        for start in range(0, len(claimed), _CHUNK):
            chunk = claimed[start : start + _CHUNK]
            sql = self._statement("queued", _QUEUED_AMONG, len(chunk), "?")
            more.update(recipient for (recipient,) in connection.execute(sql, chunk))
        return rows, more

    def _due_recipients(self, now: str, limit: int) -> list[str]:  # in the reading thread
        connection = self._read_connection
        if connection is None:
            connection = self._read_connection = self._open()
        try:
            found = [r for (r,) in connection.execute(_DUE_PRIORITY, (now, limit))]
            others = connection.execute(_DUE_RECIPIENTS, (now, limit))
            return priority_first(found, (r for (r,) in others), limit)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"database error: {type(exc).__name__}: {exc}") from exc

    def _release(self, connection: sqlite3.Connection, recipients: list[str], now: str) -> int:
        count = 0
        for start in range(0, len(recipients), _CHUNK):
            chunk = recipients[start : start + _CHUNK]
            sql = self._statement("release", _RELEASE, len(chunk), "?")
            count += connection.execute(sql, [now, now, *chunk, now]).rowcount
        return count

    @staticmethod
    def _queue_scheduled(connection: sqlite3.Connection, now: str) -> list[tuple[str, int]]:
        return [(recipient, priority) for recipient, priority in connection.execute(
            _QUEUE_SCHEDULED, (now, now)
        )]  # fmt: skip

    @staticmethod
    def _cancel_pending(connection: sqlite3.Connection, submission_id: str, now: str) -> int:
        return int(connection.execute(_CANCEL_PENDING, (now, submission_id)).rowcount)

    @staticmethod
    def _claim_keys(
        connection: sqlite3.Connection, keys: list[DuplicateRow | None], now: str
    ) -> list[bool] | None:
        """Take the batch's duplicate keys whose window is free; which rows may be inserted
        (None: every row, no key in the batch).

        Two statements of one step each, so the GIL is released once per statement as for
        the INSERT of the messages (RETURNING would step, and take the GIL, once per row): the
        keys still held (normally none), then INSERT OR REPLACE of the others (any row left
        for them has an ended window). BEGIN IMMEDIATE makes this the only writer meanwhile."""
        wanted = first_windows(keys)
        if not wanted:
            return None
        held: set[str] = set()
        names = list(wanted)
        for start in range(0, len(names), _CHUNK):
            chunk = names[start : start + _CHUNK]
            cursor = connection.execute(
                f"{_HELD_KEYS}({','.join('?' * len(chunk))})", [now, *chunk]
            )
            held.update(key for (key,) in cursor.fetchall())
        free = [(key, until) for key, until in wanted.items() if key not in held]
        for start in range(0, len(free), _CHUNK):
            pairs = free[start : start + _CHUNK]
            connection.execute(
                _TAKE_KEYS + ",".join(["(?,?)"] * len(pairs)), list(chain.from_iterable(pairs))
            )
        return rows_to_insert(
            (None if entry is None else entry[0] for entry in keys), set(wanted) - held
        )

    def _purge_keys(self, connection: sqlite3.Connection, now: str) -> None:
        """Now and then, delete the keys whose window has ended (the index on `until`)."""
        moment = self._clock()
        if moment < self._next_purge:
            return
        self._next_purge = moment + self._purge_every_s
        connection.execute(_PURGE_KEYS, (now,))


_RECIPIENT = MESSAGE_COLUMNS.index("recipient")


def _rounds(updates: list[Row]) -> list[list[Row]]:
    """The updates split so that no message is twice in one statement (UPDATE ... FROM would
    apply only one of its rows): the n-th update of each message goes in round n, so the
    rounds in turn apply each message's updates in batch order, as one UPDATE per row would."""
    if len({update[0] for update in updates}) == len(updates):
        return [updates]
    rounds: list[list[Row]] = []
    seen: dict[Any, int] = {}
    for update in updates:
        turn = seen.get(update[0], 0)
        seen[update[0]] = turn + 1
        if turn == len(rounds):
            rounds.append([])
        rounds[turn].append(update)
    return rounds
