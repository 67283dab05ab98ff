"""The deferred-charging replayer (issue 14): every kept CCR is sent again, unchanged, until an
OCS answers or it is too old; each final state adds a charging record."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from charging.ccr import SmsChargingEvent
from charging.client import ChargeOutcome, ChargeResult, Unreachable
from charging.errors import ChargingError
from charging.results import DeliverFree, Proceed, Reject
from smsc import redact
from smsc.api.metrics import Metrics
from smsc.service.deferred_charging import (
    LEASE_S,
    MAX_BACKOFF_S,
    DeferredChargeReplayer,
    backoff_s,
    lease_s_for,
)
from smsc.service.model import DeferredCharge, DeferredChargeCounts, DeferredChargeState
from smsc.service.ports import DeferredChargeStore, MessageStore
from smsc.sms.constants import RpCause
from smsc.store import MemoryMessageStore, SqlMessageStore

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
SENDER = "491710000123"
CCR = bytes.fromhex("010000b0d000011000000004aabbccdd11223344") + b"\x00\x01\xfe\xff" * 8

PENDING = DeferredChargeState.PENDING
SENDING = DeferredChargeState.SENDING
CHARGED = DeferredChargeState.CHARGED
REJECTED = DeferredChargeState.REJECTED
FAILED = DeferredChargeState.FAILED


class Clock:
    """A settable wall clock."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


Answer = ChargeOutcome | ChargingError


