"""The DNS adapter against a real name server on loopback (dnslib): RFC 3263 SRV order, A only
with a port, the TTL and negative caches, one query for concurrent lookups, typed failures."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator

import pytest

from smsc.service.next_hops import NextHops
from smsc.sip.constants import Transport
from smsc.sip.locate import NextHopUnresolved, SrvRecord, Target, Unresolved
from smsc.transport.dns import DnsResolver
from tests.dns_server import Zone, dns_server, silent_server

SERVICE = "_sip._udp.scscf.example.net"
UDP = Transport.UDP


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def zone() -> Zone:
    zone = Zone(negative_ttl=60)
    zone.srv(SERVICE, 20, 0, 5072, "s2.example.net", ttl=30)
    zone.srv(SERVICE, 10, 0, 5071, "s1.example.net", ttl=30)
    zone.a("s1.example.net", "127.0.0.1", ttl=30)
    zone.a("s2.example.net", "127.0.0.2", ttl=30)
    zone.a("a-only.example.net", "127.0.0.3", ttl=30)
    zone.srv("_sip._udp.gone.example.net", 0, 0, 0, ".")
    return zone


@pytest.fixture
def server(zone: Zone) -> Iterator[str]:
    with dns_server(zone) as address:
        yield address


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def resolver(server: str, clock: Clock) -> DnsResolver:
    return DnsResolver([server], clock=clock)


def hops(resolver: DnsResolver, clock: Clock) -> NextHops:
    return NextHops(resolver, failover_s=30, clock=clock, rng=random.Random(1))


async def test_srv_gives_the_targets_in_priority_order(
    resolver: DnsResolver, clock: Clock, zone: Zone
) -> None:
    assert await resolver.srv(SERVICE) == (
        SrvRecord(20, 0, 5072, "s2.example.net"),
        SrvRecord(10, 0, 5071, "s1.example.net"),
    )
    targets = await hops(resolver, clock).targets("sip:scscf.example.net")
    assert targets == (Target("127.0.0.1", 5071, UDP), Target("127.0.0.2", 5072, UDP))
    assert zone.count(SERVICE, "SRV") == 1


async def test_with_a_port_only_a_and_aaaa_are_asked(
    resolver: DnsResolver, clock: Clock, zone: Zone
) -> None:
    targets = await hops(resolver, clock).targets("sip:a-only.example.net:5080;transport=tcp")
    assert targets == (Target("127.0.0.3", 5080, Transport.TCP),)
    assert zone.count("_sip._tcp.a-only.example.net", "SRV") == 0
    assert zone.count("a-only.example.net", "A") == 1


async def test_without_srv_records_a_on_the_default_port(
    resolver: DnsResolver, clock: Clock, zone: Zone
) -> None:
    targets = await hops(resolver, clock).targets("sip:a-only.example.net")
    assert targets == (Target("127.0.0.3", 5060, UDP),)
    assert zone.count("_sip._udp.a-only.example.net", "SRV") == 1


async def test_answers_are_cached_for_their_ttl(
    resolver: DnsResolver, clock: Clock, zone: Zone
) -> None:
    assert await resolver.addresses("s1.example.net") == ("127.0.0.1",)
    sent = resolver.queries
    coroutine = resolver.addresses("s1.example.net")
    with pytest.raises(StopIteration) as done:  # answered without awaiting anything
        coroutine.send(None)
    assert done.value.value == ("127.0.0.1",)
    assert resolver.queries == sent and zone.count("s1.example.net", "A") == 1
    clock.now += 29
    await resolver.addresses("s1.example.net")
    assert zone.count("s1.example.net", "A") == 1
    clock.now += 2  # past the TTL of 30 s
    await resolver.addresses("s1.example.net")
    assert zone.count("s1.example.net", "A") == 2


async def test_nxdomain_is_a_typed_error_cached_briefly(
    resolver: DnsResolver, clock: Clock, zone: Zone
) -> None:
    for _ in range(3):
        with pytest.raises(NextHopUnresolved) as caught:
            await resolver.addresses("nowhere.example.net")
        assert caught.value.reason is Unresolved.NXDOMAIN
        assert str(caught.value) == "NXDOMAIN nowhere.example.net"
    assert zone.count("nowhere.example.net", "A") == 1
    clock.now += 5.1  # at most 5 s, though the SOA would allow 60
    with pytest.raises(NextHopUnresolved):
        await resolver.addresses("nowhere.example.net")
    assert zone.count("nowhere.example.net", "A") == 2


async def test_a_name_that_does_not_resolve_at_all_names_the_host(
    resolver: DnsResolver, clock: Clock
) -> None:
    with pytest.raises(NextHopUnresolved) as caught:
        await hops(resolver, clock).targets("sip:nowhere.example.net")
    assert str(caught.value) == "NXDOMAIN nowhere.example.net"


async def test_no_answer_is_typed(resolver: DnsResolver) -> None:
    with pytest.raises(NextHopUnresolved) as caught:
        await resolver.srv("s1.example.net")  # the name exists, without SRV records
    assert caught.value.reason is Unresolved.NO_ANSWER


async def test_a_dot_target_means_not_available(resolver: DnsResolver, clock: Clock) -> None:
    with pytest.raises(NextHopUnresolved) as caught:
        await hops(resolver, clock).targets("sip:gone.example.net")
    assert caught.value.reason is Unresolved.NOT_AVAILABLE


async def test_concurrent_lookups_share_one_query(resolver: DnsResolver, zone: Zone) -> None:
    answers = await asyncio.gather(*(resolver.addresses("s2.example.net") for _ in range(20)))
    assert set(answers) == {("127.0.0.2",)}
    assert zone.count("s2.example.net", "A") == 1


async def test_a_silent_server_times_out() -> None:
    with silent_server() as address:
        resolver = DnsResolver([address], timeout=0.3)
        started = time.monotonic()
        with pytest.raises(NextHopUnresolved) as caught:
            await resolver.srv(SERVICE)
        assert caught.value.reason is Unresolved.TIMEOUT
        assert time.monotonic() - started < 2.0
        started = time.monotonic()
        with pytest.raises(NextHopUnresolved):  # remembered: no second wait
            await resolver.srv(SERVICE)
        assert time.monotonic() - started < 0.1


async def test_an_expired_answer_is_served_while_the_servers_fail(zone: Zone) -> None:
    clock = Clock()
    with dns_server(zone) as address:
        resolver = DnsResolver([address], timeout=0.5, clock=clock)
        assert await resolver.addresses("s1.example.net") == ("127.0.0.1",)
    clock.now += 60  # expired, and the server is gone
    assert await resolver.addresses("s1.example.net") == ("127.0.0.1",)
    with pytest.raises(NextHopUnresolved):  # never known: nothing to serve
        await resolver.addresses("s2.example.net")
