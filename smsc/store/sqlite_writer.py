"""The SQLite fast path of `add()`: whole batches written by one thread with the stdlib module.

SQLAlchemy's parameter processing costs ~60 µs per row on the event loop thread, and aiosqlite's
thread then competes with the loop for the GIL once per row. Here a batch costs one cheap tuple
per row (built on the loop, which also validates) and, in one dedicated thread, `BEGIN
IMMEDIATE`, one multi-row INSERT per chunk (a single `sqlite3_step`, so the GIL is released
once for the whole chunk, not once per row), and `COMMIT`. The caller awaits a future that the
thread settles through `loop.call_soon_threadsafe` (`run_in_executor`).

The schema is still Alembic's (tables.py); only the INSERT of new messages takes this path.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from smsc.service.model import MessageState, NewMessage
from smsc.store.duplicate_keys import PURGE_EVERY_S, first_windows, rows_to_insert
from smsc.store.errors import StoreClosedError, StoreUnavailable
from smsc.store.migrate import sqlite_pragmas
from smsc.store.tables import clean_text, messages, mo_duplicate_keys

__all__ = [
    "DuplicateRow",
    "SqliteBatchWriter",
    "sqlite_duplicate_row",
    "sqlite_file_of",
    "sqlite_message_row",
    "sqlite_time",
]

Row = tuple[Any, ...]

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
)
_PLACEHOLDERS = "(" + ",".join("?" * len(_COLUMNS)) + ")"
_INSERT = f"INSERT INTO {messages.name} ({', '.join(_COLUMNS)}) VALUES "
_CHUNK = 1_000
"""Rows per INSERT statement: 23 parameters each stays under SQLite's 32,766 limit."""
_QUEUED = MessageState.QUEUED.value
_KEYS = mo_duplicate_keys.name
_HELD_KEYS = f"SELECT key FROM {_KEYS} WHERE until > ? AND key IN "
"""The keys a stored MO still holds (their window has not ended); the IN list follows."""
_TAKE_KEYS = f"INSERT OR REPLACE INTO {_KEYS} (key, until) VALUES "
"""Take keys known free: new ones, or rows whose window ended (replaced)."""
_PURGE_KEYS = f"DELETE FROM {_KEYS} WHERE until <= ?"

DuplicateRow = tuple[str, str]
"""A row's duplicate key and the end of its window (as `sqlite_time` text)."""


def sqlite_time(value: datetime) -> str:
    """An aware datetime as SQLAlchemy's SQLite DATETIME text (naive UTC, microseconds)."""
    tzinfo = value.tzinfo
    if tzinfo is not UTC:
        if tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: the store needs aware datetimes")
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _optional_text(value: str | None) -> str | None:
    return None if value is None else clean_text(value)


def sqlite_message_row(message: NewMessage, updated_at: str) -> Row:
    """The `messages` row of a new message as INSERT parameters (the columns of _COLUMNS).

    The same cleaning as `tables.message_row` (UTC times, storable text, plain bytes) without
    building an intermediate NewMessage; raises ValueError on naive datetimes.
    """
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
        _QUEUED,
        0,
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
    """Inserts batches of message rows in one dedicated thread; one transaction per batch.

    A row may carry a duplicate key (key, window end): it is inserted only when its key is not
    held by a stored MO whose window is still open at `now`; otherwise its id comes back None.
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
        self._statements: dict[int, str] = {}
        self._purge_every_s = purge_every_s
        self._clock = clock
        self._next_purge = clock()

    async def insert(
        self, rows: list[Row], keys: list[DuplicateRow | None], now: str
    ) -> list[int | None]:
        """Insert the rows in one transaction; their ids in the same order once committed,
        None for a row whose duplicate key is held (that row is not inserted)."""
        if self._executor is None:
            raise StoreClosedError("the SQLite writer is closed")
        if not rows:
            return []
        if len(keys) != len(rows):
            raise ValueError(f"{len(keys)} duplicate keys for {len(rows)} rows")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._insert, rows, keys, now)

    async def close(self) -> None:
        """Close the connection in its thread, then stop the thread."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(executor, self._disconnect)
        finally:
            executor.shutdown(wait=False)

    # -- in the writer thread -----------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        connection = self._connection
        if connection is None:
            try:
                connection = sqlite3.connect(self._path, isolation_level=None)
                sqlite_pragmas(connection, None)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"database unreachable: {exc}") from exc
            self._connection = connection
        return connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _statement(self, count: int) -> str:
        sql = self._statements.get(count)
        if sql is None:
            sql = _INSERT + ",".join([_PLACEHOLDERS] * count)
            if len(self._statements) < 64:
                self._statements[count] = sql
        return sql

    def _insert(
        self, rows: list[Row], keys: list[DuplicateRow | None], now: str
    ) -> list[int | None]:
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                kept = self._claim_keys(connection, keys, now)
                fresh = (
                    rows if kept is None else [row for row, k in zip(rows, kept, strict=True) if k]
                )
                count = len(fresh)
                before = connection.total_changes
                for start in range(0, count, _CHUNK):
                    chunk = fresh[start : start + _CHUNK]
                    connection.execute(
                        self._statement(len(chunk)), list(chain.from_iterable(chunk))
                    )
                last = connection.execute("SELECT last_insert_rowid()").fetchone()[0]
                inserted = connection.total_changes - before
                if inserted != count:
                    raise StoreUnavailable(f"inserted {inserted} rows for {count} messages")
                self._purge_keys(connection, now)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"database error: {type(exc).__name__}: {exc}") from exc
        # BEGIN IMMEDIATE made this the only writer: the rows got consecutive rowids
        # (max + 1 each) in VALUES order.
        ids = iter(range(int(last) - count + 1, int(last) + 1))
        if kept is None:
            return list(ids)
        return [next(ids) if k else None for k in kept]

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
