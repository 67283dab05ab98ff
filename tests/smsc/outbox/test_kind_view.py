"""OutboxView: the HTTP delivery engine over the outbox's HTTP kinds only, against a real
receiver on loopback; an SMPP job next to them is never claimed nor POSTed, nor counted by the
monitor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from smsc.outbox.engine import HttpDelivery
from smsc.outbox.jobs import (
    HTTP_KINDS,
    SMPP_KINDS,
    SMPP_PDU_CONTENT_TYPE,
    NewOutboxJob,
    OutboxKind,
    OutboxState,
    StoredOutboxJob,
)
from smsc.outbox.kind_view import OutboxView
from smsc.outbox.outbox import Outbox
from smsc.settings import OutboxSettings
from smsc.store.outbox_jobs_memory import MemoryOutboxStore
from smsc.store.outbox_jobs_sql import SqlOutboxStore
from tests.smsc.outbox.conftest import Receiver, until
from tests.smsc.store.conftest import _sqlite_database

FAST = OutboxSettings(retry_initial_ms=20, retry_max_ms=100, max_in_flight=4, alert_after_s=60)


def http_job(url: str, created_at: datetime) -> NewOutboxJob:
    return NewOutboxJob(
        kind=OutboxKind.DELIVERY_REPORT,
        target="callback",
        url=url,
        body=b'{"state":"delivered"}',
        content_type="application/json",
        created_at=created_at,
    )


def smpp_job(url: str, created_at: datetime) -> NewOutboxJob:
    """An SMPP receipt whose url would reach the receiver if the engine ever POSTed it."""
    return NewOutboxJob(
        kind=OutboxKind.SMPP_RECEIPT,
        target="esme1",
        url=url,
        body=b"\0\0\0\x10\0\0\0\x05\0\0\0\0\0\0\0\0",
        content_type=SMPP_PDU_CONTENT_TYPE,
        created_at=created_at,
    )


async def test_the_view_passes_its_kinds_and_forwards_the_rest() -> None:
    store = MemoryOutboxStore()
    await store.start()
    now = datetime.now(UTC)
    receipt = await store.add(smpp_job("smpp:esme1", now - timedelta(seconds=30)))
    report = await store.add(http_job("http://127.0.0.1:9/in", now))
    http, smpp = OutboxView(store, HTTP_KINDS), OutboxView(store, SMPP_KINDS)
    assert await http.oldest_pending_age(now) == 0.0
    assert await smpp.oldest_pending_age(now) == 30.0
    assert await http.overdue(now + timedelta(seconds=1), 10) == [report]
    assert await smpp.overdue(now + timedelta(seconds=1), 10) == [receipt]
    assert [j.id for j in await http.claim_due(now, 10, lease_s=30)] == [report]
    assert [j.id for j in await smpp.claim_due(now, 10, lease_s=30)] == [receipt]
    await http.record_attempt(report, now, False, http_status=503, error="HTTP 503")
    kept = await store.get(report)
    assert kept is not None and kept.state is OutboxState.PENDING
    assert (kept.attempts, kept.last_http_status, kept.last_error) == (1, 503, "HTTP 503")
    assert await http.requeue_delivering() == 1  # the store's: every kind
    assert await http.oldest_pending_age(now) == 0.0


@pytest.fixture(params=["memory", "sqlite"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[MemoryOutboxStore | SqlOutboxStore]:
    """The memory twin, and the SQL store on SQLite; started."""
    if request.param == "memory":
        memory = MemoryOutboxStore()
        await memory.start()
        yield memory
        return
    async for database in _sqlite_database(tmp_path):
        messages = database.store()
        await messages.start()
        sql = SqlOutboxStore(messages)
        await sql.start()
        yield sql
        await sql.close()


async def test_an_engine_over_the_http_view_leaves_smpp_jobs_pending(
    store: MemoryOutboxStore | SqlOutboxStore, receiver: Receiver
) -> None:
    kind = Outbox(store, FAST, registry=CollectorRegistry())  # the kind: requests, metrics
    engine = HttpDelivery[StoredOutboxJob](
        OutboxView(store, HTTP_KINDS),
        kind,
        name="http",
        retry_initial_s=0.01,
        retry_max_s=0.05,
        poll_interval_s=0.02,
        monitor_interval_s=0.02,
        alert_after_s=5.0,
    )
    now = datetime.now(UTC)
    receipt = await store.add(smpp_job(receiver.url, now - timedelta(seconds=600)))
    report = await store.add(http_job(receiver.url, now))
    await engine.start()
    try:
        engine.wake()
        await until(lambda: len(receiver.posts) == 1)
        await asyncio.sleep(0.2)  # several polls and monitor passes
    finally:
        await engine.stop()
    assert [body for _, body in receiver.posts] == [b'{"state":"delivered"}']
    assert receiver.posts[0][0]["Idempotency-Key"] == str(report)
    delivered = await store.get(report)
    assert delivered is not None and delivered.state is OutboxState.DELIVERED
    untouched = await store.get(receipt)
    assert untouched is not None and untouched.state is OutboxState.PENDING
    assert untouched.attempts == 0
    # the SMPP job, ten minutes old, is neither the oldest pending nor an alert of this engine
    assert kind.metrics.oldest_pending._value.get() < 5.0
    assert kind.metrics.alerts._value.get() == 0
    (claimed,) = await store.claim_due(now, 10, lease_s=30, kinds=SMPP_KINDS)
    assert claimed == replace(untouched, state=OutboxState.DELIVERING)
