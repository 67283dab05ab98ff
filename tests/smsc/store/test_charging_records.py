"""Issue 4: the roaming verdict kept with each message, Ro charging records, migration 0002."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert, inspect, text
from sqlalchemy.engine import Connection

from smsc.service.model import Attempt, ChargingRecord, DuplicateKey, MessageState, NewMessage
from smsc.service.ports import MessageStore
from smsc.store.errors import DuplicateMessageError, StoreClosedError
from smsc.store.migrate import current_revision, upgrade
from smsc.store.sqlite_writer import sqlite_file_of
from smsc.store.tables import attempts, message_row, messages, metadata
from tests.smsc.store.conftest import T0, Database, downgrade_to, run_in

Make = Callable[..., NewMessage]
CEST = timezone(timedelta(hours=2))


def _record(**fields: Any) -> ChargingRecord:
    """A charging record with every field set; keyword arguments override."""
    values: dict[str, Any] = {
        "submission_id": "sub-1",
        "at": T0,
        "originator": "4915112345678",
        "session_id": "scscf.ims.example.com;1733220000;42",
        "outcome": "proceed",
        "result_code": 2001,
        "units": 3,
        "granted_units": 3,
        "roaming_status": "international-roaming",
        "visited_plmn": "20801",
        "peer": "ocs1.ims.example.com",
        "retransmitted": True,
        "latency_ms": 12.625,
        "rp_cause": None,
    }
    values.update(fields)
    return ChargingRecord(**values)


# -- the new message fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roaming_status", "visited_plmn"),
    [
        ("home", "26201"),
        ("national-roaming", "26202"),
        ("international-roaming", "310260"),
        ("unknown", None),
        (None, None),
    ],
)
async def test_roaming_fields_round_trip(
    store: MessageStore, make_message: Make, roaming_status: str | None, visited_plmn: str | None
) -> None:
    message = make_message(roaming_status=roaming_status, visited_plmn=visited_plmn)
    stored = await store.get(await store.add(message))
    assert stored is not None and stored.message == message
    assert (stored.message.roaming_status, stored.message.visited_plmn) == (
        roaming_status,
        visited_plmn,
    )


async def test_roaming_fields_round_trip_through_add_many_and_claims(
    store: MessageStore, make_message: Make
) -> None:
    parts = [
        make_message(
            submission_id="long",
            segment=s,
            segments=2,
            recipient="4917600000009",
            roaming_status="national-roaming",
            visited_plmn="26203",
        )
        for s in (1, 2)
    ]
    await store.add_many(parts)
    found = await store.get_submission("long")
    assert [m.message for m in found] == parts
    claimed = await store.claim_next("4917600000009", T0)
    assert claimed is not None and claimed.message == parts[0]


async def test_unstorable_roaming_text_is_cleaned(store: MessageStore, make_message: Make) -> None:
    stored = await store.get(
        await store.add(make_message(roaming_status="a\x00b", visited_plmn="\ud800"))
    )
    assert stored is not None
    assert (stored.message.roaming_status, stored.message.visited_plmn) == ("a\ufffdb", "?")


async def test_the_sqlite_fast_path_writes_the_roaming_columns(
    sqlite: Database, make_message: Make
) -> None:
    store = sqlite.store()
    await store.start()
    assert store._writer is not None  # the SqliteBatchWriter path
    ids = await asyncio.gather(
        store.add(make_message(roaming_status="home", visited_plmn="26201")),
        store.add(make_message()),
    )
    path = sqlite_file_of(sqlite.url)
    assert path is not None
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT id, roaming_status, visited_plmn FROM messages ORDER BY id"
        ).fetchall()
    assert rows == [(ids[0], "home", "26201"), (ids[1], None, None)]


# -- charging records ---------------------------------------------------------------------------


async def test_a_charging_record_round_trips_every_field(store: MessageStore) -> None:
    record = _record(at=(T0 + timedelta(microseconds=7)).astimezone(CEST))
    await store.add_charging_record(record)
    [found] = await store.charging_records("sub-1")
    assert found == record
    assert found.at.tzinfo is not None and found.at.utcoffset() == timedelta(0)
    assert found.at == T0 + timedelta(microseconds=7)
    assert isinstance(found.retransmitted, bool) and isinstance(found.latency_ms, float)


async def test_optional_record_fields_stay_none(store: MessageStore) -> None:
    record = ChargingRecord(
        submission_id="rejected",
        at=T0,
        originator="4915",
        session_id="s;1",
        outcome="reject",
        result_code=None,
        units=None,
        granted_units=None,
        roaming_status=None,
        visited_plmn=None,
        peer=None,
        retransmitted=False,
        latency_ms=None,
        rp_cause=None,
    )
    await store.add_charging_record(record)
    assert await store.charging_records("rejected") == [record]


async def test_a_rejected_submission_keeps_its_record_without_a_message(
    store: MessageStore,
) -> None:
    record = _record(submission_id="no-message", outcome="reject", result_code=4012, rp_cause=41)
    await store.add_charging_record(record)
    assert await store.get_submission("no-message") == []
    assert await store.charging_records("no-message") == [record]


async def test_a_message_and_its_record_are_kept_in_one_transaction(
    store: MessageStore, make_message: Make
) -> None:
    """A charged MO's record rides with the message (one commit, no second write)."""
    record = _record(submission_id="charged-1", at=T0.astimezone(CEST))
    [message_id] = await store.add_many([make_message(submission_id="charged-1", charging=record)])
    assert await store.charging_records("charged-1") == [record]
    [stored] = await store.get_submission("charged-1")
    assert stored.id == message_id
    assert stored.message.charging is None  # kept in its own table, not on the message
    batch = [
        make_message(
            submission_id=f"charged-{n}",
            charging=_record(submission_id=f"charged-{n}", session_id=f"s;{n}"),
        )
        for n in range(2, 6)
    ]
    ids = await asyncio.gather(*(store.add(m) for m in batch))
    assert len(set(ids)) == 4
    for n in range(2, 6):
        [found] = await store.charging_records(f"charged-{n}")
        assert found.session_id == f"s;{n}"