class FakeCharger:
    """A Charger at the edge: answers `charge_again` from a script, keeps what it was sent."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.sent: list[bytes] = []

    async def charge(self, event: SmsChargingEvent) -> ChargeResult:
        raise AssertionError("the replayer only sends kept CCRs")

    async def charge_again(self, ccr: bytes) -> ChargeResult:
        self.sent.append(ccr)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, ChargingError):
            raise answer
        answered = not isinstance(answer, Unreachable)
        code = {Proceed: 2001, DeliverFree: 4012, Reject: 4012}.get(type(answer))
        if isinstance(answer, Unreachable) and answer.reason.startswith("result "):
            code = int(answer.reason.removeprefix("result "))
        return ChargeResult(
            outcome=answer,
            session_id="smsc.ims.example.net;1;7",
            result_code=code,
            granted_units=1 if isinstance(answer, Proceed) else None,
            peer="ocs2.example.net" if answered else None,
            retransmitted=True,
            latency_s=0.0125,
            ccr=ccr if isinstance(answer, Unreachable) else None,
        )


PROCEED = Proceed()
NO_PEER = Unreachable("continue", "no peer")
REJECT = Reject(RpCause.OPERATOR_DETERMINED_BARRING, permanent=True)


def _charge(n: int = 1, created_at: datetime = T0) -> DeferredCharge:
    return DeferredCharge(
        submission_id=f"{SENDER}-call-{n}",
        session_id=f"smsc.ims.example.net;1;{n}",
        originator=SENDER,
        ccr=CCR + bytes([n]),
        created_at=created_at,
    )


@pytest.fixture(autouse=True)
def masked() -> None:
    redact.show_subscriber_data(False)


@pytest.fixture
async def store() -> AsyncIterator[MemoryMessageStore]:
    memory = MemoryMessageStore()
    await memory.start()
    yield memory
    await memory.close()


def _replayer(
    store: DeferredChargeStore,
    charger: FakeCharger,
    clock: Clock,
    metrics: Metrics | None = None,
    *,
    interval_s: float = 30.0,
    batch: int = 100,
    max_age_s: float = 72 * 3600.0,
) -> DeferredChargeReplayer:
    return DeferredChargeReplayer(
        store,
        charger,
        metrics or Metrics(),
        interval_s=interval_s,
        batch=batch,
        max_age_s=max_age_s,
        clock=clock,
    )


async def _state(store: MemoryMessageStore, charge_id: int) -> DeferredChargeState:
    return store._deferred[charge_id].state


def _sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


# -- outcomes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [PROCEED, DeliverFree()])
async def test_an_answered_ccr_is_charged_with_a_record(
    store: MemoryMessageStore, answer: ChargeOutcome
) -> None:
    clock, metrics = Clock(), Metrics()
    charge = _charge()
    charge_id = await store.add_deferred_charge(charge)
    charger = FakeCharger(answer)
    clock.advance(90)
    assert await _replayer(store, charger, clock, metrics).replay_round() == 1
    assert charger.sent == [charge.ccr]  # the kept bytes, unchanged
    assert await _state(store, charge_id) is CHARGED
    [record] = await store.charging_records(charge.submission_id)
    assert record.outcome == "deferred-charged"
    assert record.at == clock.now
    assert record.session_id == charge.session_id and record.originator == SENDER
    assert record.result_code == (2001 if isinstance(answer, Proceed) else 4012)
    assert record.peer == "ocs2.example.net"
    assert record.latency_ms == pytest.approx(12.5)
    assert _sample(metrics, "smsc_charging_deferred_replayed_total", outcome="charged") == 1
    assert _sample(metrics, "smsc_charging_deferred", state="charged") == 1
    assert _sample(metrics, "smsc_charging_deferred", state="pending") == 0


async def test_a_refused_ccr_is_rejected_with_a_warning(
    store: MemoryMessageStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smsc.charging")
    clock, metrics = Clock(), Metrics()
    charge = _charge()
    charge_id = await store.add_deferred_charge(charge)
    clock.advance(600)
    await _replayer(store, FakeCharger(REJECT), clock, metrics).replay_round()
    assert await _state(store, charge_id) is REJECTED
    [record] = await store.charging_records(charge.submission_id)
    assert (record.outcome, record.result_code) == ("deferred-rejected", 4012)
    assert _sample(metrics, "smsc_charging_deferred_replayed_total", outcome="rejected") == 1
    [warning] = caplog.records
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert "refused" in message and "+*********123" in message and "10 min" in message
    assert SENDER not in message


async def test_no_answer_backs_off_then_charges(store: MemoryMessageStore) -> None:
    clock, metrics = Clock(), Metrics()
    charge = _charge()
    charge_id = await store.add_deferred_charge(charge)
    charger = FakeCharger(NO_PEER, Unreachable("continue", "result 3002"), PROCEED)
    replayer = _replayer(store, charger, clock, metrics, interval_s=30.0)

    await replayer.replay_round()  # first replay: no peer
    first = store._deferred[charge_id]
    assert (first.state, first.attempts, first.last_reason) == (PENDING, 1, "no peer")
    assert first.next_attempt_at == T0 + timedelta(seconds=30)
    assert await store.charging_records(charge.submission_id) == []

    clock.advance(29)
    assert await replayer.replay_round() == 0  # not due yet
    clock.advance(1)
    assert await replayer.replay_round() == 1  # second replay: 3002
    second = store._deferred[charge_id]
    assert (second.attempts, second.last_result_code) == (2, 3002)
    assert second.next_attempt_at == clock.now + timedelta(seconds=60)  # doubled

    clock.advance(60)
    assert await replayer.replay_round() == 1
    assert store._deferred[charge_id].state is CHARGED
    assert store._deferred[charge_id].attempts == 3
    assert charger.sent == [charge.ccr] * 3
    assert [r.outcome for r in await store.charging_records(charge.submission_id)] == [
        "deferred-charged"
    ]
    assert _sample(metrics, "smsc_charging_deferred_replayed_total", outcome="retry") == 2


async def test_a_charging_error_is_retried_like_no_answer(store: MemoryMessageStore) -> None:
    clock = Clock()
    charge_id = await store.add_deferred_charge(_charge())
    charger = FakeCharger(ChargingError("the client is not started"))
    await _replayer(store, charger, clock).replay_round()
    kept = store._deferred[charge_id]
    assert (kept.state, kept.attempts) == (PENDING, 1)
    assert kept.last_reason == "charging error: the client is not started"


def test_a_lease_outlasts_its_batch() -> None:
    assert lease_s_for(100, 2.0) == LEASE_S
    assert lease_s_for(100, 60.0) == 2 * 60.0 * 7 + 60.0  # 100 CCRs, 16 at a time


def test_the_backoff_doubles_per_replay_up_to_an_hour() -> None:
    assert [backoff_s(30.0, n) for n in range(1, 9)] == [
        30.0,
        60.0,
        120.0,
        240.0,
        480.0,
        960.0,
        1920.0,
        3600.0,
    ]
    assert backoff_s(30.0, 10_000) == MAX_BACKOFF_S


async def test_past_the_maximum_age_a_ccr_fails_with_an_error(
    store: MemoryMessageStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smsc.charging")
    clock, metrics = Clock(), Metrics()
    charge = _charge()
    charge_id = await store.add_deferred_charge(charge)
    replayer = _replayer(store, FakeCharger(NO_PEER), clock, metrics, max_age_s=3 * 3600.0)
    for _ in range(20):
        await replayer.replay_round()
        pending = store._deferred[charge_id]
        if pending.state is not PENDING:
            break
        assert pending.next_attempt_at is not None
        assert pending.next_attempt_at <= T0 + timedelta(hours=3)  # never past the deadline
        clock.now = pending.next_attempt_at
    failed = store._deferred[charge_id]
    assert failed.state is FAILED and failed.done_at == T0 + timedelta(hours=3)
    assert failed.attempts == 10  # 30 s .. 3600 s, then the deadline
    [record] = await store.charging_records(charge.submission_id)
    assert (record.outcome, record.result_code, record.peer) == ("deferred-failed", None, None)
    [error] = caplog.records
    assert error.levelno == logging.ERROR
    assert "gave up" in error.getMessage() and "3.0 h" in error.getMessage()
    assert SENDER not in error.getMessage()
    assert _sample(metrics, "smsc_charging_deferred_replayed_total", outcome="failed") == 1
    assert _sample(metrics, "smsc_charging_deferred", state="failed") == 1


async def test_a_ccr_found_past_its_age_is_tried_once_more(store: MemoryMessageStore) -> None:
    """Down for longer than the maximum age: one last try before giving up."""
    clock = Clock()
    charge_id = await store.add_deferred_charge(_charge())
    clock.advance(4 * 3600)
    charger = FakeCharger(PROCEED)
    await _replayer(store, charger, clock, max_age_s=3 * 3600.0).replay_round()
    assert len(charger.sent) == 1 and store._deferred[charge_id].state is CHARGED


async def test_full_batches_are_drained_in_one_round(store: MemoryMessageStore) -> None:
    clock = Clock()
    for n in range(1, 8):
        await store.add_deferred_charge(_charge(n))
    charger = FakeCharger(PROCEED)
    assert await _replayer(store, charger, clock, batch=3).replay_round() == 7
    counts = await store.deferred_charge_counts()
    assert counts.by_state[CHARGED] == 7
    assert sorted(charger.sent) == sorted(_charge(n).ccr for n in range(1, 8))


# -- durability ---------------------------------------------------------------------------------


async def test_pending_ccrs_survive_a_restart_on_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/smsc.db"
    clock = Clock()
    charge = _charge()
    before = SqlMessageStore(url)
    await before.start()
    try:
        charge_id = await before.add_deferred_charge(charge)
        await _replayer(before, FakeCharger(NO_PEER), clock).replay_round()
    finally:
        await before.close()

    after = SqlMessageStore(url)
    await after.start()
    try:
        counts = await after.deferred_charge_counts()
        assert counts.by_state[PENDING] == 1 and counts.oldest_pending_at == T0
        charger = FakeCharger(PROCEED)
        clock.advance(30)
        assert await _replayer(after, charger, clock).replay_round() == 1
        assert charger.sent == [charge.ccr]
        assert (await after.deferred_charge_counts()).by_state[CHARGED] == 1
        [record] = await after.charging_records(charge.submission_id)
        assert record.outcome == "deferred-charged"
        assert charge_id == 1
    finally:
        await after.close()


# -- the loop -----------------------------------------------------------------------------------


class BrokenStore:
    """Claims fail until `healed`; counts work."""

    def __init__(self, inner: MessageStore) -> None:
        self.inner = inner
        self.healed = asyncio.Event()
        self.claims = 0

    async def add_deferred_charge(self, charge: DeferredCharge) -> int:
        return await self.inner.add_deferred_charge(charge)

    async def claim_due_deferred_charges(self, now: datetime, limit: int, lease_s: float) -> list:  # type: ignore[type-arg]
        self.claims += 1
        if not self.healed.is_set():
            raise OSError("database on fire")
        return await self.inner.claim_due_deferred_charges(now, limit, lease_s)

    async def make_deferred_charges_due(self, now: datetime) -> int:
        return await self.inner.make_deferred_charges_due(now)

    async def record_deferred_outcome(self, charge_id: int, **kwargs: object) -> bool:
        return await self.inner.record_deferred_outcome(charge_id, **kwargs)  # type: ignore[arg-type]

    async def deferred_charge_counts(self) -> DeferredChargeCounts:
        return await self.inner.deferred_charge_counts()


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)


async def test_a_failing_store_is_logged_and_the_loop_goes_on(
    store: MemoryMessageStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="smsc.charging")
    metrics = Metrics()
    charge_id = await store.add_deferred_charge(_charge())
    broken = BrokenStore(store)
    replayer = _replayer(broken, FakeCharger(PROCEED), Clock(), metrics, interval_s=3600.0)
    replayer.start()
    try:
        replayer.wake()
        await _until(lambda: broken.claims == 1)
        await _until(lambda: bool(caplog.records))
        assert caplog.records[0].getMessage() == (
            "deferred charging: a replay round failed; tried again in 3600 s"
        )
        assert _sample(metrics, "smsc_internal_errors_total", entry="charging-replay") == 1
        broken.healed.set()
        replayer.wake()  # an OCS peer opened
        await _until(lambda: store._deferred[charge_id].state is CHARGED)
    finally:
        await replayer.stop()


async def test_wake_from_another_thread_runs_a_round(store: MemoryMessageStore) -> None:
    replayer = _replayer(store, FakeCharger(PROCEED), Clock(), interval_s=3600.0)
    charge_id = await store.add_deferred_charge(_charge())
    replayer.start()
    try:
        await asyncio.sleep(0.02)
        assert store._deferred[charge_id].state is PENDING  # the first round waits
        thread = threading.Thread(target=replayer.wake)
        thread.start()
        thread.join()
        await _until(lambda: store._deferred[charge_id].state is CHARGED)
    finally:
        await replayer.stop()


async def test_stop_waits_for_the_round_in_progress(store: MemoryMessageStore) -> None:
    release = asyncio.Event()

    class SlowCharger(FakeCharger):
        async def charge_again(self, ccr: bytes) -> ChargeResult:
            await release.wait()
            return await super().charge_again(ccr)

    charge_id = await store.add_deferred_charge(_charge())
    replayer = _replayer(store, SlowCharger(PROCEED), Clock(), interval_s=3600.0)
    replayer.start()
    replayer.wake()
    await _until(lambda: store._deferred[charge_id].state is SENDING)
    stopping = asyncio.create_task(replayer.stop())
    await asyncio.sleep(0.01)
    assert not stopping.done()
    release.set()
    await stopping
    assert store._deferred[charge_id].state is CHARGED


async def test_an_unexpected_failure_of_one_ccr_spares_the_others(
    store: MemoryMessageStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="smsc.charging")
    metrics = Metrics()

    class PickyCharger(FakeCharger):
        async def charge_again(self, ccr: bytes) -> ChargeResult:
            if ccr == _charge(1).ccr:
                raise RuntimeError("bug")
            return await super().charge_again(ccr)

    first = await store.add_deferred_charge(_charge(1))
    second = await store.add_deferred_charge(_charge(2))
    replayer = _replayer(store, PickyCharger(PROCEED), Clock(), metrics)
    assert await replayer.replay_round() == 2
    assert store._deferred[first].state is SENDING  # back when its lease ends
    assert store._deferred[second].state is CHARGED
    [error] = caplog.records
    assert error.getMessage() == (
        "deferred charging: replaying CCR 1 failed; tried again when its claim's lease ends"
    )
    assert _sample(metrics, "smsc_internal_errors_total", entry="charging-replay") == 1


# -- an OCS peer opened: every back-off ends -----------------------------------------------------


async def _backed_off(store: MemoryMessageStore, clock: Clock, n: int = 1) -> int:
    """A CCR whose first replay had no answer, next due an hour later (interval 3600 s)."""
    charge_id = await store.add_deferred_charge(_charge(n))
    await _replayer(store, FakeCharger(NO_PEER), clock, interval_s=3600.0).replay_round()
    assert store._deferred[charge_id].next_attempt_at == clock.now + timedelta(hours=1)
    return charge_id


async def test_a_wake_resends_a_ccr_in_back_off_at_once(store: MemoryMessageStore) -> None:
    clock = Clock()
    charge_id = await _backed_off(store, clock)
    clock.advance(60)
    charger = FakeCharger(PROCEED)
    replayer = _replayer(store, charger, clock, interval_s=3600.0)
    assert await replayer.replay_round() == 0  # a plain round keeps the back-off
    assert store._deferred[charge_id].next_attempt_at == T0 + timedelta(hours=1)
    replayer.start()
    try:
        replayer.wake()  # an OCS peer opened
        await _until(lambda: store._deferred[charge_id].state is CHARGED, timeout_s=2.0)
    finally:
        await replayer.stop()
    assert charger.sent == [_charge().ccr]
    assert store._deferred[charge_id].attempts == 2


async def test_a_wake_from_another_thread_ends_the_back_off(store: MemoryMessageStore) -> None:
    clock = Clock()
    charge_id = await _backed_off(store, clock)
    replayer = _replayer(store, FakeCharger(PROCEED), clock, interval_s=3600.0)
    replayer.start()
    try:
        await asyncio.sleep(0.02)
        thread = threading.Thread(target=replayer.wake)
        thread.start()
        thread.join()
        await _until(lambda: store._deferred[charge_id].state is CHARGED, timeout_s=2.0)
    finally:
        await replayer.stop()


async def test_a_wake_ends_the_back_offs_of_the_next_round_only(
    store: MemoryMessageStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Woken before its loop runs, the next round makes every back-off end, once: a CCR still
    without answer backs off again, longer, and plain rounds keep that back-off."""
    caplog.set_level(logging.INFO, logger="smsc.charging")
    clock = Clock()
    charge_id = await _backed_off(store, clock)
    charger = FakeCharger(NO_PEER)
    replayer = _replayer(store, charger, clock, interval_s=3600.0)
    replayer.wake()
    clock.advance(1)
    assert await replayer.replay_round() == 1
    again = store._deferred[charge_id]
    assert (again.state, again.attempts) == (PENDING, 2)
    assert again.next_attempt_at == clock.now + timedelta(hours=1)  # the back-off, capped
    assert await replayer.replay_round() == 0
    assert len(charger.sent) == 1
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "deferred charging: an OCS peer opened: 1 CCR waiting out a back-off due now"
    ]


