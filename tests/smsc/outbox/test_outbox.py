"""The outbox over a real HTTP receiver on loopback: the POST, its Idempotency-Key on every
retry, secrets from the configuration only, composed groups, expiry and the alert."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from smsc.outbox.jobs import NewOutboxJob, OutboxKind, OutboxState, StoredOutboxJob
from smsc.outbox.outbox import Outbox
from smsc.settings import OutboxSettings
from smsc.store.outbox_jobs_memory import MemoryOutboxStore
from tests.smsc.outbox.conftest import Receiver, until

FAST = OutboxSettings(retry_initial_ms=20, retry_max_ms=100, max_in_flight=4, alert_after_s=0.2)


def job(url: str, **fields: object) -> NewOutboxJob:
    base = NewOutboxJob(
        kind=OutboxKind.APPLICATION,
        target="weather",
        url=url,
        body=b'{"text":"hi"}',
        content_type="application/json",
        created_at=datetime.now(UTC),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def store_state(store: MemoryOutboxStore, job_id: int) -> OutboxState | None:
    """The job's state, read without awaiting (the memory twin keeps it in a dict)."""
    row = store._rows.get(job_id)
    return None if row is None else row.job.state


async def started(
    store: MemoryOutboxStore,
    composers: dict[OutboxKind, Callable[[Sequence[StoredOutboxJob]], bytes]] | None = None,
) -> Outbox:
    await store.start()
    outbox = Outbox(
        store,
        FAST,
        registry=CollectorRegistry(),
        composers=composers,
        headers={"weather": (("Authorization", "Bearer app-secret"),)},
        poll_interval_s=0.02,
    )
    await outbox.start()
    return outbox


async def test_retried_until_a_2xx_with_one_idempotency_key_and_the_configured_header(
    receiver: Receiver,
) -> None:
    receiver.statuses = [503, 500]
    store = MemoryOutboxStore()
    outbox = await started(store)
    try:
        job_id = await outbox.submit(job(receiver.url))
        await until(lambda: len(receiver.posts) == 3)
        await until(lambda: store_state(store, job_id) is OutboxState.DELIVERED)
    finally:
        await outbox.stop()
    keys = {headers["Idempotency-Key"] for headers, _ in receiver.posts}
    assert keys == {str(job_id)}
    assert all(h["Authorization"] == "Bearer app-secret" for h, _ in receiver.posts)
    assert all(h["Content-Type"] == "application/json" for h, _ in receiver.posts)
    kept = await store.get(job_id)
    assert kept is not None and kept.state is OutboxState.DELIVERED and kept.attempts == 3
    assert b"app-secret" not in kept.job.body and "app-secret" not in kept.job.url


async def test_a_group_is_composed_into_one_post(receiver: Receiver) -> None:
    store = MemoryOutboxStore()

    def compose(rows: Sequence[StoredOutboxJob]) -> bytes:
        return b"+".join(row.job.body for row in sorted(rows, key=lambda r: r.job.group_part))

    outbox = await started(store, {OutboxKind.APPLICATION: compose})
    try:
        for number, text in ((2, b"b"), (1, b"a"), (3, b"c")):
            await outbox.submit(
                job(receiver.url, body=text, group_key="g", group_size=3, group_part=number)
            )
        await until(lambda: len(receiver.posts) == 1)
        await asyncio.sleep(0.1)
    finally:
        await outbox.stop()
    assert [body for _, body in receiver.posts] == [b"a+b+c"]
    assert receiver.posts[0][0]["Idempotency-Key"] == "1"  # the lowest id carries them


async def test_a_job_past_its_time_is_never_posted(receiver: Receiver) -> None:
    store = MemoryOutboxStore()
    gone = datetime.now(UTC) - timedelta(seconds=1)
    outbox = await started(store)
    try:
        job_id = await outbox.submit(job(receiver.url, expires_at=gone))
        await asyncio.sleep(0.2)
    finally:
        await outbox.stop()
    assert receiver.posts == []
    kept = await store.get(job_id)
    assert kept is not None and kept.state is OutboxState.EXPIRED


async def test_one_alert_for_a_job_undelivered_too_long(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="smsc.outbox.outbox")
    receiver.statuses = [503] * 1000
    store = MemoryOutboxStore()
    outbox = await started(store)
    try:
        await outbox.submit(job(receiver.url))
        await until(lambda: any("ALERT" in r.getMessage() for r in caplog.records))
        await asyncio.sleep(0.3)  # the monitor runs again: no second alert
    finally:
        await outbox.stop()
    alerts = [r.getMessage() for r in caplog.records if "ALERT" in r.getMessage()]
    assert len(alerts) == 1 and "application job 1 to weather" in alerts[0]
