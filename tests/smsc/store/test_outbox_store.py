"""The outbox's store contract on the memory twin, SQLite and PostgreSQL: keep, claim with a
lease, record, dedupe keys, MO duplicate keys in the same transaction, held groups, expiry,
claims and the monitor's reads filtered by kind and target."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from smsc.outbox.jobs import HTTP_KINDS, SMPP_KINDS, NewOutboxJob, OutboxKind, OutboxState
from smsc.service.model import DuplicateKey
from smsc.service.ports import OutboxStore
from smsc.store.errors import DuplicateMessageError
from smsc.store.outbox_jobs_memory import MemoryOutboxStore
from smsc.store.outbox_jobs_sql import SqlOutboxStore
from tests.smsc.store.conftest import T0, Database, _postgres_database, _sqlite_database

JOB = NewOutboxJob(
    kind=OutboxKind.APPLICATION,
    target="weather",
    url="http://127.0.0.1:9/in",
    body=b'{"text":"WEATHER"}',
    content_type="application/json",
    created_at=T0,
)


def part(group: str, number: int, size: int = 3) -> NewOutboxJob:
    """One segment of a concatenated MO."""
    return replace(JOB, group_key=group, group_size=size, group_part=number)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OutboxStore]:
    """Every OutboxStore, started (the SQL ones on a started message store)."""
    if request.param == "memory":
        memory = MemoryOutboxStore(reassembly_s=60)
        await memory.start()
        yield memory
        return
    source = _sqlite_database(tmp_path) if request.param == "sqlite" else _postgres_database()
    async for database in source:
        messages = database.store()
        await messages.start()
        sql = SqlOutboxStore(messages, reassembly_s=60)
        await sql.start()
        yield sql
        await sql.close()


async def test_a_job_is_kept_claimed_and_delivered(outbox: OutboxStore) -> None:
    job_id = await outbox.add(JOB)
    kept = await outbox.get(job_id)
    assert kept is not None and kept.job == JOB and kept.state is OutboxState.PENDING
    (claimed,) = await outbox.claim_due(T0, 10, lease_s=30)
    assert claimed.id == job_id and claimed.state is OutboxState.DELIVERING
    assert await outbox.claim_due(T0, 10, lease_s=30) == []  # leased
    await outbox.record_attempt(job_id, T0, True, http_status=204)
    done = await outbox.get(job_id)
    assert done is not None and done.state is OutboxState.DELIVERED and done.attempts == 1
    assert done.delivered_at == T0
    assert await outbox.claim_due(T0 + timedelta(hours=1), 10, lease_s=30) == []


async def test_a_failure_waits_for_its_retry_time_and_a_lease_runs_out(
    outbox: OutboxStore,
) -> None:
    first, second = await outbox.add(JOB), await outbox.add(JOB)
    assert [j.id for j in await outbox.claim_due(T0, 1, lease_s=30)] == [first]  # oldest first
    retry_at = T0 + timedelta(seconds=5)
    await outbox.record_attempt(
        first, T0, False, http_status=503, error="HTTP 503", next_attempt_at=retry_at
    )
    failed = await outbox.get(first)
    assert failed is not None and failed.state is OutboxState.PENDING
    assert (failed.attempts, failed.last_http_status, failed.last_error) == (1, 503, "HTTP 503")
    assert [j.id for j in await outbox.claim_due(T0, 10, lease_s=30)] == [second]
    assert [j.id for j in await outbox.claim_due(T0 + timedelta(seconds=5), 10, lease_s=30)] == [
        first
    ]
    # the claimer of `second` died: after its lease, the job is claimed again
    later = T0 + timedelta(seconds=31)
    assert [j.id for j in await outbox.claim_due(later, 10, lease_s=30)] == [second]
    assert await outbox.requeue_delivering() == 2
    assert len(await outbox.claim_due(later, 10, lease_s=30)) == 2


async def test_a_dedupe_key_keeps_one_job(outbox: OutboxStore) -> None:
    report = replace(JOB, kind=OutboxKind.DELIVERY_REPORT, dedupe_key="report:sub-1")
    first = await outbox.add(report)
    assert await outbox.add(replace(report, body=b"{}")) == first
    assert [j.id for j in await outbox.claim_due(T0, 10, lease_s=30)] == [first]
    kept = await outbox.get(first)
    assert kept is not None and kept.job.body == report.body


async def test_an_mo_duplicate_key_is_taken_with_the_job(outbox: OutboxStore) -> None:
    key = DuplicateKey("0123456789abcdef0123456789abcdef", T0 + timedelta(seconds=60))
    first = await outbox.add(JOB, key)
    with pytest.raises(DuplicateMessageError):
        await outbox.add(JOB, key)
    assert [j.id for j in await outbox.claim_due(T0, 10, lease_s=30)] == [first]  # one kept
    later = replace(JOB, created_at=T0 + timedelta(seconds=61))
    again = DuplicateKey(key.key, T0 + timedelta(seconds=121))
    assert await outbox.add(later, again) != first  # the window ended: a new SMS


async def test_a_group_waits_for_every_part_then_goes_as_one(outbox: OutboxStore) -> None:
    third = await outbox.add(part("g1", 3))
    first = await outbox.add(part("g1", 1))
    assert await outbox.claim_due(T0, 10, lease_s=30) == []  # held: a part is missing
    held = await outbox.get(first)
    assert held is not None and held.state is OutboxState.HELD
    second = await outbox.add(part("g1", 2))
    (lead,) = await outbox.claim_due(T0, 10, lease_s=30)
    assert lead.id == third  # the lowest id carries the message
    assert sorted(j.job.group_part for j in await outbox.group("g1")) == [1, 2, 3]
    await outbox.record_attempt(lead.id, T0, True, http_status=200)
    for job_id in (first, second, third):
        kept = await outbox.get(job_id)
        assert kept is not None and kept.state is OutboxState.DELIVERED
    assert await outbox.claim_due(T0 + timedelta(hours=1), 10, lease_s=30) == []


async def test_an_incomplete_group_goes_after_the_reassembly_time(outbox: OutboxStore) -> None:
    first = await outbox.add(part("g2", 1))
    await outbox.add(part("g2", 1))  # the same part twice counts once
    await outbox.add(part("g2", 2))
    assert await outbox.claim_due(T0 + timedelta(seconds=59), 10, lease_s=30) == []
    (lead,) = await outbox.claim_due(T0 + timedelta(seconds=60), 10, lease_s=30)
    assert lead.id == first
    assert len(await outbox.group("g2")) == 3


async def test_late_segments_go_under_their_own_lead_and_are_not_delivered_by_the_first(
    outbox: OutboxStore,
) -> None:
    """Parts 1-2 of 4 go after the reassembly time; parts 3-4 come later still and go under a
    lead of their own: the first lead's 2xx delivers only what it carried."""
    first = await outbox.add(part("g4", 1, size=4))
    second = await outbox.add(part("g4", 2, size=4))
    (lead,) = await outbox.claim_due(T0 + timedelta(seconds=60), 10, lease_s=30)
    assert lead.id == first
    retry = T0 + timedelta(hours=1)
    await outbox.record_attempt(first, T0, False, http_status=503, next_attempt_at=retry)
    late = T0 + timedelta(seconds=100)
    third = await outbox.add(replace(part("g4", 3, size=4), created_at=late))
    fourth = await outbox.add(replace(part("g4", 4, size=4), created_at=late))
    (late_lead,) = await outbox.claim_due(late + timedelta(seconds=60), 10, lease_s=30)
    assert late_lead.id == third
    await outbox.record_attempt(first, late, True, http_status=200)
    states = {i: (await outbox.get(i)) for i in (first, second, third, fourth)}
    assert {i: s.state for i, s in states.items() if s is not None} == {
        first: OutboxState.DELIVERED,
        second: OutboxState.DELIVERED,
        third: OutboxState.DELIVERING,
        fourth: OutboxState.HELD,  # carried by `third`, not by `first`
    }
    await outbox.record_attempt(third, late, True, http_status=200)
    carried = await outbox.get(fourth)
    assert carried is not None and carried.state is OutboxState.DELIVERED


