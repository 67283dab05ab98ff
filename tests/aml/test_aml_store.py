"""The AmlStore contract on memory, SQLite and PostgreSQL; SKIP LOCKED claims; migration 0003."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, inspect, text
from sqlalchemy.engine import Connection

from aml.store import (
    AmlAttempt,
    AmlReportNotFoundError,
    AmlState,
    AmlStore,
    NewAmlReport,
)
from smsc.service.model import MessageState
from smsc.store import SqlMessageStore
from smsc.store.aml_memory import MemoryAmlStore
from smsc.store.aml_sql import SqlAmlStore
from smsc.store.errors import StoreClosedError
from smsc.store.migrate import current_revision, upgrade
from smsc.store.tables import message_row, messages, metadata
from tests.smsc.store.conftest import (
    Database,
    _postgres_database,
    _sqlite_database,
    downgrade_to,
    run_in,
)

T0 = datetime(2026, 12, 4, 9, 30, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))
AML_TEXT = (
    'A"ML=1;lt=48.82639;lg=-2.36619;rd=52;top=20191112112928;lc=68;pm=G;'
    "si=208201771948415;ei=353472104343540;mcc=208;mnc=20;ml=126"
)


def make_report(n: int = 1, **fields: Any) -> NewAmlReport:
    """A valid report; keyword arguments override fields."""
    values: dict[str, Any] = {
        "received_at": T0 + timedelta(seconds=n),
        "sender_msisdn": f"49151000000{n:02d}",
        "destination": "112",
        "raw_text": AML_TEXT,
        "parsed_json": json.dumps({"lt": 48.82639, "lg": -2.36619, "rd": 52, "n": n}),
        "route_name": "default",
        "format": "json",
        "url": "http://127.0.0.1:18080/aml",
        "roaming_status": "home",
        "visited_plmn": "26201",
    }
    values.update(fields)
    return NewAmlReport(**values)


class Opened:
    """A started AML store and, for SQL, its message store and database."""

    def __init__(self, store: AmlStore, database: Database | None = None) -> None:
        self.store = store
        self.database = database


async def open_sql(database: Database) -> tuple[SqlMessageStore, SqlAmlStore]:
    """A started message store + AML store on the database (closed at teardown)."""
    messages_store = database.store()
    await messages_store.start()
    aml = SqlAmlStore(messages_store)
    await aml.start()
    return messages_store, aml


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def opened(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opened]:
    """Every AmlStore implementation, started."""
    if request.param == "memory":
        memory = MemoryAmlStore()
        await memory.start()
        yield Opened(memory)
        await memory.close()
        return
    source = _sqlite_database(tmp_path) if request.param == "sqlite" else _postgres_database()
    async for database in source:
        _, aml = await open_sql(database)
        try:
            yield Opened(aml, database)
        finally:
            await aml.close()


@pytest.fixture
async def store(opened: Opened) -> AmlStore:
    return opened.store


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    source = _sqlite_database(tmp_path) if request.param == "sqlite" else _postgres_database()
    async for database in source:
        yield database


@pytest.fixture
async def postgres() -> AsyncIterator[Database]:
    async for database in _postgres_database():
        yield database


def test_both_implementations_satisfy_the_port() -> None:
    def accepts(store: AmlStore) -> AmlStore:
        return store

    accepts(MemoryAmlStore())
    accepts(SqlAmlStore(SqlMessageStore("sqlite+aiosqlite:///unused.db")))


# -- writing and reading ------------------------------------------------------------------------


async def test_round_trip_keeps_every_field(store: AmlStore) -> None:
    report = make_report(received_at=datetime(2026, 12, 4, 10, 30, 0, 123456, tzinfo=CET))
    report_id = await store.add_report(report)
    stored = await store.get(report_id)
    assert stored is not None
    assert stored.report == report
    assert stored.report.received_at.tzinfo == UTC
    assert stored.report.received_at == datetime(2026, 12, 4, 9, 30, 0, 123456, tzinfo=UTC)
    assert (stored.state, stored.attempts, stored.history) == (AmlState.PENDING, 0, ())
    assert (stored.next_attempt_at, stored.delivered_at) == (None, None)
    assert (stored.last_http_status, stored.last_error) == (None, None)
    assert json.loads(stored.report.parsed_json)["lt"] == 48.82639


async def test_optional_fields_stay_none(store: AmlStore) -> None:
    report = make_report(roaming_status=None, visited_plmn=None)
    stored = await store.get(await store.add_report(report))
    assert stored is not None and stored.report == report


async def test_unstorable_text_is_cleaned_not_refused(store: AmlStore) -> None:
    report_id = await store.add_report(make_report(raw_text='A"ML=1;lt=\x00;x=\ud800'))
    stored = await store.get(report_id)
    assert stored is not None and stored.report.raw_text == 'A"ML=1;lt=\ufffd;x=?'


async def test_naive_datetimes_are_refused(store: AmlStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.add_report(make_report(received_at=datetime(2026, 12, 4, 9, 30)))
    report_id = await store.add_report(make_report())
    with pytest.raises(ValueError, match="naive"):
        await store.record_attempt(report_id, datetime(2026, 12, 4, 9, 31), True, http_status=200)
    with pytest.raises(ValueError, match="naive"):
        await store.claim_due(datetime(2026, 12, 4, 9, 31), 10)


async def test_get_unknown_id_is_none(store: AmlStore) -> None:
    assert await store.get(424242) is None


async def test_ids_follow_insertion_order_under_concurrency(store: AmlStore) -> None:
    reports = [make_report(n) for n in range(40)]
    ids = await asyncio.gather(*(store.add_report(r) for r in reports))
    assert ids == sorted(ids) and len(set(ids)) == 40
    for report_id, report in zip(ids, reports, strict=True):
        stored = await store.get(report_id)
        assert stored is not None and stored.report == report


async def test_concurrent_adds_share_few_transactions(database: Database) -> None:
    _, aml = await open_sql(database)
    try:
        ids = await asyncio.gather(*(aml.add_report(make_report(n)) for n in range(100)))
        assert len(set(ids)) == 100
        assert aml.adds.flushes < 50
    finally:
        await aml.close()


# -- claims ---------------------------------------------------------------------------------------


async def test_claim_due_takes_the_oldest_first_up_to_the_limit(store: AmlStore) -> None:
    ids = [await store.add_report(make_report(n)) for n in range(5)]
    first = await store.claim_due(T0, 2)
    assert [r.id for r in first] == ids[:2]
    assert all(r.state is AmlState.DELIVERING for r in first)
    second = await store.claim_due(T0, 10)
    assert [r.id for r in second] == ids[2:]
    assert await store.claim_due(T0, 10) == []  # claimed reports are not claimed again
    stored = await store.get(ids[0])
    assert stored is not None and stored.state is AmlState.DELIVERING
    assert await store.claim_due(T0, 0) == []


async def test_a_not_yet_due_report_waits_and_others_pass_it(store: AmlStore) -> None:
    early, late = [await store.add_report(make_report(n)) for n in range(2)]
    await store.claim_due(T0, 1)
    later = T0 + timedelta(seconds=30)
    await store.record_attempt(
        early, T0, False, http_status=503, error="HTTP 503", next_attempt_at=later
    )
    assert [r.id for r in await store.claim_due(T0, 10)] == [late]
    assert await store.claim_due(later - timedelta(microseconds=1), 10) == []
    again = await store.claim_due(later, 10)
    assert [r.id for r in again] == [early]
    assert again[0].attempts == 1 and again[0].history[0].http_status == 503


async def test_an_expired_lease_lets_another_claimer_take_the_report(store: AmlStore) -> None:
    report_id = await store.add_report(make_report())
    assert [r.id for r in await store.claim_due(T0, 5, lease_s=10)] == [report_id]
    assert await store.claim_due(T0 + timedelta(seconds=9), 5) == []
    retaken = await store.claim_due(T0 + timedelta(seconds=10), 5)
    assert [r.id for r in retaken] == [report_id]


async def test_claims_carry_the_history(store: AmlStore) -> None:
    report_id = await store.add_report(make_report())
    await store.claim_due(T0, 1)
    await store.record_attempt(report_id, T0, False, error="ConnectionRefused")
    [claimed] = await store.claim_due(T0, 1)
    assert claimed.history == (AmlAttempt(T0, False, None, "ConnectionRefused"),)


# -- attempts -------------------------------------------------------------------------------------


async def test_every_attempt_is_kept_and_success_delivers(store: AmlStore) -> None:
    report_id = await store.add_report(make_report())
    t1, t2, t3 = (T0 + timedelta(seconds=s) for s in (1, 2, 3))
    await store.claim_due(T0, 1)
    await store.record_attempt(
        report_id, t1, False, http_status=503, error="HTTP 503: busy", next_attempt_at=t2
    )
    stored = await store.get(report_id)
    assert stored is not None
    assert (stored.state, stored.attempts, stored.next_attempt_at) == (AmlState.PENDING, 1, t2)
    assert (stored.last_http_status, stored.last_error) == (503, "HTTP 503: busy")
    await store.claim_due(t2, 1)
    await store.record_attempt(report_id, t2, False, error="timeout after 2000 ms")
    await store.claim_due(t3, 1)
    await store.record_attempt(report_id, t3, True, http_status=200, next_attempt_at=t3)
    stored = await store.get(report_id)
    assert stored is not None
    assert stored.state is AmlState.DELIVERED
    assert (stored.delivered_at, stored.next_attempt_at, stored.attempts) == (t3, None, 3)
    assert (stored.last_http_status, stored.last_error) == (200, None)
    assert stored.history == (
        AmlAttempt(t1, False, 503, "HTTP 503: busy"),
        AmlAttempt(t2, False, None, "timeout after 2000 ms"),
        AmlAttempt(t3, True, 200, None),
    )
    assert await store.claim_due(t3 + timedelta(days=1), 10) == []


async def test_a_delivered_report_stays_delivered(store: AmlStore) -> None:
    """A late failure (e.g. a duplicate send after a lease expired) does not undo delivery."""
    report_id = await store.add_report(make_report())
    t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
    await store.record_attempt(report_id, t1, True, http_status=204)
    await store.record_attempt(
        report_id, t2, False, http_status=500, error="HTTP 500", next_attempt_at=t2
    )
    await store.record_attempt(report_id, t2, True, http_status=200)
    stored = await store.get(report_id)
    assert stored is not None
    assert (stored.state, stored.delivered_at, stored.next_attempt_at) == (
        AmlState.DELIVERED,
        t1,
        None,
    )
    assert stored.attempts == 3


async def test_record_attempt_on_unknown_id_raises(store: AmlStore) -> None:
    known = await store.add_report(make_report())
    results = await asyncio.gather(
        store.record_attempt(known, T0, False, error="x", next_attempt_at=T0),
        store.record_attempt(999_999, T0, True, http_status=200),
        return_exceptions=True,
    )
    assert results[0] is None
    assert isinstance(results[1], AmlReportNotFoundError) and results[1].report_id == 999_999
    stored = await store.get(known)
    assert stored is not None and stored.attempts == 1


async def test_requeue_delivering_makes_claimed_reports_due_now(store: AmlStore) -> None:
    ids = [await store.add_report(make_report(n)) for n in range(3)]
    await store.claim_due(T0, 2)
    await store.record_attempt(ids[2], T0, False, next_attempt_at=T0 + timedelta(hours=1))
    assert await store.requeue_delivering() == 2
    assert await store.requeue_delivering() == 0
    again = await store.claim_due(T0, 10)
    assert [r.id for r in again] == ids[:2]  # ids[2] keeps its retry time


# -- listing and ages -----------------------------------------------------------------------------


async def test_recent_is_newest_first(store: AmlStore) -> None:
    assert await store.recent(10) == []
    ids = [await store.add_report(make_report(n)) for n in range(5)]
    await store.record_attempt(ids[4], T0, True, http_status=200)
    recent = await store.recent(3)
    assert [r.id for r in recent] == ids[:1:-1]
    assert recent[0].state is AmlState.DELIVERED
    assert recent[0].history == (AmlAttempt(T0, True, 200, None),)
    assert [r.id for r in await store.recent(100)] == ids[::-1]
    assert await store.recent(0) == []


async def test_oldest_pending_age_and_overdue(store: AmlStore) -> None:
    assert await store.oldest_pending_age(T0) is None
    ids = [await store.add_report(make_report(n)) for n in (1, 2, 3)]  # T0+1s, +2s, +3s
    now = T0 + timedelta(seconds=61)
    assert await store.oldest_pending_age(now) == 60.0
    await store.claim_due(T0, 1)  # delivering still counts as not delivered
    assert await store.oldest_pending_age(now) == 60.0
    assert await store.overdue(T0 + timedelta(seconds=2, microseconds=1), 10) == ids[:2]
    assert await store.overdue(T0 + timedelta(seconds=10), 1) == ids[:1]
    await store.record_attempt(ids[0], now, True, http_status=200)
    assert await store.oldest_pending_age(now) == 59.0
    assert await store.overdue(T0 + timedelta(seconds=10), 10) == ids[1:]
    for report_id in ids[1:]:
        await store.record_attempt(report_id, now, True, http_status=200)
    assert await store.oldest_pending_age(now) is None
    assert await store.overdue(now, 10) == []


async def test_a_closed_store_refuses_work(store: AmlStore) -> None:
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.add_report(make_report())
    with pytest.raises(StoreClosedError):
        await store.claim_due(T0, 1)
    with pytest.raises(StoreClosedError):
        await store.get(1)


# -- SQL only -----------------------------------------------------------------------------------


async def test_reports_survive_a_restart(database: Database) -> None:
    messages_store, first = await open_sql(database)
    ids = [await first.add_report(make_report(n)) for n in range(3)]
    await first.claim_due(T0, 1)
    await first.record_attempt(ids[1], T0, False, http_status=502, next_attempt_at=T0)
    await first.close()
    await messages_store.close()

    _, second = await open_sql(database)
    try:
        assert await second.requeue_delivering() == 1
        stored = [await second.get(i) for i in ids]
        assert [s.report if s else None for s in stored] == [make_report(n) for n in range(3)]
        assert [len(s.history) if s else None for s in stored] == [0, 1, 0]
        assert [r.id for r in await second.claim_due(T0, 10)] == ids
        assert await second.add_report(make_report(9)) > max(ids)
    finally:
        await second.close()


async def test_racing_claimers_on_two_engines_never_share_a_report(database: Database) -> None:
    """Claimers on two stores (two engines, one database) deliver every report exactly once."""
    _, loader = await open_sql(database)
    _, other = await open_sql(database)
    stores = [loader, other]
    try:
        ids = await asyncio.gather(*(loader.add_report(make_report(n % 50)) for n in range(150)))
        claimed: list[int] = []

        async def claimer(store: SqlAmlStore, seed: int) -> None:
            rng = random.Random(seed)
            while True:
                batch = await store.claim_due(T0, rng.randint(1, 7))
                if not batch:
                    return
                claimed.extend(r.id for r in batch)
                await asyncio.sleep(rng.random() / 1000)
                for report in batch:
                    await store.record_attempt(report.id, T0, True, http_status=200)

        await asyncio.gather(*(claimer(stores[i % 2], i) for i in range(10)))
        assert sorted(claimed) == sorted(ids)  # each once, none missed
        assert await loader.oldest_pending_age(T0) is None
    finally:
        for store in stores:
            await store.close()


async def test_simultaneous_claims_on_postgresql_skip_locked_rows(postgres: Database) -> None:
    """FOR UPDATE SKIP LOCKED: concurrent claims of the same due reports split them."""
    _, first = await open_sql(postgres)
    _, second = await open_sql(postgres)
    stores = [first, second]
    try:
        for _round in range(3):
            ids = set(await asyncio.gather(*(first.add_report(make_report(n)) for n in range(8))))
            results = await asyncio.gather(*(stores[i % 2].claim_due(T0, 8) for i in range(12)))
            won = [r.id for batch in results for r in batch]
            assert sorted(won) == sorted(ids)
            for report_id in won:
                await second.record_attempt(report_id, T0, True, http_status=200)
        assert await first.claim_due(T0 + timedelta(days=1), 100) == []
    finally:
        for store in stores:
            await store.close()


async def test_the_aml_store_shares_the_message_stores_engine(database: Database) -> None:
    messages_store, aml = await open_sql(database)
    try:
        await aml.add_report(make_report())
        assert (await messages_store.count_by_state())[MessageState.QUEUED] == 0
        await messages_store.close()
        with pytest.raises(StoreClosedError):
            await aml.get(1)
    finally:
        await aml.close()


# -- migration 0002 -> 0003 ---------------------------------------------------------------------


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_upgrade_from_0002_keeps_existing_rows(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from tests.smsc.store.conftest import T0 as MESSAGE_T0

    await upgrade(database.url, schema=database.schema, revision="0002")
    later_columns = ("callback_url", "client_ref", "deliver_at", "priority")  # 0007, 0009
    old_message = {
        k: v for k, v in message_row(_message(), MESSAGE_T0).items() if k not in later_columns
    }

    def fill(conn: Connection) -> None:
        assert "aml_reports" not in _tables(conn)
        conn.execute(insert(messages), [old_message])
        conn.execute(
            text(
                "INSERT INTO charging_records (submission_id, at, originator, session_id, "
                "outcome, retransmitted) VALUES ('sub-old', :at, '4915', 's;1', 'proceed', false)"
            ),
            {"at": MESSAGE_T0.replace(tzinfo=None)},
        )

    await run_in(database, fill)
    messages_store, aml = await open_sql(database)  # migrates to head
    try:
        assert await current_revision(database.url, schema=database.schema) == "0009"
        old = await messages_store.get(1)
        assert old is not None and old.message == _message()
        assert len(await messages_store.charging_records("sub-old")) == 1
        report_id = await aml.add_report(make_report())
        assert report_id == 1
        stored = await aml.get(report_id)
        assert stored is not None and stored.report == make_report()

        def differences(conn: Connection) -> list[object]:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))

        assert await run_in(database, differences) == []  # 0003 builds exactly aml_tables.py
    finally:
        await aml.close()


async def test_downgrade_to_0002_drops_only_the_aml_tables(database: Database) -> None:
    messages_store, aml = await open_sql(database)
    await messages_store.add(_message())
    await aml.add_report(make_report())
    await aml.close()
    await messages_store.close()

    await run_in(database, downgrade_to("0002"))
    assert await current_revision(database.url, schema=database.schema) == "0002"

    def after(conn: Connection) -> tuple[set[str], int]:
        count = conn.execute(text("SELECT count(*) FROM messages")).scalar_one()
        return _tables(conn), int(count)

    tables, count = await run_in(database, after)
    assert "aml_reports" not in tables and "aml_attempts" not in tables
    assert {"messages", "attempts", "charging_records"} <= tables
    assert count == 1

    again, aml_again = await open_sql(database)  # and up once more
    try:
        assert await aml_again.recent(10) == []
        assert await again.get(1) is not None
    finally:
        await aml_again.close()


def _message() -> Any:
    from smsc.service.model import MessageOrigin, NewMessage
    from tests.smsc.store.conftest import T0 as MESSAGE_T0

    return NewMessage(
        submission_id="sub-old",
        origin=MessageOrigin.MO,
        originator="4915112345678",
        originator_ton=1,
        recipient="4917612345678",
        submit_tpdu=b"\x01\x02\x0b\x91",
        received_at=MESSAGE_T0,
        expires_at=MESSAGE_T0 + timedelta(days=1),
        text="before 0003",
    )
