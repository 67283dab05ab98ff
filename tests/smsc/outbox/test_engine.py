"""The HTTP delivery engine against a real receiver on loopback: the backoff, a restart on the
same SQLite file, the body of a group with late segments, and loops that outlive failures."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from smsc.outbox.engine import Attempted, Claim, HttpDelivery, HttpRequest
from smsc.outbox.jobs import NewOutboxJob, OutboxKind, OutboxState, StoredOutboxJob
from smsc.outbox.outbox import Outbox
from smsc.settings import OutboxSettings
from smsc.store.errors import StoreUnavailable
from smsc.store.outbox_jobs_memory import MemoryOutboxStore
from smsc.store.outbox_jobs_sql import SqlOutboxStore
from tests.smsc.outbox.conftest import Receiver, until
from tests.smsc.store.conftest import Database, _sqlite_database

FAST = OutboxSettings(retry_initial_ms=20, retry_max_ms=100, max_in_flight=4, alert_after_s=60)


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    async for database in _sqlite_database(tmp_path):
        yield database


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


@dataclass
class RecordingKind:
    """A DeliveryKind that POSTs a job's body as it is and keeps every attempt."""

    attempts: list[Attempted] = field(default_factory=list)

    def claim_of(self, job: StoredOutboxJob) -> Claim:
        return Claim(job.id, job.attempts, job.job.created_at, job.job.target)

    async def request_of(self, job: StoredOutboxJob) -> HttpRequest:
        new = job.job
        return HttpRequest(new.url, new.body, new.content_type, label=new.target)

    def attempted(self, job: StoredOutboxJob, attempt: Attempted) -> None:
        self.attempts.append(attempt)

    async def overdue(self, job_id: int, now: datetime) -> None:
        """No alerts here."""

    def in_flight_count(self, count: int) -> None:
        """Not measured here."""

    def oldest_pending(self, age_s: float) -> None:
        """Not measured here."""


async def test_failures_back_off_exponentially_with_jitter_up_to_the_ceiling(
    receiver: Receiver,
) -> None:
    receiver.statuses = [503] * 6
    store = MemoryOutboxStore()
    await store.start()
    kind = RecordingKind()
    engine = HttpDelivery[StoredOutboxJob](
        store,
        kind,
        name="test",
        retry_initial_s=0.01,
        retry_max_s=0.05,
        poll_interval_s=5.0,  # only the retry times wake it
        rng=random.Random(7),
    )
    await engine.start()
    try:
        job_id = await store.add(job(receiver.url))
        engine.wake()
        await until(lambda: len(kind.attempts) == 7)
    finally:
        await engine.stop()
    assert [a.outcome for a in kind.attempts] == ["http_error"] * 6 + ["delivered"]
    assert receiver.keys() == [str(job_id)] * 7  # the same key on every attempt
    for number, attempt in enumerate(kind.attempts[:6], start=1):
        assert attempt.next_attempt_at is not None
        delay = (attempt.next_attempt_at - attempt.at).total_seconds()
        ceiling = min(0.05, 0.01 * 2 ** (number - 1))
        assert 0.5 * ceiling <= delay <= ceiling
    assert kind.attempts[-1].next_attempt_at is None
    kept = await store.get(job_id)
    assert kept is not None and kept.state is OutboxState.DELIVERED and kept.attempts == 7