async def test_a_duplicate_mo_keeps_its_record(store: MessageStore, make_message: Make) -> None:
    """The OCS was asked about the resend too: its record is kept though the message is not."""
    key = DuplicateKey("0123456789abcdef0123456789abcdef", datetime.now(UTC) + timedelta(hours=1))
    first = make_message(
        submission_id="dup-1", duplicate=key, charging=_record(submission_id="dup-1")
    )
    again = make_message(
        submission_id="dup-2", duplicate=key, charging=_record(submission_id="dup-2")
    )
    await store.add(first)
    with pytest.raises(DuplicateMessageError):
        await store.add(again)
    assert [r.submission_id for r in await store.charging_records("dup-2")] == ["dup-2"]
    assert await store.get_submission("dup-2") == []


async def test_records_come_back_oldest_first_per_submission(store: MessageStore) -> None:
    later = _record(at=T0 + timedelta(seconds=5), outcome="unreachable-continue", result_code=None)
    first = _record(at=T0.astimezone(CEST), session_id="s;1")
    tie = _record(at=T0, session_id="s;2", outcome="deliver-free")
    other = _record(submission_id="sub-2")
    for record in (later, first, other, tie):
        await store.add_charging_record(record)
    assert await store.charging_records("sub-1") == [first, tie, later]
    assert await store.charging_records("sub-2") == [other]
    assert await store.charging_records("nothing") == []


async def test_charging_records_do_not_touch_the_message_counts(
    store: MessageStore, make_message: Make
) -> None:
    await store.add(make_message(submission_id="sub-1"))
    await store.add_charging_record(_record())
    assert (await store.count_by_state())[MessageState.QUEUED] == 1
    [stored] = await store.get_submission("sub-1")
    assert stored.history == ()


