"""The duplicate key of an MO, unique in the store within its window (issue 11, point 2): on
the memory twin, the SQLite writer thread, SQLAlchemy's SQLite path and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from smsc.service.model import DuplicateKey, MessageOrigin, NewMessage
from smsc.store import MemoryMessageStore, SqlMessageStore
from smsc.store.errors import DuplicateMessageError
from smsc.store.tables import mo_duplicate_keys
from tests.smsc.store.conftest import T0, _postgres_database, _sqlite_database

WINDOW = timedelta(seconds=60)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Backend:
    """Opens stores on one database; a second store on it is the process after a restart."""

    name: str
    url: str | None
    schema: str | None = None
    clock: Clock = field(default_factory=Clock)
    opened: list[SqlMessageStore | MemoryMessageStore] = field(default_factory=list)

    async def open(self) -> SqlMessageStore | MemoryMessageStore:
        store: SqlMessageStore | MemoryMessageStore
        if self.url is None:
            store = MemoryMessageStore(clock=self.clock)
        else:
            store = SqlMessageStore(self.url, schema=self.schema, clock=self.clock)
        await store.start()
        self.opened.append(store)
        return store

    async def close(self) -> None:
        for store in self.opened:
            await store.close()


_URLS = {
    "memory": None,
    "sqlite-writer": "sqlite+aiosqlite:///{tmp}/dup.db",
    "sqlite-sqlalchemy": "sqlite+aiosqlite:///file:{tmp}/dup.db?uri=true",  # no writer thread
}


async def _backend(name: str, tmp_path: Path) -> AsyncIterator[Backend]:
    if name == "postgresql":
        async for database in _postgres_database():
            made = Backend(name, database.url, database.schema)
            try:
                yield made
            finally:
                await made.close()
        return
    url = _URLS[name]
    made = Backend(name, None if url is None else url.format(tmp=tmp_path))
    try:
        yield made
    finally:
        await made.close()


SQL = ["sqlite-writer", "sqlite-sqlalchemy", "postgresql"]


@pytest.fixture(params=["memory", *SQL])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Every store."""
    async for made in _backend(request.param, tmp_path):
        yield made


@pytest.fixture(params=SQL)
async def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """The stores with a database that outlives them."""
    async for made in _backend(request.param, tmp_path):
        yield made


def mo(key: str, *, at: datetime = T0, text: str = "hello") -> NewMessage:
    """An MO carrying `key`; each copy its own submission id, as each resend has a Call-ID."""
    return NewMessage(
        submission_id=f"mo-{uuid.uuid4().hex[:8]}",
        origin=MessageOrigin.MO,
        originator="4915112345678",
        originator_ton=1,
        recipient="4917612345678",
        submit_tpdu=b"\x01\x07\x0b\x91",
        received_at=at,
        expires_at=at + timedelta(days=1),
        text=text,
        rp_mr=7,
        duplicate=DuplicateKey(key, at + WINDOW),
    )


async def stored_count(store: SqlMessageStore | MemoryMessageStore) -> int:
    return sum((await store.count_by_state()).values())


async def test_a_copy_within_the_window_is_refused_and_the_first_kept(backend: Backend) -> None:
    store = await backend.open()
    first = await store.add(mo("a" * 32))
    with pytest.raises(DuplicateMessageError) as refused:
        await store.add(mo("a" * 32, at=T0 + timedelta(seconds=30)))
    assert refused.value.key == "a" * 32
    assert await stored_count(store) == 1
    kept = await store.get(first)
    assert kept is not None and kept.message.text == "hello"


async def test_other_keys_and_messages_without_a_key_are_stored(backend: Backend) -> None:
    store = await backend.open()
    await store.add(mo("a" * 32))
    await store.add(mo("b" * 32))
    plain = replace(mo("a" * 32), duplicate=None)
    await store.add(plain)
    await store.add(plain)
    assert await stored_count(store) == 4


async def test_copies_in_one_batch_store_one(backend: Backend) -> None:
    """Concurrent copies share a group commit (or the memory twin's one call)."""
    store = await backend.open()
    results = await asyncio.gather(
        store.add(mo("c" * 32)),
        store.add(mo("d" * 32)),
        store.add(mo("c" * 32, text="copy")),
        store.add(mo("c" * 32, text="copy 2")),
        return_exceptions=True,
    )
    ids = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, DuplicateMessageError)]
    assert len(ids) == 2 and len(refused) == 2, results
    assert isinstance(results[0], int) and isinstance(results[1], int)
    assert await stored_count(store) == 2


