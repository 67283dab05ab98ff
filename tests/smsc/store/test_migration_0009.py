"""Migration 0009 (scheduled delivery and priority) on SQLite and PostgreSQL: messages kept
from 0008 read back unscheduled, priority 0; the partial index is there; a downgrade keeps the
messages and makes the scheduled ones queued."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import insert, inspect, text
from sqlalchemy.engine import Connection

from smsc.service.model import MessageState, NewMessage
from smsc.store.migrate import current_revision, upgrade
from smsc.store.tables import PRIORITY_INDEX, message_row, messages
from tests.smsc.store.conftest import T0, Database, downgrade_to, run_in

Make = Callable[..., NewMessage]
_LATER_COLUMNS = ("deliver_at", "priority")


async def test_0009_upgrades_kept_messages_and_downgrades_scheduled_to_queued(
    database: Database, make_message: Make
) -> None:
    await upgrade(database.url, schema=database.schema, revision="0008")
    row = {k: v for k, v in message_row(make_message(text="old"), T0).items()}
    for name in _LATER_COLUMNS:
        row.pop(name)

    def fill(conn: Connection) -> None:
        conn.execute(insert(messages).values(**row))

    await run_in(database, fill)
    store = database.store()
    await store.start()  # migrates to head
    assert await current_revision(database.url, schema=database.schema) == "0009"
    old = await store.get(1)
    assert old is not None
    assert (old.message.text, old.message.deliver_at, old.message.priority) == ("old", None, 0)
    assert old.state is MessageState.QUEUED
    indexes = await run_in(
        database, lambda conn: {i["name"] for i in inspect(conn).get_indexes("messages")}
    )
    assert PRIORITY_INDEX in indexes
    scheduled = await store.add(make_message(deliver_at=T0 + timedelta(hours=1), priority=1))
    await store.close()

    await run_in(database, downgrade_to("0008"))
    assert await current_revision(database.url, schema=database.schema) == "0008"

    def states(conn: Connection) -> list[tuple[int, str]]:
        return [(int(i), str(s)) for i, s in conn.execute(text("SELECT id, state FROM messages"))]

    assert sorted(await run_in(database, states)) == [(1, "queued"), (scheduled, "queued")]
    columns = await run_in(
        database, lambda conn: {c["name"] for c in inspect(conn).get_columns("messages")}
    )
    assert columns.isdisjoint(_LATER_COLUMNS)
