"""NextHops on a fake resolver: IP literals without lookups, RFC 3263 §4.3 failover order,
SRV targets that do not resolve, typed failures."""

from __future__ import annotations

import random

import pytest

from smsc.service.next_hops import NextHops
from smsc.sip.constants import Transport
from smsc.sip.locate import NextHopUnresolved, SrvRecord, Target, Unresolved

UDP = Transport.UDP
S1 = Target("10.0.0.1", 5060, UDP)
S2 = Target("10.0.0.2", 5070, UDP)
S3 = Target("10.0.0.3", 5080, UDP)


class FakeResolver:
    def __init__(self) -> None:
        self.srv_records: dict[str, tuple[SrvRecord, ...] | Unresolved] = {
            "_sip._udp.pool.example.net": (
                SrvRecord(10, 0, 5060, "s1.example.net"),
                SrvRecord(20, 0, 5070, "s2.example.net"),
                SrvRecord(30, 0, 5080, "s3.example.net"),
            ),
            "_sip._udp.slow.example.net": Unresolved.TIMEOUT,
            "_sip._udp.broken.example.net": (SrvRecord(10, 0, 5060, "gone.example.net"),),
        }
        self.hosts: dict[str, tuple[str, ...]] = {
            "s1.example.net": ("10.0.0.1",),
            "s2.example.net": ("10.0.0.2",),
            "s3.example.net": ("10.0.0.3",),
            "plain.example.net": ("10.0.0.9", "2001:db8::9"),
        }
        self.asked: list[str] = []

    async def srv(self, name: str) -> tuple[SrvRecord, ...]:
        self.asked.append(name)
        found = self.srv_records.get(name, Unresolved.NXDOMAIN)
        if isinstance(found, Unresolved):
            raise NextHopUnresolved(name, found)
        return found

    async def addresses(self, name: str) -> tuple[str, ...]:
        self.asked.append(name)
        if name not in self.hosts:
            raise NextHopUnresolved(name, Unresolved.NXDOMAIN)
        return self.hosts[name]


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hops(resolver: FakeResolver, clock: Clock) -> NextHops:
    return NextHops(resolver, failover_s=30, clock=clock, rng=random.Random(3))


async def test_an_ip_literal_is_not_looked_up(hops: NextHops, resolver: FakeResolver) -> None:
    first = await hops.targets("sip:10.0.0.7:5070;transport=tcp")
    assert first == (Target("10.0.0.7", 5070, Transport.TCP),)
    assert await hops.targets("sip:10.0.0.7:5070;transport=tcp") is first  # from the cache
    assert resolver.asked == []


async def test_srv_targets_in_order(hops: NextHops) -> None:
    assert await hops.targets("sip:pool.example.net") == (S1, S2, S3)


async def test_a_failed_target_goes_last_for_the_failover_time(
    hops: NextHops, clock: Clock
) -> None:
    hops.failed(S1, clock.now)
    clock.now += 1
    hops.failed(S2, clock.now)
    assert await hops.targets("sip:pool.example.net") == (S3, S1, S2)  # longest failed first
    clock.now += 29.5
    assert await hops.targets("sip:pool.example.net") == (S1, S3, S2)
    clock.now += 1
    assert await hops.targets("sip:pool.example.net") == (S1, S2, S3)


async def test_a_failed_ip_literal_is_still_tried(hops: NextHops, clock: Clock) -> None:
    target = Target("10.0.0.7", 5060, UDP)
    hops.failed(target, clock.now)
    assert await hops.targets("sip:10.0.0.7") == (target,)


async def test_an_address_lookup_keeps_every_address(hops: NextHops) -> None:
    assert await hops.targets("sip:plain.example.net:5090") == (
        Target("10.0.0.9", 5090, UDP),
        Target("2001:db8::9", 5090, UDP),
    )


async def test_an_srv_target_that_does_not_resolve_is_named(hops: NextHops) -> None:
    with pytest.raises(NextHopUnresolved) as caught:
        await hops.targets("sip:broken.example.net")
    assert str(caught.value) == "NXDOMAIN gone.example.net"


async def test_an_srv_timeout_is_not_taken_for_no_records(
    hops: NextHops, resolver: FakeResolver
) -> None:
    with pytest.raises(NextHopUnresolved) as caught:
        await hops.targets("sip:slow.example.net")
    assert (caught.value.reason, caught.value.name) == (Unresolved.TIMEOUT, "slow.example.net")
    assert resolver.asked == ["_sip._udp.slow.example.net"]  # no A fallback


@pytest.mark.parametrize("uri", ["tel:+4917100001", "sip:", "sip:host;transport=sctp"])
async def test_unusable_uris(hops: NextHops, uri: str) -> None:
    with pytest.raises(NextHopUnresolved) as caught:
        await hops.targets(uri)
    assert caught.value.reason is Unresolved.UNUSABLE_URI
