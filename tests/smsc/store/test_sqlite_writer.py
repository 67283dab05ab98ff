"""The SQLite fast path of add(): same rows as the SQLAlchemy path, ids in order, errors."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from smsc.service.model import NewMessage
from smsc.store import SqlMessageStore, StoreUnavailable
from smsc.store.sqlite_writer import (
    SqliteBatchWriter,
    sqlite_file_of,
    sqlite_message_row,
    sqlite_time,
)
from tests.smsc.store.conftest import T0, Database

PLUS_ONE = timezone(timedelta(hours=1))

Make = Callable[..., NewMessage]


def test_sqlite_file_of_recognises_only_sqlite_files() -> None:
    assert sqlite_file_of("sqlite+aiosqlite:////tmp/a/smsc.db") == "/tmp/a/smsc.db"
    assert sqlite_file_of("sqlite+aiosqlite:///var/smsc.db") == "var/smsc.db"
    assert sqlite_file_of("sqlite+aiosqlite://") is None
    assert sqlite_file_of("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file_of("postgresql+asyncpg://postgres@127.0.0.1/test") is None
    assert sqlite_file_of("not a url") is None


def test_sqlite_time_is_sqlalchemy_text_in_utc() -> None:
    assert sqlite_time(T0) == "2026-11-26 10:00:00.000000"
    plus_one = T0.astimezone(timezone(timedelta(hours=1)))
    assert sqlite_time(plus_one) == "2026-11-26 10:00:00.000000"
    with pytest.raises(ValueError, match="naive"):
        sqlite_time(T0.replace(tzinfo=None))


def test_rows_are_cleaned_like_the_sqlalchemy_path(make_message: Make) -> None:
    message = make_message(text="a\x00b", originator="49\udc80", status_report=True)
    row = sqlite_message_row(message, "now")
    assert row[2] == "49?"
    assert row[10] == "a\ufffdb"
    assert row[11] == 1
    assert row[-6:] == ("now", "queued", 0, None, None, 0)
    later = T0 + timedelta(days=1)
    scheduled = sqlite_message_row(
        make_message(deliver_at=later.astimezone(PLUS_ONE), priority=2), "now"
    )
    at = sqlite_time(later)
    assert scheduled[-6:] == ("now", "scheduled", 0, at, at, 2)
    assert sqlite_message_row(make_message(priority=1), "now")[-6:] == (
        "now",
        "queued",
        0,
        None,
        None,
        1,
    )


async def test_fast_and_sqlalchemy_paths_write_identical_rows(
    sqlite: Database, make_message: Make, tmp_path: Path
) -> None:
    messages = [
        make_message(text="héllo", status_report=True, rp_mr=7, call_id="c@h"),
        make_message(roaming_status="international-roaming", visited_plmn="20801"),
        make_message(text=None, segment=2, segments=3, source="udp:127.0.0.1:5090"),
        make_message(deliver_at=(T0 + timedelta(hours=5)).astimezone(PLUS_ONE)),
        make_message(priority=3),
    ]
    fast = sqlite.store(clock=lambda: T0)
    await fast.start()
    assert fast._writer is not None  # the fast path is in use
    fast_ids = [await fast.add(m) for m in messages]
    slow_url = f"sqlite+aiosqlite:///{tmp_path}/slow.db"
    slow = SqlMessageStore(slow_url, clock=lambda: T0)
    slow._sqlite_file = None  # force the SQLAlchemy path
    await slow.start()
    try:
        assert slow._writer is None
        slow_ids = [await slow.add(m) for m in messages]
        assert [await slow.get(i) for i in slow_ids] == [await fast.get(i) for i in fast_ids]
    finally:
        await slow.close()

    def raw(path: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(path) as connection:
            return connection.execute("SELECT * FROM messages ORDER BY id").fetchall()

    fast_path = sqlite_file_of(sqlite.url)
    assert fast_path is not None
    assert raw(fast_path) == raw(f"{tmp_path}/slow.db")


async def test_writer_returns_consecutive_ids_across_chunks(
    sqlite: Database, make_message: Make
) -> None:
    store = sqlite.store()
    await store.start()
    await store.add(make_message())
    path = sqlite_file_of(sqlite.url)
    assert path is not None
    writer = SqliteBatchWriter(path)
    try:
        rows = [sqlite_message_row(make_message(text=f"t{i}"), "x") for i in range(2_500)]
        ids = await writer.insert(rows, [None] * len(rows), "x")
        assert ids == list(range(2, 2_502))
        with sqlite3.connect(path) as connection:
            texts = dict(connection.execute("SELECT id, text FROM messages").fetchall())
        assert all(texts[i] == f"t{n}" for n, i in enumerate(ids))
        assert await writer.insert([], [], "x") == []
    finally:
        await writer.close()


async def test_writer_errors_become_store_unavailable(tmp_path: Path, make_message: Make) -> None:
    writer = SqliteBatchWriter(str(tmp_path / "no-schema.db"))
    try:
        with pytest.raises(StoreUnavailable, match="no such table"):
            await writer.insert([sqlite_message_row(make_message(), "x")], [None], "x")
    finally:
        await writer.close()
    with pytest.raises(Exception, match="closed"):
        await writer.insert([sqlite_message_row(make_message(), "x")], [None], "x")


async def test_concurrent_adds_and_claims_share_the_file(
    sqlite: Database, make_message: Make
) -> None:
    store = sqlite.store()
    await store.start()
    added = asyncio.gather(*(store.add(make_message(recipient="491710000001")) for _ in range(300)))
    claimed = await store.claim_next("491710000001", T0 + timedelta(days=1))
    ids = await added
    assert len(set(ids)) == 300
    assert claimed is None or claimed.id == ids[0]
