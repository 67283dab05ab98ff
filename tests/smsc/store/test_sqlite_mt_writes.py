"""The MT writes of a SQLite file (claim_heads, record_attempt, release_recipients) go through the
SqliteBatchWriter thread: the same rows, values and read-backs as the SQLAlchemy path and as
PostgreSQL; an unknown id still fails only its caller."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from smsc.service.model import Attempt, MessageState, NewMessage, StoredMessage
from smsc.store import SqlMessageStore, StoreUnavailable
from smsc.store.errors import StoreClosedError
from smsc.store.sqlite_writer import (
    SqliteBatchWriter,
    _rounds,
    sqlite_datetime,
    sqlite_file_of,
    sqlite_outcome_rows,
    sqlite_time,
)
from tests.smsc.store.conftest import T0, Database

Make = Callable[..., NewMessage]
ALICE, BOB, CAROL, DAVE = (f"49176000000{i}" for i in range(1, 5))
PLUS_TWO = timezone(timedelta(hours=2))
T1 = T0 + timedelta(seconds=3, microseconds=123_456)
T2 = T0 + timedelta(minutes=7, microseconds=1)


def _messages(make_message: Make) -> list[NewMessage]:
    recipients = [ALICE, BOB, ALICE, CAROL, DAVE, BOB, ALICE]
    return [make_message(recipient=r, text=f"to {r} #{n}") for n, r in enumerate(recipients)]


async def _scenario(store: SqlMessageStore, messages: list[NewMessage]) -> list[Any]:
    """Claims, outcomes (one batch with a message twice), releases; everything observed."""
    seen: list[Any] = []
    a1, b1, a2, c1, d1, b2, a3 = await store.add_many(messages)
    ids = [a1, b1, a2, c1, d1, b2, a3]
    seen.append(await store.claim_heads([ALICE, BOB, CAROL, DAVE, "4917099999"], T0))
    flushes = store.outcomes.flushes
    await asyncio.gather(
        store.record_attempt(a1, MessageState.DELIVERED, Attempt(T1, 200, None, "delivered")),
        store.record_attempt(
            b1, MessageState.QUEUED, Attempt(T1, 480, None, "sip-failure"), T0 + timedelta(hours=1)
        ),
        store.record_attempt(c1, MessageState.FAILED, Attempt(T1, 200, 21, "rp-error")),
        store.record_attempt(  # memory full, parked; times in another zone
            d1,
            MessageState.QUEUED,
            Attempt(T1.astimezone(PLUS_TWO), 200, 22, "rp-error"),
            (T0 + timedelta(days=1)).astimezone(PLUS_TWO),
        ),
    )
    seen.append(store.outcomes.flushes - flushes)
    seen.append([await store.get(i) for i in ids])
    seen.append(await store.claim_heads([ALICE, BOB, CAROL, DAVE], T1))
    seen.append(await store.release_recipients([BOB], T2))
    seen.append(await store.release_recipients([DAVE], T2))
    seen.append(await store.release_recipients([CAROL], T2))
    seen.append(await store.claim_heads([BOB, DAVE, ALICE], T2))
    flushes = store.outcomes.flushes
    await asyncio.gather(  # one batch: a2 twice (delivered, then a late failure), b1 and d1
        store.record_attempt(a2, MessageState.DELIVERED, Attempt(T2, 200, None, "delivered")),
        store.record_attempt(b1, MessageState.EXPIRED, Attempt(T2, None, None, "expired")),
        store.record_attempt(a2, MessageState.FAILED, Attempt(T2, 500, 41, "late")),
        store.record_attempt(d1, MessageState.DELIVERED, Attempt(T2, 202, None, "delivered")),
    )
    seen.append(store.outcomes.flushes - flushes)
    seen.append(await store.claim_heads([ALICE, BOB, DAVE], T2 + timedelta(hours=2)))
    seen.append([await store.get(i) for i in ids])
    seen.append(await store.count_by_state())
    return seen


def _strict(value: Any) -> str:
    """repr: datetimes compared with their tzinfo (equal instants in other zones differ)."""
    return repr(value)


async def _run(store: SqlMessageStore, messages: list[NewMessage]) -> list[Any]:
    await store.start()
    return await _scenario(store, messages)


def _raw(path: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT * FROM messages ORDER BY id").fetchall()
        tried = connection.execute("SELECT * FROM attempts ORDER BY id").fetchall()
    return rows, tried


@contextlib.asynccontextmanager
async def _no_sqlalchemy_writes(store: SqlMessageStore) -> AsyncIterator[None]:
    """Fail the test if the store opens a SQLAlchemy write transaction meanwhile."""

    def refuse() -> Any:
        raise AssertionError("a SQLAlchemy write on the writer path")

    store._write = refuse  # type: ignore[method-assign]
    try:
        yield
    finally:
        del store._write


async def test_writer_path_matches_the_sqlalchemy_path_row_for_row(
    sqlite: Database, make_message: Make, tmp_path: Path
) -> None:
    messages = _messages(make_message)
    fast = sqlite.store(clock=lambda: T0)
    await fast.start()
    assert fast._writer is not None
    async with _no_sqlalchemy_writes(fast):
        fast_seen = await _scenario(fast, messages)
    slow = SqlMessageStore(f"sqlite+aiosqlite:///{tmp_path}/slow.db", clock=lambda: T0)
    slow._sqlite_file = None  # force the SQLAlchemy path
    try:
        slow_seen = await _run(slow, messages)
        assert slow._writer is None
    finally:
        await slow.close()

    assert _strict(fast_seen) == _strict(slow_seen)
    fast_path = sqlite_file_of(sqlite.url)
    assert fast_path is not None
    assert _raw(fast_path) == _raw(f"{tmp_path}/slow.db")  # same values, same text formats


async def test_writer_path_matches_postgresql(
    sqlite: Database, postgres: Database, make_message: Make
) -> None:
    messages = _messages(make_message)
    on_sqlite = await _run(sqlite.store(clock=lambda: T0), messages)
    on_postgres = await _run(postgres.store(clock=lambda: T0), messages)
    assert _strict(on_sqlite) == _strict(on_postgres)


async def test_the_scenario_sees_what_the_contract_says(
    sqlite: Database, make_message: Make
) -> None:
    """The transcript compared above is itself right (claims, more_queued, coalesce)."""
    seen = await _run(sqlite.store(clock=lambda: T0), _messages(make_message))
    a1, b1, a2, c1, d1, b2, a3 = range(1, 8)
    first: list[StoredMessage] = seen[0]
    assert [(m.id, m.more_queued, m.attempts, m.state) for m in first] == [
        (a1, True, 1, MessageState.DELIVERING),
        (b1, True, 1, MessageState.DELIVERING),
        (c1, False, 1, MessageState.DELIVERING),
        (d1, False, 1, MessageState.DELIVERING),
    ]
    assert all(m.updated_at == T0 and m.updated_at.tzinfo is not None for m in first)
    assert seen[1] == 1  # one transaction for the four outcomes
    parked = seen[2][d1 - 1]
    assert parked.next_attempt_at == T0 + timedelta(days=1)
    assert parked.history == (Attempt(T1, 200, 22, "rp-error"),)
    assert [m.id for m in seen[3]] == [a2]  # b1 waits, c1 failed, d1 parked
    assert seen[4:7] == [1, 1, 0]
    assert [(m.id, m.attempts, m.more_queued) for m in seen[7]] == [(b1, 2, True), (d1, 2, False)]
    assert seen[8] == 1
    final = {m.id: m for m in seen[10]}
    assert final[a2].state is MessageState.FAILED
    assert final[a2].delivered_at == T2  # coalesce(new, old): the later failure keeps it
    assert [a.outcome for a in final[a2].history] == ["delivered", "late"]
    assert final[b1].state is MessageState.EXPIRED and final[b1].delivered_at is None
    assert final[d1].delivered_at == T2 and final[d1].next_attempt_at is None
    assert [m.id for m in seen[9]] == [b2, a3]  # oldest first


async def test_an_unknown_id_rolls_the_writer_batch_back(
    sqlite: Database, make_message: Make
) -> None:
    store = sqlite.store()
    await store.start()
    (known,) = await store.add_many([make_message()])
    path = sqlite_file_of(sqlite.url)
    assert path is not None
    writer = SqliteBatchWriter(path)
    rows = [
        sqlite_outcome_rows(known, MessageState.DELIVERED, Attempt(T0), None),
        sqlite_outcome_rows(999_999, MessageState.DELIVERED, Attempt(T0), None),
    ]
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await writer.record_outcomes(rows)
        assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
        await writer.record_outcomes(rows[:1])
    finally:
        await writer.close()
    stored = await store.get(known)
    assert stored is not None and stored.state is MessageState.DELIVERED
    assert len(stored.history) == 1  # the failed batch left nothing behind


async def test_unknown_ids_in_a_writer_batch_fail_only_their_callers(
    sqlite: Database, make_message: Make
) -> None:
    store = sqlite.store()
    await store.start()
    ids = await store.add_many([make_message(recipient=f"49{n}") for n in range(4)])
    wanted = [999_998, ids[0], ids[1], 999_999, ids[2], ids[3]]
    results = await asyncio.gather(
        *(store.record_attempt(i, MessageState.DELIVERED, Attempt(T0)) for i in wanted),
        return_exceptions=True,
    )
    names = [type(r).__name__ for r in results]
    assert (
        names
        == ["MessageNotFoundError", *["NoneType"] * 2, "MessageNotFoundError"] + ["NoneType"] * 2
    )
    assert (await store.count_by_state())[MessageState.DELIVERED] == 4


async def test_other_writer_errors_fail_every_caller_of_the_batch(
    sqlite: Database, make_message: Make
) -> None:
    store = sqlite.store()
    await store.start()
    ids = await store.add_many([make_message() for _ in range(3)])
    path = sqlite_file_of(sqlite.url)
    assert path is not None
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("DROP TABLE attempts")
    results = await asyncio.gather(
        *(store.record_attempt(i, MessageState.DELIVERED, Attempt(T0)) for i in ids),
        return_exceptions=True,
    )
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert all("no such table" in str(r) for r in results)


async def test_claims_on_two_writers_and_sqlalchemy_never_share_a_message(
    sqlite: Database, make_message: Make
) -> None:
    """Two stores on one file (two writer threads) claim with claim_heads, a third path with
    claim_next (SQLAlchemy); every message is delivered once, in order per recipient."""
    recipients = [f"4917{n:07d}" for n in range(10)]
    loader = sqlite.store()
    await loader.start()
    await loader.add_many([make_message(recipient=r) for _ in range(6) for r in recipients])
    other = sqlite.store()
    await other.start()
    stores = [loader, other]
    claims: dict[str, list[int]] = {r: [] for r in recipients}

    async def deliver(store: SqlMessageStore, claimed: list[StoredMessage]) -> None:
        for message in claimed:
            claims[message.message.recipient].append(message.id)
            await asyncio.sleep(0)
            attempt = Attempt(T0, 200, None, "delivered")
            await store.record_attempt(message.id, MessageState.DELIVERED, attempt)

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        store = stores[seed % 2]
        while (await store.count_by_state())[MessageState.QUEUED]:
            wanted = rng.sample(recipients, 4)
            if seed % 3 == 0:
                one = await store.claim_next(wanted[0], T0)
                claimed = [] if one is None else [one]
            else:
                claimed = await store.claim_heads(wanted, T0)
            await deliver(store, claimed)
            await asyncio.sleep(rng.random() / 1000)

    await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(6))), 60)
    every = [i for ids in claims.values() for i in ids]
    assert len(every) == len(set(every)) == 60
    assert all(ids == sorted(ids) for ids in claims.values())
    assert (await other.count_by_state())[MessageState.DELIVERED] == 60


async def test_a_closed_store_refuses_writer_path_claims(
    sqlite: Database, make_message: Make
) -> None:
    store = sqlite.store()
    await store.start()
    await store.add_many([make_message(recipient=ALICE)])
    with pytest.raises(ValueError, match="naive"):
        await store.claim_heads([ALICE], T0.replace(tzinfo=None))
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.claim_heads([ALICE], T0)
    with pytest.raises(StoreClosedError):
        await store.release_recipients([ALICE], T0)


def test_sqlite_datetime_reads_back_what_sqlite_time_wrote() -> None:
    moment = T1.astimezone(PLUS_TWO)
    back = sqlite_datetime(sqlite_time(moment))
    assert back == moment and repr(back) == repr(T1)
    assert repr(sqlite_datetime("2026-11-26 10:00:00")) == repr(T0)


def test_rounds_keep_each_messages_updates_in_order() -> None:
    updates = [(1, "a"), (2, "b"), (1, "c"), (3, "d"), (1, "e"), (2, "f")]
    assert _rounds(updates) == [[(1, "a"), (2, "b"), (3, "d")], [(1, "c"), (2, "f")], [(1, "e")]]
    unique = [(1, "a"), (2, "b")]
    assert _rounds(unique) == [unique]


async def test_large_claims_and_outcome_batches_span_several_statements(
    sqlite: Database, make_message: Make
) -> None:
    recipients = [f"4915{n:07d}" for n in range(2_500)]
    store = sqlite.store()
    await store.start()
    ids = await store.add_many([make_message(recipient=r) for r in [*recipients, recipients[-1]]])
    claimed = await store.claim_heads([*recipients, *recipients[:10]], T0)
    assert [m.id for m in claimed] == ids[:-1]
    assert [m.message.recipient for m in claimed if m.more_queued] == [recipients[-1]]
    writer = store._writer
    assert writer is not None
    attempt = Attempt(T1, 200, None, "delivered")
    await writer.record_outcomes(
        [sqlite_outcome_rows(m.id, MessageState.DELIVERED, attempt, None) for m in claimed]
    )
    counts = await store.count_by_state()
    assert (counts[MessageState.DELIVERED], counts[MessageState.QUEUED]) == (2_500, 1)
    last = await store.get(ids[-2])
    assert last is not None and last.delivered_at == T1 and last.history == (attempt,)
