"""Deferred CCRs (issue 14): kept unchanged, claimed with a lease, settled once; migration 0008.

Run against the memory twin, SQLite and PostgreSQL alike (the `store` fixture), and the claim
races on two SQL stores sharing one database.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from smsc.service.model import (
    ChargingRecord,
    DeferredCharge,
    DeferredChargeState,
)
from smsc.service.ports import MessageStore
from smsc.store.errors import StoreClosedError
from smsc.store.migrate import current_revision, upgrade
from tests.smsc.store.conftest import T0, Database, downgrade_to, run_in

PENDING = DeferredChargeState.PENDING
SENDING = DeferredChargeState.SENDING
CHARGED = DeferredChargeState.CHARGED
REJECTED = DeferredChargeState.REJECTED
FAILED = DeferredChargeState.FAILED

# A CCR with its T flag (0x10 in the command flags) set; every byte value, NULs included.
CCR = bytes.fromhex("010001d4d0000110000000040a1b2c3d00000001") + bytes(range(256)) * 2


def _charge(n: int = 1, **fields: Any) -> DeferredCharge:
    values: dict[str, Any] = {
        "submission_id": f"4915112345678-call-{n}",
        "session_id": f"smsc.ims.example.net;1733220000;{n}",
        "originator": "4915112345678",
        "ccr": CCR + bytes([n % 256]),
        "created_at": T0 + timedelta(seconds=n),
    }
    values.update(fields)
    return DeferredCharge(**values)


def _record(charge: DeferredCharge, outcome: str = "deferred-charged") -> ChargingRecord:
    return ChargingRecord(
        submission_id=charge.submission_id,
        at=T0 + timedelta(minutes=5),
        originator=charge.originator,
        session_id=charge.session_id,
        outcome=outcome,
        result_code=2001,
        units=1,
        granted_units=1,
        peer="ocs1.example.net",
        retransmitted=True,
        latency_ms=3.5,
    )


# -- keep and claim -----------------------------------------------------------------------------


async def test_a_kept_ccr_comes_back_unchanged_and_claimed(store: MessageStore) -> None:
    charge = _charge()
    charge_id = await store.add_deferred_charge(charge)
    now = T0 + timedelta(minutes=1)
    [claimed] = await store.claim_due_deferred_charges(now, 10, 60.0)
    assert claimed.id == charge_id
    assert claimed.charge == charge
    assert claimed.charge.ccr == charge.ccr  # the exact bytes
    assert claimed.state is SENDING
    assert claimed.attempts == 0
    assert claimed.lease_until == now + timedelta(seconds=60)
    assert (claimed.last_result_code, claimed.last_reason, claimed.done_at) == (None, None, None)


async def test_times_are_kept_in_utc_and_naive_ones_refused(store: MessageStore) -> None:
    cest = timezone(timedelta(hours=2))
    await store.add_deferred_charge(_charge(created_at=T0.astimezone(cest)))
    [claimed] = await store.claim_due_deferred_charges(T0.astimezone(cest), 1, 60.0)
    assert claimed.charge.created_at == T0 and claimed.charge.created_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="naive"):
        await store.add_deferred_charge(_charge(2, created_at=T0.replace(tzinfo=None)))
    with pytest.raises(ValueError, match="naive"):
        await store.claim_due_deferred_charges(T0.replace(tzinfo=None), 1, 60.0)


async def test_claims_go_oldest_first_up_to_the_limit(store: MessageStore) -> None:
    ids = [await store.add_deferred_charge(_charge(n)) for n in range(1, 6)]
    first = await store.claim_due_deferred_charges(T0, 2, 60.0)
    second = await store.claim_due_deferred_charges(T0, 10, 60.0)
    assert [c.id for c in first] == ids[:2]
    assert [c.id for c in second] == ids[2:]
    assert await store.claim_due_deferred_charges(T0, 10, 60.0) == []
    assert await store.claim_due_deferred_charges(T0, 0, 60.0) == []


async def test_a_claim_comes_back_when_its_lease_runs_out(store: MessageStore) -> None:
    charge_id = await store.add_deferred_charge(_charge())
    await store.claim_due_deferred_charges(T0, 10, 30.0)
    assert await store.claim_due_deferred_charges(T0 + timedelta(seconds=29), 10, 30.0) == []
    later = T0 + timedelta(seconds=30)
    [again] = await store.claim_due_deferred_charges(later, 10, 30.0)
    assert (again.id, again.state, again.lease_until) == (
        charge_id,
        SENDING,
        later + timedelta(seconds=30),
    )


# -- outcomes -----------------------------------------------------------------------------------


async def test_a_retry_waits_for_its_time(store: MessageStore) -> None:
    charge_id = await store.add_deferred_charge(_charge())
    await store.claim_due_deferred_charges(T0, 10, 60.0)
    retry_at = T0 + timedelta(seconds=30)
    kept = await store.record_deferred_outcome(
        charge_id,
        at=T0,
        state=PENDING,
        result_code=3002,
        reason="no peer",
        next_attempt_at=retry_at,
    )
    assert kept
    assert await store.claim_due_deferred_charges(retry_at - timedelta(seconds=1), 10, 60.0) == []
    [again] = await store.claim_due_deferred_charges(retry_at, 10, 60.0)
    assert (again.attempts, again.last_result_code, again.last_reason) == (1, 3002, "no peer")
    assert again.next_attempt_at == retry_at
    assert again.done_at is None
    counts = await store.deferred_charge_counts()
    assert counts.by_state[SENDING] == 1


async def test_a_final_outcome_keeps_its_charging_record_and_settles_once(
    store: MessageStore,
) -> None:
    charge = _charge()
    charge_id = await store.add_deferred_charge(charge)
    await store.claim_due_deferred_charges(T0, 10, 60.0)
    done = T0 + timedelta(minutes=5)
    record = _record(charge)
    assert await store.record_deferred_outcome(
        charge_id, at=done, state=CHARGED, result_code=2001, record=record
    )
    assert await store.charging_records(charge.submission_id) == [record]
    # settled: neither a late retry nor a second final outcome changes it
    assert not await store.record_deferred_outcome(
        charge_id, at=done, state=PENDING, next_attempt_at=done
    )
    assert not await store.record_deferred_outcome(
        charge_id, at=done, state=REJECTED, record=_record(charge, "deferred-rejected")
    )
    assert await store.charging_records(charge.submission_id) == [record]
    assert await store.claim_due_deferred_charges(done + timedelta(days=9), 10, 60.0) == []
    counts = await store.deferred_charge_counts()
    assert counts.by_state[CHARGED] == 1
    assert counts.oldest_pending_at is None


async def test_a_late_answer_wins_over_a_taken_over_claim(store: MessageStore) -> None:
    """Sender A's lease ran out, B took the CCR over and scheduled a retry: A's charged answer
    is still kept, and B's retry of a CCR A settled is refused."""
    charge = _charge()
    charge_id = await store.add_deferred_charge(charge)
    await store.claim_due_deferred_charges(T0, 10, 10.0)  # A
    later = T0 + timedelta(seconds=20)
    await store.claim_due_deferred_charges(later, 10, 10.0)  # B
    assert await store.record_deferred_outcome(
        charge_id, at=later, state=PENDING, next_attempt_at=later + timedelta(minutes=1)
    )  # B: no answer
    assert not await store.record_deferred_outcome(
        charge_id, at=later, state=PENDING, next_attempt_at=later
    )  # A's retry: no longer sending
    assert await store.record_deferred_outcome(
        charge_id, at=later, state=CHARGED, record=_record(charge)
    )  # A's answer
    counts = await store.deferred_charge_counts()
    assert counts.by_state[CHARGED] == 1 and counts.by_state[PENDING] == 0