async def test_add_many_stores_the_rest_and_raises_for_the_copy(backend: Backend) -> None:
    store = await backend.open()
    await store.add(mo("e" * 32))
    with pytest.raises(DuplicateMessageError):
        await store.add_many([mo("f" * 32), mo("e" * 32), mo("g" * 32)])
    assert await stored_count(store) == 3


async def test_after_the_window_the_same_key_is_stored_again(backend: Backend) -> None:
    """The same RP-MR and TPDU an hour later is a new SMS ("ok" twice); its window restarts."""
    store = await backend.open()
    await store.add(mo("h" * 32))
    later = T0 + timedelta(hours=1)
    backend.clock.now = later
    await store.add(mo("h" * 32, at=later))
    backend.clock.now = later + timedelta(seconds=10)
    with pytest.raises(DuplicateMessageError):
        await store.add(mo("h" * 32, at=later + timedelta(seconds=10)))
    assert await stored_count(store) == 2


async def test_the_key_outlives_a_restart(sql_backend: Backend) -> None:
    backend = sql_backend
    first = await backend.open()
    await first.add(mo("i" * 32))
    await first.close()
    second = await backend.open()
    with pytest.raises(DuplicateMessageError):
        await second.add(mo("i" * 32, at=T0 + timedelta(seconds=59)))
    assert await stored_count(second) == 1


async def test_keys_past_their_window_are_purged(sql_backend: Backend) -> None:
    backend = sql_backend
    first = await backend.open()
    await first.add(mo("j" * 32))
    await first.add(mo("k" * 32, at=T0 + timedelta(minutes=5)))
    await first.close()
    backend.clock.now = T0 + timedelta(minutes=3)  # j's window ended, k's not
    second = await backend.open()
    await second.add(mo("l" * 32, at=backend.clock.now))  # a writer's first batch purges
    assert isinstance(second, SqlMessageStore)
    read, _ = second.shared_connections()
    async with read() as conn:
        keys = set((await conn.execute(select(mo_duplicate_keys.c.key))).scalars())
        total = (await conn.execute(select(func.count()).select_from(mo_duplicate_keys))).scalar()
    assert keys == {"k" * 32, "l" * 32}
    assert total == 2


async def test_two_stores_racing_for_one_key_store_it_once(tmp_path: Path) -> None:
    """Two instances on one PostgreSQL receive copies at the same moment: the second writer
    waits on the first's uncommitted key and finds it taken."""
    async for database in _postgres_database():
        one = database.store(clock=lambda: T0)
        two = database.store(clock=lambda: T0)
        await one.start()
        await two.start()
        keys = [uuid.uuid4().hex for _ in range(40)]
        results = await asyncio.gather(
            *(store.add(mo(key)) for key in keys for store in (one, two)),
            return_exceptions=True,
        )
        ids = [r for r in results if isinstance(r, int)]
        refused = [r for r in results if isinstance(r, DuplicateMessageError)]
        assert len(ids) == 40 and len(refused) == 40, [r for r in results if not isinstance(r, int)]
        assert sum((await one.count_by_state()).values()) == 40


async def test_a_sqlite_file_and_its_uri_agree(tmp_path: Path) -> None:
    """The writer thread and SQLAlchemy's path write the same window text: each sees the
    other's keys."""
    async for database in _sqlite_database(tmp_path):
        writer = SqlMessageStore(database.url, clock=lambda: T0)
        await writer.start()
        await writer.add(mo("m" * 32))
        await writer.close()
        path = database.url.removeprefix("sqlite+aiosqlite:///")
        other = SqlMessageStore(f"sqlite+aiosqlite:///file:{path}?uri=true", clock=lambda: T0)
        await other.start()
        try:
            with pytest.raises(DuplicateMessageError):
                await other.add(mo("m" * 32))
            await other.add(mo("n" * 32))
        finally:
            await other.close()
        writer = SqlMessageStore(database.url, clock=lambda: T0)
        await writer.start()
        try:
            with pytest.raises(DuplicateMessageError):
                await writer.add(mo("n" * 32))
        finally:
            await writer.close()