async def test_a_wake_resends_every_ccr_in_back_off_in_batches(
    store: MemoryMessageStore,
) -> None:
    clock = Clock()
    ids = [await _backed_off(store, clock, n) for n in range(1, 8)]
    taken = await store.add_deferred_charge(_charge(8))  # another sender holds it
    await store.claim_due_deferred_charges(clock.now, 1, 600.0)
    settled = await store.add_deferred_charge(_charge(9))
    await store.claim_due_deferred_charges(clock.now, 1, 600.0)
    await store.record_deferred_outcome(settled, at=clock.now, state=CHARGED)
    charger = FakeCharger(PROCEED)
    replayer = _replayer(store, charger, clock, batch=3)
    replayer.wake()
    assert await replayer.replay_round() == 7  # 3 + 3 + 1
    assert all(store._deferred[i].state is CHARGED for i in ids)
    assert sorted(charger.sent) == sorted(_charge(n).ccr for n in range(1, 8))
    assert store._deferred[taken].state is SENDING  # its lease still live: left to its sender


class UnwokenStore(BrokenStore):
    """Claims work; making CCRs due fails until `healed`."""

    def __init__(self, inner: MessageStore) -> None:
        super().__init__(inner)
        self.healed.set()
        self.woken = asyncio.Event()

    async def make_deferred_charges_due(self, now: datetime) -> int:
        if not self.woken.is_set():
            raise OSError("database on fire")
        return await self.inner.make_deferred_charges_due(now)


async def test_ending_the_back_offs_is_tried_again_after_a_store_failure(
    store: MemoryMessageStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="smsc.charging")
    clock, metrics = Clock(), Metrics()
    charge_id = await _backed_off(store, clock)
    failing = UnwokenStore(store)
    charger = FakeCharger(PROCEED)
    replayer = _replayer(failing, charger, clock, metrics, interval_s=3600.0)
    replayer.wake()
    assert await replayer.replay_round() == 0
    [error] = caplog.records
    assert error.getMessage() == "deferred charging: a replay round failed; tried again in 3600 s"
    assert _sample(metrics, "smsc_internal_errors_total", entry="charging-replay") == 1
    failing.woken.set()
    assert await replayer.replay_round() == 1  # no second wake needed
    assert store._deferred[charge_id].state is CHARGED