# -- an OCS peer opened: every back-off ends -----------------------------------------------------


async def _retry(store: MessageStore, charge_id: int, next_attempt_at: datetime) -> None:
    """Keep a no-answer outcome of the claimed `charge_id`, due again at `next_attempt_at`."""
    assert await store.record_deferred_outcome(
        charge_id, at=T0, state=PENDING, reason="no peer", next_attempt_at=next_attempt_at
    )


async def test_making_due_ends_the_back_off_of_pending_ccrs_only(store: MessageStore) -> None:
    """Pending in back-off: due now. Pending and due already (fresh or retry time reached),
    sending with a live lease, final: left alone."""
    ids = [await store.add_deferred_charge(_charge(n)) for n in range(1, 7)]
    await store.claim_due_deferred_charges(T0, 5, 60.0)  # 1-5 sending; 6 fresh, never sent
    hour, passed = T0 + timedelta(hours=1), T0 - timedelta(seconds=1)
    await _retry(store, ids[0], hour)  # back-off
    await _retry(store, ids[1], T0 + timedelta(minutes=2))  # back-off
    await _retry(store, ids[2], passed)  # due already
    assert await store.record_deferred_outcome(ids[3], at=T0, state=CHARGED)
    # ids[4]: sending, its lease live until T0 + 60 s
    now = T0 + timedelta(seconds=5)

    assert await store.make_deferred_charges_due(now) == 2
    assert await store.make_deferred_charges_due(now) == 0  # nothing later than now any more

    claimed = await store.claim_due_deferred_charges(now, 10, 60.0)
    assert [c.id for c in claimed] == [ids[0], ids[1], ids[2], ids[5]]
    by_id = {c.id: c for c in claimed}
    assert by_id[ids[0]].next_attempt_at == now == by_id[ids[1]].next_attempt_at
    assert by_id[ids[2]].next_attempt_at == passed  # unchanged
    assert by_id[ids[0]].attempts == 1  # the back-off of the next failure still grows
    counts = await store.deferred_charge_counts()
    assert counts.by_state == {PENDING: 0, SENDING: 5, CHARGED: 1, REJECTED: 0, FAILED: 0}