async def test_a_job_past_its_time_expires_unsent(outbox: OutboxStore) -> None:
    job_id = await outbox.add(replace(JOB, expires_at=T0 + timedelta(seconds=10)))
    assert await outbox.claim_due(T0 + timedelta(seconds=10), 10, lease_s=30) == []
    kept = await outbox.get(job_id)
    assert kept is not None and kept.state is OutboxState.EXPIRED
    assert await outbox.counts() == {("application", "expired"): 1}


async def test_the_oldest_undelivered_and_the_overdue(outbox: OutboxStore) -> None:
    assert await outbox.oldest_pending_age(T0) is None
    old = await outbox.add(JOB)
    await outbox.add(replace(JOB, created_at=T0 + timedelta(seconds=100)))
    assert await outbox.oldest_pending_age(T0 + timedelta(seconds=120)) == 120.0
    assert await outbox.overdue(T0 + timedelta(seconds=50), 10) == [old]
    await outbox.record_attempt(old, T0, True, http_status=200)
    assert await outbox.overdue(T0 + timedelta(seconds=500), 10) != [old]
    assert await outbox.counts() == {
        ("application", "delivered"): 1,
        ("application", "pending"): 1,
    }


async def test_two_instances_on_postgresql_share_one_outbox(postgres: Database) -> None:
    """Claims never overlap; racing adds of one dedupe key or one MO key keep one job."""
    stores = []
    for _ in range(2):
        messages = postgres.store()
        await messages.start()
        outbox = SqlOutboxStore(messages)
        await outbox.start()
        stores.append(outbox)
    a, b = stores
    ids = [await a.add(JOB) for _ in range(40)]
    claims = await asyncio.gather(
        *(store.claim_due(T0, 7, lease_s=30) for store in (a, b, a, b, a, b, a, b))
    )
    claimed = [job.id for batch in claims for job in batch]
    assert sorted(claimed) == sorted(set(claimed)) and set(claimed) <= set(ids)
    report = replace(JOB, dedupe_key="report:race")
    same = await asyncio.gather(*(store.add(report) for store in (a, b, a, b)))
    assert len(set(same)) == 1
    key = DuplicateKey("fedcba9876543210fedcba9876543210", T0 + timedelta(seconds=60))
    results = await asyncio.gather(
        *(store.add(JOB, key) for store in (a, b, a, b)), return_exceptions=True
    )
    kept = [r for r in results if isinstance(r, int)]
    assert len(kept) == 1
    assert all(isinstance(r, DuplicateMessageError) for r in results if not isinstance(r, int))


