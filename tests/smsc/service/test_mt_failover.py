"""MtService over several RFC 3263 targets (memory store, a fake sender): 503, timeouts and
transport failures move the same RP-DATA to the next target; a name that does not resolve
puts the message back to queued with its cause."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from smsc.api.metrics import Metrics
from smsc.relay import MtRelay
from smsc.service.model import MessageOrigin, MessageState, NewMessage
from smsc.service.mt import MtContext, MtService, Route
from smsc.service.next_hops import NextHops
from smsc.sip.constants import Address, Transport
from smsc.sip.locate import NextHopUnresolved, SrvRecord, Target, Unresolved
from smsc.sms.address import Address as SmsAddress
from smsc.sms.address import encode_tp_address
from smsc.store import MemoryMessageStore

UDP = Transport.UDP
TARGETS = (Target("10.0.0.1", 5060, UDP), Target("10.0.0.2", 5060, UDP))
UE = "4917000001"


@dataclass
class Sent:
    destination: Address
    call_id: str
    body: bytes
    context: MtContext


class FakeSender:
    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def respond(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("MtService answers nothing")

    def request(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("MtService sends MESSAGEs")

    def message(
        self,
        uri: str,
        headers: list[tuple[str, str]],
        body: bytes,
        destination: Address,
        transport: Transport,
        *,
        context: object,
    ) -> None:
        assert isinstance(context, MtContext)
        call_id = dict(headers)["Call-ID"]
        self.sent.append(Sent(destination, call_id, body, context))


class NoDns:
    async def srv(self, name: str) -> tuple[SrvRecord, ...]:
        raise NextHopUnresolved(name, Unresolved.NXDOMAIN)

    async def addresses(self, name: str) -> tuple[str, ...]:
        raise NextHopUnresolved(name, Unresolved.NXDOMAIN)


async def _service(
    route: Route | NextHopUnresolved,
) -> tuple[MtService, MemoryMessageStore, FakeSender, NextHops]:
    store = MemoryMessageStore()
    await store.start()
    sender = FakeSender()
    calls = iter(range(1, 1000))
    hops = NextHops(NoDns(), failover_s=30, clock=lambda: 0.0, rng=random.Random(1))

    async def route_of(recipient: str) -> Route | None:
        if isinstance(route, NextHopUnresolved):
            raise NextHopUnresolved(route.name, route.reason)
        return route

    service = MtService(
        store=store,
        sender=sender,
        psi="sip:smsc@example.net",
        sc_address="+491710760000",
        new_call_id=lambda: f"call-{next(calls)}",
        new_tag=lambda: "tag",
        route=route_of,
        metrics=Metrics(),
        relay=MtRelay(40.0),
        clock=lambda: 0.0,
        next_hops=hops,
    )
    return service, store, sender, hops


def _new(recipient: str) -> NewMessage:
    now = datetime.now(UTC)
    tpdu = bytes.fromhex("0100") + encode_tp_address(SmsAddress(recipient)) + bytes(3)
    return NewMessage(
        f"s-{recipient}", MessageOrigin.API, "4915100000", 1, recipient, tpdu, now,
        now + timedelta(days=1),
    )  # fmt: skip


async def test_503_sends_the_same_rp_data_to_the_next_target() -> None:
    service, store, sender, hops = await _service(Route(TARGETS, "sip:pool.example.net"))
    message_id = await store.add(_new(UE))
    await service.deliver_due()
    first = sender.sent[0]
    assert first.destination == ("10.0.0.1", 5060) and first.context.hop == 0
    service.on_sip_final(first.context, 503)
    second = sender.sent[1]
    assert second.destination == ("10.0.0.2", 5060) and second.context.hop == 1
    assert second.body == first.body  # the same RP-MR
    assert second.call_id != first.call_id
    assert service.relay.busy(UE)  # the same transfer, TR1M running
    assert await hops.targets("sip:10.0.0.1") == (TARGETS[0],)  # tried last (alone anyway)
    assert TARGETS[0] in hops._down
    service.on_sip_final(first.context, 503)  # a stale final of the first target: ignored
    assert len(sender.sent) == 2 and service.relay.busy(UE)
    rp_mr = first.body[1]
    assert service.on_rp_answer(UE, rp_mr, None)
    await service.drain()
    stored = await store.get(message_id)
    assert stored is not None and stored.state is MessageState.DELIVERED


async def test_a_timeout_on_the_last_target_ends_the_transfer() -> None:
    service, store, sender, _ = await _service(Route(TARGETS))
    message_id = await store.add(_new(UE))
    await service.deliver_due()
    service.on_sip_final(sender.sent[0].context, 408)
    service.on_sip_final(sender.sent[1].context, 408)
    assert len(sender.sent) == 2 and not service.relay.busy(UE)
    await service.drain()
    stored = await store.get(message_id)
    assert stored is not None and stored.state is MessageState.QUEUED
    assert stored.history[-1].outcome == "sip-failure" and stored.history[-1].sip_status == 408


async def test_other_failures_do_not_fail_over() -> None:
    service, store, sender, _ = await _service(Route(TARGETS))
    await store.add(_new(UE))
    await service.deliver_due()
    service.on_sip_final(sender.sent[0].context, 480)
    assert len(sender.sent) == 1 and not service.relay.busy(UE)
    await service.drain()


async def test_a_name_that_does_not_resolve_queues_the_message_with_its_cause() -> None:
    unresolved = NextHopUnresolved("scscf.example.net", Unresolved.NXDOMAIN)
    service, store, sender, _ = await _service(unresolved)
    message_id = await store.add(_new(UE))
    await service.deliver_due()
    assert sender.sent == []
    stored = await store.get(message_id)
    assert stored is not None and stored.state is MessageState.QUEUED
    assert stored.history[-1].outcome == "dns: NXDOMAIN scscf.example.net"
    assert stored.next_attempt_at is not None and stored.next_attempt_at > datetime.now(UTC)
    assert service._tries(stored) == 1  # a claim put back unsent is no transfer
    text = service.metrics.exposition().decode()
    assert 'smsc_mt_retries_total{reason="dns"} 1.0' in text