async def test_making_due_leaves_a_claim_with_a_live_lease_alone(store: MessageStore) -> None:
    charge_id = await store.add_deferred_charge(_charge())
    [claimed] = await store.claim_due_deferred_charges(T0, 10, 60.0)
    assert await store.make_deferred_charges_due(T0 + timedelta(seconds=1)) == 0
    assert await store.claim_due_deferred_charges(T0 + timedelta(seconds=59), 10, 60.0) == []
    [back] = await store.claim_due_deferred_charges(T0 + timedelta(seconds=60), 10, 60.0)
    assert back.id == claimed.id == charge_id


async def test_making_due_takes_any_aware_time_and_refuses_naive(store: MessageStore) -> None:
    cest = timezone(timedelta(hours=2))
    charge_id = await store.add_deferred_charge(_charge())
    await store.claim_due_deferred_charges(T0, 10, 60.0)
    await _retry(store, charge_id, T0 + timedelta(hours=1))
    with pytest.raises(ValueError, match="naive"):
        await store.make_deferred_charges_due(T0.replace(tzinfo=None))
    assert await store.make_deferred_charges_due(T0.astimezone(cest)) == 1
    [claimed] = await store.claim_due_deferred_charges(T0, 10, 60.0)
    assert claimed.next_attempt_at == T0 and claimed.next_attempt_at.utcoffset() == timedelta(0)


async def test_making_due_many_ccrs_lets_them_be_claimed_in_batches(
    store: MessageStore,
) -> None:
    total = 25
    ids = [await store.add_deferred_charge(_charge(n)) for n in range(1, total + 1)]
    await store.claim_due_deferred_charges(T0, total, 60.0)
    for n, charge_id in enumerate(ids):
        await _retry(store, charge_id, T0 + timedelta(minutes=1 + n))
    assert await store.make_deferred_charges_due(T0) == total
    batches = []
    while batch := await store.claim_due_deferred_charges(T0, 10, 60.0):
        batches.append([c.id for c in batch])
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [charge_id for b in batches for charge_id in b] == ids


async def test_an_unknown_id_is_not_kept(store: MessageStore) -> None:
    assert not await store.record_deferred_outcome(999, at=T0, state=FAILED)


async def test_sending_is_not_an_outcome(store: MessageStore) -> None:
    charge_id = await store.add_deferred_charge(_charge())
    await store.claim_due_deferred_charges(T0, 10, 60.0)
    with pytest.raises(ValueError, match="sending"):
        await store.record_deferred_outcome(charge_id, at=T0, state=SENDING)