async def test_a_restart_on_the_same_sqlite_file_sends_a_cut_post_once_more(
    receiver: Receiver, sqlite: Database
) -> None:
    receiver.hold = asyncio.Event()
    messages = sqlite.store()
    await messages.start()
    store = SqlOutboxStore(messages)
    await store.start()
    first = Outbox(store, FAST, registry=CollectorRegistry(), poll_interval_s=0.05)
    await first.start()
    job_id = await first.submit(job(receiver.url))
    await until(lambda: len(receiver.posts) == 1)
    await first.stop(grace_s=0)  # the process goes while the POST waits for its answer
    await store.close()
    await messages.close()
    cut = receiver.hold
    receiver.hold = None
    cut.set()

    messages = sqlite.store()
    await messages.start()
    store = SqlOutboxStore(messages)
    await store.start()
    left = await store.get(job_id)
    assert left is not None and left.state is OutboxState.DELIVERING
    second = Outbox(store, FAST, registry=CollectorRegistry(), poll_interval_s=0.05)
    await second.start()
    try:

        def delivered() -> bool:
            return len(receiver.posts) == 2

        await until(delivered)
        for _ in range(100):
            kept = await store.get(job_id)
            if kept is not None and kept.state is OutboxState.DELIVERED:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # nothing more is sent
    finally:
        await second.stop()
    assert receiver.keys() == [str(job_id), str(job_id)]
    kept = await store.get(job_id)
    assert kept is not None and kept.state is OutboxState.DELIVERED and kept.attempts == 1


async def test_late_segments_are_not_carried_by_the_first_post() -> None:
    store = MemoryOutboxStore(reassembly_s=60)
    await store.start()
    start = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    segment = job("http://127.0.0.1:9/in", created_at=start, group_key="g", group_size=4)
    for number in (1, 2):
        await store.add(replace(segment, group_part=number, body=b"%d" % number))
    late = start + timedelta(seconds=100)
    (lead,) = await store.claim_due(start + timedelta(seconds=60), 10, lease_s=3600)
    for number in (3, 4):
        await store.add(replace(segment, group_part=number, body=b"%d" % number, created_at=late))
    (late_lead,) = await store.claim_due(late + timedelta(seconds=60), 10, lease_s=30)

    def compose(rows: Sequence[StoredOutboxJob]) -> bytes:
        return b"+".join(row.job.body for row in rows)

    outbox = Outbox(store, FAST, composers={OutboxKind.APPLICATION: compose})
    assert (await outbox.request_of(lead)).body == b"1+2"
    assert (await outbox.request_of(late_lead)).body == b"3+4"


class FlakyStore(MemoryOutboxStore):
    """Its first group read fails as a database would; its first claim hits a bug."""

    def __init__(self) -> None:
        super().__init__()
        self.group_failures = 1
        self.claim_bugs = 1

    async def group(self, group_key: str) -> list[StoredOutboxJob]:
        if self.group_failures:
            self.group_failures -= 1
            raise StoreUnavailable("database unreachable: test")
        return await super().group(group_key)

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        *,
        lease_s: float = 60.0,
        kinds: Collection[OutboxKind] | None = None,
        targets: Collection[str] | None = None,
    ) -> list[StoredOutboxJob]:
        if self.claim_bugs:
            self.claim_bugs -= 1
            raise RuntimeError("a bug")
        return await super().claim_due(now, limit, lease_s=lease_s, kinds=kinds, targets=targets)


async def test_a_store_failure_or_a_bug_is_retried_not_the_end_of_delivery(
    receiver: Receiver,
) -> None:
    store = FlakyStore()
    await store.start()
    internal_errors: list[None] = []
    outbox = Outbox(
        store,
        FAST,
        registry=CollectorRegistry(),
        poll_interval_s=0.05,
        on_internal_error=lambda: internal_errors.append(None),
    )
    await outbox.start()
    try:
        segments = [
            job(receiver.url, group_key="g", group_size=2, group_part=n, body=b"%d" % n)
            for n in (1, 2)
        ]
        lead = await outbox.submit(segments[0])
        await outbox.submit(segments[1])
        await until(lambda: len(receiver.posts) == 1)
        for _ in range(100):
            kept = await store.get(lead)
            if kept is not None and kept.state is OutboxState.DELIVERED:
                break
            await asyncio.sleep(0.02)
    finally:
        await outbox.stop()
    kept = await store.get(lead)
    assert kept is not None and kept.state is OutboxState.DELIVERED
    assert kept.attempts == 2 and kept.last_error is None  # the store failure was one attempt
    assert len(internal_errors) == 1  # the claim loop's bug, counted, and the loop lived on