def smpp(
    system_id: str, kind: OutboxKind = OutboxKind.SMPP_RECEIPT, **fields: object
) -> NewOutboxJob:
    """A deliver_sm for the ESME `system_id`."""
    job = replace(
        JOB,
        kind=kind,
        target=system_id,
        url=f"smpp:{system_id}",
        body=b"\0\0\0\x10\0\0\0\x05\0\0\0\0\0\0\0\0",
        content_type="application/vnd.smpp-pdu",
    )
    return replace(job, **fields)  # type: ignore[arg-type]


def test_the_kinds_split_in_two() -> None:
    assert set(OutboxKind) == HTTP_KINDS | SMPP_KINDS and not HTTP_KINDS & SMPP_KINDS


async def test_a_claim_of_some_kinds_never_returns_another(outbox: OutboxStore) -> None:
    app = await outbox.add(JOB)
    receipt = await outbox.add(smpp("esme1"))
    mo = await outbox.add(smpp("esme2", OutboxKind.SMPP_MO))
    report = await outbox.add(replace(JOB, kind=OutboxKind.DELIVERY_REPORT, target="webhook"))
    http = await outbox.claim_due(T0, 10, lease_s=30, kinds=HTTP_KINDS)
    assert [(j.id, j.job.kind) for j in http] == [
        (app, OutboxKind.APPLICATION),
        (report, OutboxKind.DELIVERY_REPORT),
    ]
    assert await outbox.claim_due(T0, 10, lease_s=30, kinds=HTTP_KINDS) == []  # leased
    assert [j.id for j in await outbox.claim_due(T0, 1, lease_s=30, kinds=SMPP_KINDS)] == [
        receipt
    ]  # the limit counts the wanted kinds only
    assert [
        j.id for j in await outbox.claim_due(T0, 10, lease_s=30, kinds=[OutboxKind.SMPP_MO])
    ] == [mo]
    later = T0 + timedelta(seconds=31)  # every lease ran out
    assert await outbox.claim_due(later, 10, lease_s=30, kinds=[]) == []
    assert len(await outbox.claim_due(later, 10, lease_s=30)) == 4  # no filter: every kind