async def test_counts_list_every_state_and_the_oldest_unsettled(store: MessageStore) -> None:
    empty = await store.deferred_charge_counts()
    assert empty.by_state == dict.fromkeys(DeferredChargeState, 0)
    assert empty.oldest_pending_at is None
    ids = [await store.add_deferred_charge(_charge(n)) for n in range(1, 6)]
    await store.claim_due_deferred_charges(T0, 3, 60.0)  # 1, 2, 3 sending
    await store.record_deferred_outcome(ids[0], at=T0, state=CHARGED)
    await store.record_deferred_outcome(ids[1], at=T0, state=REJECTED)
    counts = await store.deferred_charge_counts()
    assert counts.by_state == {PENDING: 2, SENDING: 1, CHARGED: 1, REJECTED: 1, FAILED: 0}
    assert counts.oldest_pending_at == _charge(3).created_at  # sending counts as unsettled


async def test_a_closed_store_refuses_deferred_work(store: MessageStore) -> None:
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.add_deferred_charge(_charge())
    with pytest.raises(StoreClosedError):
        await store.claim_due_deferred_charges(T0, 1, 60.0)
    with pytest.raises(StoreClosedError):
        await store.deferred_charge_counts()
    with pytest.raises(StoreClosedError):
        await store.make_deferred_charges_due(T0)


# -- several claimers, restarts -----------------------------------------------------------------


async def test_two_claimers_never_get_the_same_ccr(database: Database) -> None:
    first, second = database.store(), database.store()
    await first.start()
    await second.start()
    total = 60
    for n in range(1, total + 1):
        await first.add_deferred_charge(_charge(n))

    async def claim_all(store: MessageStore) -> list[int]:
        got: list[int] = []
        while batch := await store.claim_due_deferred_charges(T0, 4, 60.0):
            got += [c.id for c in batch]
            await asyncio.sleep(0)
        return got

    results = await asyncio.gather(*(claim_all(s) for s in (first, second, first, second)))
    claimed = [charge_id for got in results for charge_id in got]
    assert len(claimed) == len(set(claimed)) == total
    counts = await second.deferred_charge_counts()
    assert counts.by_state[SENDING] == total


async def test_two_stores_woken_at_once_make_each_ccr_due_once(database: Database) -> None:
    first, second = database.store(), database.store()
    await first.start()
    await second.start()
    total = 40
    ids = [await first.add_deferred_charge(_charge(n)) for n in range(1, total + 1)]
    await first.claim_due_deferred_charges(T0, total, 60.0)
    for charge_id in ids:
        await _retry(first, charge_id, T0 + timedelta(hours=1))
    made = await asyncio.gather(
        *(s.make_deferred_charges_due(T0) for s in (first, second, first, second))
    )
    assert sum(made) == total
    claimed = await second.claim_due_deferred_charges(T0, total + 1, 60.0)
    assert [c.id for c in claimed] == ids


async def test_kept_ccrs_survive_a_restart(database: Database) -> None:
    store = database.store()
    await store.start()
    charge = _charge()
    charge_id = await store.add_deferred_charge(charge)
    await store.claim_due_deferred_charges(T0, 10, 60.0)
    await store.close()  # a crash while sending: the claim is left behind

    again = database.store()
    await again.start()
    counts = await again.deferred_charge_counts()
    assert counts.by_state[SENDING] == 1 and counts.oldest_pending_at == charge.created_at
    assert await again.claim_due_deferred_charges(T0 + timedelta(seconds=59), 10, 60.0) == []
    [back] = await again.claim_due_deferred_charges(T0 + timedelta(seconds=60), 10, 60.0)
    assert (back.id, back.charge) == (charge_id, charge)


# -- migration 0008 -----------------------------------------------------------------------------


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_migration_0008_adds_and_drops_only_the_deferred_table(database: Database) -> None:
    await upgrade(database.url, schema=database.schema, revision="0007")
    before = await run_in(database, _tables)
    assert "deferred_charges" not in before
    store = database.store()
    await store.start()  # migrates to head
    assert await current_revision(database.url, schema=database.schema) == "0009"
    assert await run_in(database, _tables) == before | {"deferred_charges"}
    indexes = await run_in(
        database,
        lambda conn: {i["name"] for i in inspect(conn).get_indexes("deferred_charges")},
    )
    assert indexes == {
        "ix_deferred_charges_state_next_attempt_at",
        "ix_deferred_charges_state_created_at",
    }
    await store.add_deferred_charge(_charge())
    await store.close()

    await run_in(database, downgrade_to("0007"))
    assert await current_revision(database.url, schema=database.schema) == "0007"
    assert await run_in(database, _tables) == before
