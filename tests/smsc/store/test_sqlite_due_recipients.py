"""`due_recipients` of a SQLite file is read on the SqliteBatchWriter thread (stdlib sqlite3):
the same recipients, in the same order, as the SQLAlchemy query and as PostgreSQL; the claimed
messages it builds are those `stored_message` builds."""

from __future__ import annotations

import contextlib
import random
import sqlite3
from collections.abc import Callable
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from smsc.service.model import Attempt, MessageState, NewMessage
from smsc.service.ports import MessageStore
from smsc.store import MemoryMessageStore, SqlMessageStore
from smsc.store.errors import StoreClosedError
from smsc.store.sql import _claimed_from_sqlite
from smsc.store.sqlite_writer import _DUE_PRIORITY, MESSAGE_COLUMNS, sqlite_time
from smsc.store.tables import PRIORITY_INDEX, stored_message
from tests.smsc.store.conftest import T0, Database

Make = Callable[..., NewMessage]
RECIPIENTS = [f"49177{n:07d}" for n in range(12)]
NOWS = [T0 - timedelta(seconds=1), T0, T0 + timedelta(minutes=5), T0 + timedelta(days=2)]
LIMITS = [0, 1, 3, 5, 100]


async def _scenario(store: MessageStore, make_message: Make, seed: int) -> list[Any]:
    """Random claims, outcomes (retry later, parked, final), releases and scheduled messages
    coming due, among messages of which some are priority; due_recipients of every (now,
    limit) after each step."""
    rng = random.Random(seed)
    seen: list[Any] = []
    await store.add_many(
        [
            make_message(
                recipient=rng.choice(RECIPIENTS),
                text=f"#{n}",
                priority=rng.choice([0, 0, 0, 1, 3]),
                deliver_at=rng.choice([None, None, None, T0 + timedelta(seconds=rng.randrange(8))]),
            )
            for n in range(60)
        ]
    )
    for step in range(8):
        seen.append([await store.due_recipients(now, limit) for now in NOWS for limit in LIMITS])
        seen.append(sorted(await store.queue_scheduled(T0 + timedelta(seconds=step))))
        claimed = await store.claim_heads(rng.sample(RECIPIENTS, 6), T0)
        for message in claimed:
            at = T0 + timedelta(seconds=step)
            choice = rng.randrange(5)
            if choice == 0:
                continue  # left delivering
            if choice == 1:
                state, later = MessageState.DELIVERED, None
            elif choice == 2:
                state, later = MessageState.FAILED, None
            elif choice == 3:
                state, later = MessageState.QUEUED, T0 + timedelta(minutes=rng.choice([0, 5, 60]))
            else:
                state, later = MessageState.QUEUED, None
            await store.record_attempt(message.id, state, Attempt(at, 200, None, "x"), later)
        if step % 3 == 2:
            await store.release_recipients([rng.choice(RECIPIENTS)], T0 + timedelta(minutes=1))
    seen.append([await store.due_recipients(now, limit) for now in NOWS for limit in LIMITS])
    seen.append(await store.due_recipients(T0.astimezone(timezone(timedelta(hours=-3))), 100))
    return seen


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_writer_read_matches_the_sqlalchemy_query(
    sqlite: Database, make_message: Make, tmp_path: Path, seed: int
) -> None:
    fast = sqlite.store(clock=lambda: T0)
    await fast.start()
    assert fast._writer is not None
    fast_seen = await _scenario(fast, make_message, seed)
    slow = SqlMessageStore(f"sqlite+aiosqlite:///{tmp_path}/slow.db", clock=lambda: T0)
    slow._sqlite_file = None  # force the SQLAlchemy path
    try:
        await slow.start()
        assert slow._writer is None
        slow_seen = await _scenario(slow, make_message, seed)
    finally:
        await slow.close()
    assert fast_seen == slow_seen
    assert any(any(due) for due in fast_seen[:-1])  # the scenario is not trivially empty


async def test_writer_read_matches_postgresql(
    sqlite: Database, postgres: Database, make_message: Make
) -> None:
    on_sqlite = sqlite.store(clock=lambda: T0)
    await on_sqlite.start()
    on_postgres = postgres.store(clock=lambda: T0)
    await on_postgres.start()
    assert await _scenario(on_sqlite, make_message, 7) == await _scenario(
        on_postgres, make_message, 7
    )


async def test_writer_read_matches_the_memory_twin(sqlite: Database, make_message: Make) -> None:
    on_sqlite = sqlite.store(clock=lambda: T0)
    await on_sqlite.start()
    memory = MemoryMessageStore(clock=lambda: T0)
    await memory.start()
    assert await _scenario(on_sqlite, make_message, 11) == await _scenario(memory, make_message, 11)