async def test_naive_record_times_are_refused(store: MessageStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.add_charging_record(_record(at=T0.replace(tzinfo=None)))
    assert await store.charging_records("sub-1") == []


async def test_unstorable_record_text_is_cleaned(store: MessageStore) -> None:
    await store.add_charging_record(_record(session_id="a\x00b", peer="p\udc80"))
    [found] = await store.charging_records("sub-1")
    assert (found.session_id, found.peer) == ("a\ufffdb", "p?")


async def test_a_closed_store_refuses_charging_records(store: MessageStore) -> None:
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.add_charging_record(_record())
    with pytest.raises(StoreClosedError):
        await store.charging_records("sub-1")


async def test_concurrent_records_share_few_transactions(database: Database) -> None:
    store = database.store()
    await store.start()
    records = [
        _record(submission_id=f"sub-{i % 7}", session_id=f"s;{i}", at=T0 + timedelta(seconds=i))
        for i in range(200)
    ]
    await asyncio.gather(*(store.add_charging_record(r) for r in records))
    assert store.charges.items_flushed == 200
    assert store.charges.flushes < 200
    for n in range(7):
        expected = [r for r in records if r.submission_id == f"sub-{n}"]
        assert await store.charging_records(f"sub-{n}") == expected


async def test_records_survive_a_restart(sqlite: Database) -> None:
    first = sqlite.store()
    await first.start()
    await first.add_charging_record(_record())
    await first.close()
    second = sqlite.store()
    await second.start()
    assert await second.charging_records("sub-1") == [_record()]


# -- migration 0001 -> 0002 ---------------------------------------------------------------------


_NEW = {"roaming_status", "visited_plmn", "callback_url", "client_ref", "deliver_at", "priority"}
"""The columns later revisions add to `messages` (0002, 0007, 0009)."""


def _message_columns(conn: Connection) -> set[str]:
    return {column["name"] for column in inspect(conn).get_columns("messages")}


async def _fill_0001(database: Database, make_message: Make) -> None:
    """A 0001 database with two messages (one with an attempt), written with 0001's columns."""
    await upgrade(database.url, schema=database.schema, revision="0001")
    rows = [
        {k: v for k, v in message_row(make_message(text=t), T0).items() if k not in _NEW}
        for t in ("old one", "old two")
    ]

    def fill(conn: Connection) -> None:
        assert _message_columns(conn).isdisjoint(_NEW)
        conn.execute(insert(messages), rows)
        outcome = {"message_id": 1, "at": T0, "sip_status": 408, "rp_cause": None}
        conn.execute(insert(attempts), [{**outcome, "outcome": "timeout"}])
        conn.execute(text("UPDATE messages SET state = 'failed', attempts = 1 WHERE id = 1"))

    await run_in(database, fill)


async def test_upgrade_from_0001_keeps_existing_rows(
    database: Database, make_message: Make
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    await _fill_0001(database, make_message)
    store = database.store()
    await store.start()  # migrates to head
    assert await current_revision(database.url, schema=database.schema) == "0009"
    old = await store.get(1)
    assert old is not None
    assert (old.message.text, old.state, old.attempts) == ("old one", MessageState.FAILED, 1)
    assert old.history == (Attempt(at=T0, sip_status=408, outcome="timeout"),)
    assert (old.message.roaming_status, old.message.visited_plmn) == (None, None)
    two = await store.get(2)
    assert two is not None and two.message.text == "old two"
    assert two.message.roaming_status is None and two.message.visited_plmn is None
    # the upgraded database takes new rows of both kinds and ids carry on
    new_id = await store.add(make_message(roaming_status="home", visited_plmn="26201"))
    assert new_id == 3
    await store.add_charging_record(_record())
    assert await store.charging_records("sub-1") == [_record()]

    def differences(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    assert await run_in(database, differences) == []


async def test_downgrade_to_0001_keeps_messages_and_drops_the_charging_table(
    database: Database, make_message: Make
) -> None:
    await _fill_0001(database, make_message)
    store = database.store()
    await store.start()
    await store.add(make_message(text="new", roaming_status="unknown"))
    await store.add_charging_record(_record())
    await store.close()

    await run_in(database, downgrade_to("0001"))
    assert await current_revision(database.url, schema=database.schema) == "0001"

    def after(conn: Connection) -> tuple[set[str], set[str], list[Any], int]:
        tables = set(inspect(conn).get_table_names())
        texts = list(conn.execute(text("SELECT text FROM messages ORDER BY id")).scalars())
        history = conn.execute(text("SELECT count(*) FROM attempts")).scalar_one()
        return tables, _message_columns(conn), texts, int(history)

    tables, columns, texts, history = await run_in(database, after)
    assert tables == {"alembic_version", "messages", "attempts"}
    assert columns.isdisjoint(_NEW)
    assert texts == ["old one", "old two", "new"]
    assert history == 1  # no cascade from a rebuilt messages table

    again = database.store()
    await again.start()  # and up once more
    assert await again.charging_records("sub-1") == []
    stored = await again.get(3)
    assert stored is not None and stored.message.roaming_status is None
