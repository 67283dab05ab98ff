"""Retry decisions from the RP cause, SIP status and validity, with a fake clock (pure), and
MtService applying them (parking races, head-of-line) on the memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsc.api.metrics import Metrics
from smsc.relay import MtRelay
from smsc.service.model import MessageOrigin, MessageState, NewMessage, StoredMessage
from smsc.service.mt import MtContext, MtService, Route
from smsc.service.retry import (
    PERMANENT_RP_CAUSES,
    PERMANENT_SIP_STATUSES,
    RetryDecision,
    RetryPolicy,
    Verdict,
)
from smsc.settings import DeliverySettings
from smsc.sip.constants import Address, Transport
from smsc.sip.locate import Target
from smsc.sip.message import SipRequest
from smsc.sms.address import Address as SmsAddress
from smsc.sms.address import encode_tp_address
from smsc.sms.constants import RpCause
from smsc.store import MemoryMessageStore

NOW = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
DAY = NOW + timedelta(days=1)


def policy(uniform: float = 0.5, jitter: float = 0.2) -> RetryPolicy:
    """30 s doubling to 1 h; `uniform` is the fake random draw (0.5 = no jitter)."""
    return RetryPolicy(
        timedelta(seconds=30), timedelta(hours=1), 2.0, jitter, uniform=lambda: uniform
    )


def test_defaults_follow_the_delivery_settings() -> None:
    d = DeliverySettings()
    assert (d.retry_initial_s, d.retry_max_s, d.retry_factor, d.jitter) == (30, 3600, 2, 0.2)
    built = RetryPolicy.of(d.retry_initial_s, d.retry_max_s, d.retry_factor, d.jitter)
    assert built == RetryPolicy()


def test_backoff_is_exponential_and_capped() -> None:
    p = policy()
    delays = [p.delay(n).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert p.delay(10_000) == timedelta(hours=1)  # no overflow on absurd counts


@pytest.mark.parametrize(("draw", "scale"), [(0.0, 0.8), (0.5, 1.0), (0.999999, 1.2)])
def test_jitter_stays_within_its_bounds(draw: float, scale: float) -> None:
    p = policy(draw)
    assert p.delay(1).total_seconds() == pytest.approx(30 * scale, abs=1e-3)
    assert p.delay(20).total_seconds() == pytest.approx(3600 * scale, abs=1e-2)


def test_real_jitter_draws_stay_within_bounds() -> None:
    p = RetryPolicy()
    seen = {p.delay(3).total_seconds() for _ in range(500)}
    assert all(96 <= s <= 144 for s in seen)
    assert len(seen) > 100  # it does spread


def test_no_jitter_when_configured_off() -> None:
    assert policy(0.0, jitter=0.0).delay(2) == timedelta(seconds=60)


@pytest.mark.parametrize(
    "cause",
    [
        RpCause.DESTINATION_OUT_OF_ORDER,
        RpCause.NETWORK_OUT_OF_ORDER,
        RpCause.TEMPORARY_FAILURE,
        RpCause.CONGESTION,
        RpCause.RESOURCES_UNAVAILABLE,
        RpCause.INVALID_SHORT_MESSAGE_TRANSFER_REFERENCE,
        RpCause.MESSAGE_NOT_COMPATIBLE_WITH_STATE,
        65,  # reserved / unknown: not a reason to give up
    ],
)
def test_temporary_rp_causes_back_off(cause: int) -> None:
    decision = policy().decide(2, NOW, DAY, rp_cause=cause)
    assert decision == RetryDecision(
        Verdict.RETRY, MessageState.QUEUED, NOW + timedelta(seconds=60)
    )


@pytest.mark.parametrize("status", [408, 480, 500, 503, 504, 486, 600])
def test_temporary_sip_failures_back_off(status: int) -> None:
    decision = policy().decide(1, NOW, DAY, sip_status=status)
    assert decision.verdict is Verdict.RETRY
    assert decision.retry_at == NOW + timedelta(seconds=30)


def test_missing_rp_answer_tr1m_backs_off() -> None:
    decision = policy().decide(3, NOW, DAY)
    assert decision == RetryDecision(
        Verdict.RETRY, MessageState.QUEUED, NOW + timedelta(seconds=120)
    )


@pytest.mark.parametrize("cause", sorted(PERMANENT_RP_CAUSES))
def test_permanent_rp_causes_fail_at_once(cause: int) -> None:
    assert policy().decide(1, NOW, DAY, rp_cause=cause) == RetryDecision(
        Verdict.FAIL, MessageState.FAILED
    )


def test_rp_causes_classed_as_in_ts_24_011_table_8_4() -> None:
    """TS 24.011 Table 8.4 / Annex E: 1/8/10/21/28/29/30/50/69/127 perm; 27/38/41/42/47 temp."""
    assert {1, 8, 10, 21, 28, 29, 30, 50, 69, 127} <= PERMANENT_RP_CAUSES
    assert not {22, 27, 38, 41, 42, 47, 81, 98} & PERMANENT_RP_CAUSES


@pytest.mark.parametrize("status", sorted(PERMANENT_SIP_STATUSES))
def test_permanent_sip_statuses_fail_at_once(status: int) -> None:
    assert policy().decide(1, NOW, DAY, sip_status=status).verdict is Verdict.FAIL


def test_permanent_failure_wins_over_expiry() -> None:
    decision = policy().decide(1, DAY, DAY, rp_cause=RpCause.UNKNOWN_SUBSCRIBER)
    assert decision.state is MessageState.FAILED


def test_memory_full_parks_until_the_validity_ends() -> None:
    decision = policy().decide(5, NOW, DAY, rp_cause=RpCause.MEMORY_CAPACITY_EXCEEDED)
    assert decision == RetryDecision(Verdict.PARK, MessageState.QUEUED, DAY)


def test_memory_full_on_an_expired_message_expires_it() -> None:
    decision = policy().decide(1, DAY, DAY, rp_cause=RpCause.MEMORY_CAPACITY_EXCEEDED)
    assert decision == RetryDecision(Verdict.EXPIRE, MessageState.EXPIRED)


def test_expiry_edges() -> None:
    p = policy()
    # the retry would land exactly on the expiry: nothing can be tried within the validity
    assert p.decide(1, NOW, NOW + timedelta(seconds=30)).verdict is Verdict.EXPIRE
    # one microsecond more and it is retried, just before the end
    later = NOW + timedelta(seconds=30, microseconds=1)
    assert p.decide(1, NOW, later) == RetryDecision(
        Verdict.RETRY, MessageState.QUEUED, NOW + timedelta(seconds=30)
    )
    # already expired
    assert p.decide(1, NOW, NOW).verdict is Verdict.EXPIRE
    # jitter decides at the edge: the shortest draw fits, the longest does not
    edge = NOW + timedelta(seconds=30)
    assert policy(0.0).decide(1, NOW, edge).verdict is Verdict.RETRY
    assert policy(0.999).decide(1, NOW, edge).verdict is Verdict.EXPIRE


def test_a_fake_clock_walks_a_message_to_expiry() -> None:
    p = policy()
    clock, expires = NOW, NOW + timedelta(minutes=10)
    retries: list[float] = []
    for attempt in range(1, 100):
        decision = p.decide(attempt, clock, expires, sip_status=480)
        if decision.verdict is Verdict.EXPIRE:
            break
        assert decision.retry_at is not None and decision.retry_at < expires
        retries.append((decision.retry_at - clock).total_seconds())
        clock = decision.retry_at
    assert retries == [30, 60, 120, 240]  # 450 s; the next (480 s) would pass the 600 s
    assert decision.state is MessageState.EXPIRED


def test_no_route_deferral_never_fails_and_stops_at_expiry() -> None:
    p = policy()
    assert p.defer(1, NOW, DAY) == RetryDecision(
        Verdict.RETRY, MessageState.QUEUED, NOW + timedelta(seconds=30)
    )
    soon = NOW + timedelta(seconds=10)
    assert p.defer(1, NOW, soon) == RetryDecision(Verdict.RETRY, MessageState.QUEUED, soon)
    assert p.defer(1, soon, soon).verdict is Verdict.EXPIRE


def test_after_failure_keeps_the_old_tuple_form() -> None:
    assert policy().after_failure(1, NOW, DAY, rp_cause=30) == (MessageState.FAILED, None)


# MtService applying the policy (memory store, a fake SIP sender, no sockets).


class FakeSender:
    """Records MT requests instead of sending them."""

    def __init__(self) -> None:
        self.sent: list[MtContext] = []

    def respond(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("MtService answers nothing")

    def request(
        self, request: SipRequest, destination: Address, transport: Transport, context: object
    ) -> None:
        assert isinstance(context, MtContext)
        self.sent.append(context)

    def message(
        self,
        uri: str,
        headers: object,
        body: bytes,
        destination: Address,
        transport: Transport,
        *,
        context: object,
    ) -> None:
        assert isinstance(context, MtContext)
        self.sent.append(context)


async def _service(routable: set[str]) -> tuple[MtService, MemoryMessageStore, FakeSender]:
    store = MemoryMessageStore()
    await store.start()
    sender = FakeSender()

    async def route(recipient: str) -> Route | None:
        return Route((Target("127.0.0.1", 5060, Transport.UDP),)) if recipient in routable else None

    service = MtService(
        store=store,
        sender=sender,
        psi="sip:smsc@example.net",
        sc_address="+491710760000",
        new_call_id=lambda: "call",
        new_tag=lambda: "tag",
        route=route,
        metrics=Metrics(),
        relay=MtRelay(40.0),
        clock=lambda: 0.0,
        batch=5,
    )
    return service, store, sender


def _new(recipient: str) -> NewMessage:
    now = datetime.now(UTC)
    tpdu = bytes.fromhex("0100") + encode_tp_address(SmsAddress(recipient)) + bytes(3)
    return NewMessage(
        f"s-{recipient}", MessageOrigin.API, "4915100000", 1, recipient, tpdu, now,
        now + timedelta(days=1),
    )  # fmt: skip


async def test_a_release_racing_a_park_is_not_lost() -> None:
    service, store, sender = await _service({"4917000001"})
    message_id = await store.add(_new("4917000001"))
    await service.deliver_due()
    transfer = service.relay._by_recipient["4917000001"]
    assert service.on_rp_answer("4917000001", transfer.rp_mr, RpCause.MEMORY_CAPACITY_EXCEEDED)
    # RP-SMMA comes in before the park is recorded: the head is still delivering
    assert await service.release("4917000001") == 0
    await service.drain()
    stored = await store.get(message_id)
    assert stored is not None and stored.state is MessageState.QUEUED
    assert stored.next_attempt_at is not None
    assert stored.next_attempt_at <= datetime.now(UTC)  # due, not parked until expiry
    await service.deliver_due()
    assert len(sender.sent) == 2


async def test_unroutable_heads_leave_the_batch_for_routable_ones() -> None:
    service, store, sender = await _service({"4917000099"})
    await store.add_many([_new(f"49170001{i:02d}") for i in range(12)])
    await store.add(_new("4917000099"))
    for _ in range(3):  # batches of 5: the 13th recipient is reached on the 3rd pass
        await service.deliver_due()
    assert [c.recipient for c in sender.sent] == ["4917000099"]
    assert await store.due_recipients(datetime.now(UTC), 100) == []
    assert service._tries(await _head(store, "4917000100")) == 1


async def _head(store: MemoryMessageStore, recipient: str) -> StoredMessage:
    claimed = await store.claim_next(recipient, datetime.now(UTC) + timedelta(days=2))
    assert claimed is not None and claimed.history[0].outcome == "no-route"
    return claimed


async def test_releases_are_remembered_for_a_minute_oldest_forgotten_first() -> None:
    service, _, _ = await _service(set())
    now = [0.0]
    service.clock = lambda: now[0]
    await service.release("491700000001")
    now[0] = 30.0
    await service.release("491700000002")
    now[0] = 50.0
    await service.release("+491700000001")  # again: now the newest
    now[0] = 85.0
    service._forget_old_releases(now[0])
    assert list(service._released_at) == ["491700000002", "491700000001"]
    now[0] = 100.0
    service._forget_old_releases(now[0])
    assert list(service._released_at) == ["491700000001"]
    service._forget_old_releases(111.0)
    assert service._released_at == {}