async def test_priority_heads_come_first_by_their_partial_index(
    sqlite: Database, make_message: Make
) -> None:
    a, b, c, d = RECIPIENTS[:4]
    store = sqlite.store()
    await store.start()
    await store.add_many(
        [
            make_message(recipient=a),
            make_message(recipient=b, priority=1),
            make_message(recipient=c),
            make_message(recipient=a, priority=3),  # behind a's head: in order, not first
            make_message(recipient=d, priority=2),
        ]
    )
    assert await store.due_recipients(T0, 10) == [b, d, a, c]
    assert await store.due_recipients(T0, 1) == [b]
    assert await store.due_recipients(T0, 3) == [b, d, a]
    assert store._sqlite_file is not None
    with contextlib.closing(sqlite3.connect(store._sqlite_file)) as connection:
        explained = connection.execute("EXPLAIN QUERY PLAN " + _DUE_PRIORITY, (sqlite_time(T0), 10))
        plan = " ".join(str(row[-1]) for row in explained)
    assert PRIORITY_INDEX in plan, plan


async def test_due_recipients_on_the_writer_path_contract(
    sqlite: Database, make_message: Make
) -> None:
    """Heads only (a delivering head blocks its recipient), oldest head first, at most limit."""
    a, b, c = RECIPIENTS[:3]
    store = sqlite.store()
    await store.start()
    await store.add_many([make_message(recipient=r) for r in (a, b, a, c, b)])
    assert await store.due_recipients(T0, 10) == [a, b, c]
    assert await store.due_recipients(T0, 2) == [a, b]
    assert await store.due_recipients(T0, -1) == []
    [claimed] = await store.claim_heads([b], T0)
    assert await store.due_recipients(T0, 10) == [a, c]
    later = T0 + timedelta(minutes=1)
    await store.record_attempt(claimed.id, MessageState.QUEUED, Attempt(T0, 480, None, "x"), later)
    assert await store.due_recipients(T0, 10) == [a, c]
    assert await store.due_recipients(later, 10) == [a, b, c]
    with pytest.raises(ValueError, match="naive"):
        await store.due_recipients(T0.replace(tzinfo=None), 10)
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.due_recipients(T0, 10)


def test_claimed_rows_build_what_stored_message_builds() -> None:
    plus_two = timezone(timedelta(hours=2))
    values: dict[str, Any] = {
        "id": 42,
        "submission_id": "sub-ü",
        "origin": "status-report",
        "originator": "Alpha",
        "originator_ton": 5,
        "recipient": RECIPIENTS[0],
        "submit_tpdu": memoryview(b"\x01\x02"),
        "received_at": T0,
        "expires_at": T0.astimezone(plus_two),
        "segment": 2,
        "segments": 3,
        "text": "héllo",
        "status_report": 1,
        "rp_mr": 7,
        "source": "udp:1.2.3.4:5060",
        "call_id": "call",
        "tp_mr": 9,
        "state": "delivering",
        "attempts": 3,
        "last_sip_status": 480,
        "last_rp_cause": 22,
        "next_attempt_at": T0 + timedelta(seconds=1),
        "updated_at": T0 + timedelta(microseconds=5),
        "delivered_at": None,
        "roaming_status": "home",
        "visited_plmn": "26201",
        "callback_url": "http://x/y",
        "client_ref": "ref",
        "deliver_at": T0.astimezone(plus_two),
        "priority": 1,
    }
    texts = {k: sqlite_time(v) if hasattr(v, "tzinfo") else v for k, v in values.items()}
    row = tuple(texts[name] for name in MESSAGE_COLUMNS)
    for more in (set(), {RECIPIENTS[0]}):
        built = _claimed_from_sqlite(row, more)
        expected = stored_message(
            {**values, "expires_at": T0, "deliver_at": T0}, more_queued=RECIPIENTS[0] in more
        )
        assert repr(built) == repr(expected)
    bare = dict(texts, next_attempt_at=None, updated_at=None, text=None, status_report=0)
    built = _claimed_from_sqlite(tuple(bare[name] for name in MESSAGE_COLUMNS), set())
    assert built.next_attempt_at is None and built.updated_at is None
    assert built.message.status_report is False and built.message.text is None
    with pytest.raises(ValueError):
        _claimed_from_sqlite(tuple(dict(texts, origin="nope")[n] for n in MESSAGE_COLUMNS), set())
