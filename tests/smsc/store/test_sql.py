"""SqlMessageStore specifics on SQLite and PostgreSQL: group commit, failures, races, restart."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from smsc.service.model import Attempt, MessageState, NewMessage
from smsc.store import SqlMessageStore, StoreUnavailable
from smsc.store.migrate import create_engine
from tests.smsc.store.conftest import T0, Database

Make = Callable[..., NewMessage]


async def _execute(database: Database, *statements: str) -> list[object]:
    """Run raw SQL on the test database (in its schema); the first column of each result."""
    engine = create_engine(database.url, schema=database.schema)
    values: list[object] = []
    try:
        async with engine.begin() as conn:
            for statement in statements:
                result = await conn.execute(text(statement))
                values.append(result.scalar() if result.returns_rows else None)
    finally:
        await engine.dispose()
    return values


async def test_concurrent_adds_are_grouped_into_few_transactions(
    database: Database, make_message: Make
) -> None:
    store = database.store(batch_max=500, batch_delay_s=0.002)
    await store.start()
    messages = [make_message(text=f"n{i}") for i in range(1_000)]
    ids = await asyncio.gather(*(store.add(m) for m in messages))
    assert ids == sorted(ids) and len(set(ids)) == 1_000  # insertion order
    assert store.adds.items_flushed == 1_000
    assert store.adds.flushes <= 10, store.adds.flushes
    engine = create_engine(database.url, schema=database.schema)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, text FROM messages"))).all()
    finally:
        await engine.dispose()
    assert dict(rows) == {message_id: f"n{i}" for i, message_id in enumerate(ids)}
    assert (await store.count_by_state())[MessageState.QUEUED] == 1_000


async def test_a_failed_batch_fails_all_of_its_callers(
    database: Database, make_message: Make
) -> None:
    store = database.store(batch_max=100, batch_delay_s=0.01)
    await store.start()
    await _execute(database, "DROP TABLE attempts", "DROP TABLE messages")
    results = await asyncio.gather(
        *(store.add(make_message()) for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert store.adds.flushes == 1


async def test_migrations_upgrade_an_empty_database(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect
    from sqlalchemy.engine import Connection

    from smsc.store.migrate import current_revision, upgrade
    from smsc.store.tables import metadata

    assert await current_revision(database.url, schema=database.schema) is None
    await upgrade(database.url, schema=database.schema)
    await upgrade(database.url, schema=database.schema)  # idempotent
    assert await current_revision(database.url, schema=database.schema) == "0009"

    def inspect_schema(conn: Connection) -> tuple[set[str], set[str], list[object]]:
        inspector = inspect(conn)
        tables = set(inspector.get_table_names())
        indexes = {
            i["name"] or ""
            for t in (
                "messages",
                "attempts",
                "charging_records",
                "mo_duplicate_keys",
                "outbox_jobs",
            )
            for i in inspector.get_indexes(t)
        }
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return tables, indexes, compare_metadata(context, metadata)

    engine = create_engine(database.url, schema=database.schema)
    try:
        async with engine.connect() as conn:
            tables, indexes, differences = await conn.run_sync(inspect_schema)
    finally:
        await engine.dispose()
    assert tables == {
        "alembic_version",
        "messages",
        "attempts",
        "charging_records",
        "aml_reports",
        "aml_attempts",
        "mo_duplicate_keys",
        "outbox_jobs",
        "deferred_charges",
    }
    assert {
        "ix_messages_state_next_attempt_at",
        "ix_messages_state_id",
        "ix_messages_recipient_state_id",
        "ix_messages_submission_id",
        "ix_attempts_message_id",
        "ix_charging_records_submission_id",
        "ix_mo_duplicate_keys_until",
        "ix_outbox_jobs_state_next_attempt_at",
        "ix_outbox_jobs_state_created_at",
        "ix_outbox_jobs_group_key",
    } <= indexes
    assert differences == []  # the migration builds exactly the tables of tables.py


async def test_unreachable_database_raises_store_unavailable() -> None:
    store = SqlMessageStore("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    with pytest.raises(StoreUnavailable):
        await store.start()


async def test_sqlite_runs_in_wal_mode_and_creates_its_directory(sqlite: Database) -> None:
    directory = Path(sqlite.url.removeprefix("sqlite+aiosqlite:///")).parent
    assert not directory.exists()
    store = sqlite.store()
    await store.start()
    assert directory.is_dir()
    engine = create_engine(sqlite.url)
    try:
        async with engine.connect() as conn:
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            synchronous = (await conn.execute(text("PRAGMA synchronous"))).scalar()
    finally:
        await engine.dispose()
    assert (journal, synchronous) == ("wal", 1)  # 1 = NORMAL


async def test_a_restarted_sqlite_store_keeps_its_data(
    sqlite: Database, make_message: Make
) -> None:
    first = sqlite.store()
    await first.start()
    ids = await asyncio.gather(
        *(first.add(make_message(recipient="491", text=str(i))) for i in range(3))
    )
    claimed = await first.claim_next("491", T0)
    assert claimed is not None
    await first.record_attempt(ids[1], MessageState.FAILED, Attempt(at=T0, rp_cause=21))
    await first.close()

    second = sqlite.store()
    await second.start()
    assert await second.requeue_delivering() == 1
    stored = await second.get(ids[1])
    assert stored is not None
    assert (stored.state, stored.history) == (MessageState.FAILED, (Attempt(at=T0, rp_cause=21),))
    assert [(await second.get(i)) is not None for i in ids] == [True] * 3
    newer = await second.add(make_message())
    assert newer > max(ids)


async def test_racing_claimers_on_two_engines_never_share_a_message(
    database: Database, make_message: Make
) -> None:
    """Workers on two stores (two engines) deliver everything once, in order per recipient."""
    recipients = [f"4917{n:07d}" for n in range(12)]
    loader = database.store()
    await loader.start()
    await loader.add_many([make_message(recipient=r) for _ in range(8) for r in recipients])
    stores = [loader, database.store()]
    await stores[1].start()
    claims: dict[str, list[int]] = {r: [] for r in recipients}
    in_flight: set[str] = set()
    overlaps: list[str] = []

    async def worker(store: SqlMessageStore, seed: int) -> None:
        rng = random.Random(seed)
        while True:
            due = await store.due_recipients(T0, 50)
            if not due and not in_flight:
                return
            recipient = rng.choice(due) if due else rng.choice(recipients)
            claimed = await store.claim_next(recipient, T0)
            if claimed is None:
                await asyncio.sleep(0)
                continue
            if recipient in in_flight:
                overlaps.append(recipient)
            in_flight.add(recipient)
            claims[recipient].append(claimed.id)
            await asyncio.sleep(rng.random() / 1000)
            in_flight.discard(recipient)
            outcome = Attempt(at=T0, sip_status=202, outcome="delivered")
            await store.record_attempt(claimed.id, MessageState.DELIVERED, outcome)

    await asyncio.gather(*(worker(stores[i % 2], i) for i in range(10)))
    claimed_ids = [i for ids in claims.values() for i in ids]
    assert overlaps == []
    assert len(claimed_ids) == len(set(claimed_ids)) == 96
    assert all(ids == sorted(ids) for ids in claims.values())
    assert (await loader.count_by_state())[MessageState.DELIVERED] == 96


async def test_simultaneous_claims_of_one_recipient_yield_one_message(
    postgres: Database, make_message: Make
) -> None:
    """SELECT ... FOR UPDATE SKIP LOCKED: of many racing claimers exactly one wins the head."""
    stores = [postgres.store(), postgres.store()]
    for store in stores:
        await store.start()
    await stores[0].add_many([make_message(recipient="4930") for _ in range(5)])
    for _round in range(5):
        results = await asyncio.gather(*(stores[i % 2].claim_next("4930", T0) for i in range(16)))
        won = [r for r in results if r is not None]
        assert len(won) == 1
        await stores[0].record_attempt(won[0].id, MessageState.DELIVERED, Attempt(at=T0))
    assert await stores[1].claim_next("4930", T0) is None
    counts = await stores[1].count_by_state()
    assert counts[MessageState.DELIVERED] == 5
    assert counts[MessageState.DELIVERING] == 0


async def test_an_unknown_id_in_a_grouped_record_attempt_fails_only_its_caller(
    database: Database, make_message: Make
) -> None:
    store = database.store()
    await store.start()
    ids = await store.add_many([make_message(recipient=f"49{n}") for n in range(5)])
    wanted = [*ids[:2], 999_999, *ids[2:]]
    results = await asyncio.gather(
        *(
            store.record_attempt(i, MessageState.FAILED, Attempt(at=T0, rp_cause=41))
            for i in wanted
        ),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == ["NoneType"] * 2 + ["MessageNotFoundError"] + [
        "NoneType"
    ] * 3
    assert (await store.count_by_state())[MessageState.FAILED] == 5
    for message_id in ids:
        stored = await store.get(message_id)
        assert stored is not None and len(stored.history) == 1