async def test_a_claim_for_some_targets(outbox: OutboxStore) -> None:
    one = await outbox.add(smpp("esme1"))
    two = await outbox.add(smpp("esme2"))
    await outbox.add(smpp("esme3", OutboxKind.SMPP_MO))
    three = await outbox.add(smpp("esme1", OutboxKind.SMPP_MO))
    await outbox.add(replace(JOB, target="esme1"))  # an application of the same name
    assert await outbox.claim_due(T0, 10, lease_s=30, kinds=SMPP_KINDS, targets=()) == []
    assert await outbox.claim_due(T0, 10, lease_s=30, targets=set()) == []
    claimed = await outbox.claim_due(T0, 10, lease_s=30, kinds=SMPP_KINDS, targets=["esme1"])
    assert [j.id for j in claimed] == [one, three]
    claimed = await outbox.claim_due(T0, 10, lease_s=30, targets={"esme2", "nobody"})
    assert [j.id for j in claimed] == [two]
    pending = await outbox.get(two + 1)
    assert pending is not None and pending.state is OutboxState.PENDING  # esme3's: not bound


async def test_groups_are_unchanged_under_a_kinds_filter(outbox: OutboxStore) -> None:
    third = await outbox.add(part("g5", 3))
    first = await outbox.add(part("g5", 1))
    receipt = await outbox.add(smpp("esme1"))
    assert await outbox.claim_due(T0, 10, lease_s=30, kinds=HTTP_KINDS) == []  # held
    held = await outbox.get(first)
    assert held is not None and held.state is OutboxState.HELD
    second = await outbox.add(part("g5", 2))
    assert [j.id for j in await outbox.claim_due(T0, 10, lease_s=30, kinds=SMPP_KINDS)] == [
        receipt
    ]  # an SMPP claim lets the complete group go, but does not take it
    (lead,) = await outbox.claim_due(T0, 10, lease_s=30, kinds=HTTP_KINDS)
    assert lead.id == third
    assert sorted(j.job.group_part for j in await outbox.group("g5")) == [1, 2, 3]
    await outbox.record_attempt(lead.id, T0, True, http_status=200)
    for job_id in (first, second, third):
        kept = await outbox.get(job_id)
        assert kept is not None and kept.state is OutboxState.DELIVERED


async def test_the_oldest_undelivered_and_the_overdue_of_some_kinds(outbox: OutboxStore) -> None:
    receipt = await outbox.add(smpp("esme1"))
    app = await outbox.add(replace(JOB, created_at=T0 + timedelta(seconds=100)))
    now = T0 + timedelta(seconds=120)
    assert await outbox.oldest_pending_age(now) == 120.0
    assert await outbox.oldest_pending_age(now, kinds=SMPP_KINDS) == 120.0
    assert await outbox.oldest_pending_age(now, kinds=HTTP_KINDS) == 20.0
    assert await outbox.oldest_pending_age(now, kinds=[OutboxKind.DELIVERY_REPORT]) is None
    assert await outbox.oldest_pending_age(now, kinds=[]) is None
    assert await outbox.overdue(now, 10) == [receipt, app]
    assert await outbox.overdue(now, 10, kinds=HTTP_KINDS) == [app]
    assert await outbox.overdue(now, 10, kinds=SMPP_KINDS) == [receipt]
    assert await outbox.overdue(now, 10, kinds=()) == []


async def test_filtered_claims_of_two_instances_on_postgresql_never_overlap(
    postgres: Database,
) -> None:
    stores = []
    for _ in range(2):
        messages = postgres.store()
        await messages.start()
        outbox = SqlOutboxStore(messages)
        await outbox.start()
        stores.append(outbox)
    a, b = stores
    for n in range(30):
        await a.add(JOB if n % 3 == 0 else smpp(f"esme{n % 2}"))
    claims = await asyncio.gather(
        *(
            store.claim_due(T0, 4, lease_s=30, kinds=SMPP_KINDS, targets=["esme0", "esme1"])
            for store in (a, b, a, b, a, b, a, b)
        )
    )
    claimed = [job for batch in claims for job in batch]
    assert len(claimed) == 20 and len({job.id for job in claimed}) == 20
    assert {job.job.kind for job in claimed} == {OutboxKind.SMPP_RECEIPT}
