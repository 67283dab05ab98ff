"""Next hops by name end to end (RFC 3263 §4): `sip.next_hop` without a port is looked up by
SRV on a real DNS server on loopback (dnslib); MT reaches the first-priority S-CSCF, fails over
to the second on 503 or silence, waits queued with a typed cause when the name does not
resolve; a port means A records only; localhost is the loopback address."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from smsc.app import Application
from tests.dns_server import Zone, dns_server
from tests.e2e.conftest import Starter
from tests.e2e.peer import UdpPeer, response_to, udp_peer
from tests.e2e.test_delivery import next_mt, rp_answer, status, submit_api, wait_state

SERVICE = "_sip._udp.scscf.example.net"


@pytest.fixture
async def first() -> AsyncIterator[UdpPeer]:
    peer = await udp_peer()
    yield peer
    peer.close()


@pytest.fixture
async def second() -> AsyncIterator[UdpPeer]:
    peer = await udp_peer()
    yield peer
    peer.close()


@pytest.fixture
def zone(first: UdpPeer, second: UdpPeer) -> Zone:
    """The S-CSCF pool: `first` at priority 10, `second` at 20, both on 127.0.0.1."""
    zone = Zone(negative_ttl=60)
    zone.srv(SERVICE, 20, 0, second.port, "s2.example.net")
    zone.srv(SERVICE, 10, 0, first.port, "s1.example.net")
    zone.a("s1.example.net", "127.0.0.1")
    zone.a("s2.example.net", "127.0.0.1")
    return zone


@pytest.fixture
def dns(zone: Zone) -> Iterator[str]:
    with dns_server(zone) as address:
        yield address


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def start(start_smsc: Starter, next_hop: str, dns: str, t1_ms: int = 100) -> Application:
    sip = {"next_hop": next_hop, "dns_servers": (dns,), "t1_ms": t1_ms}
    app: Application = await start_smsc(sip=sip)
    return app


async def test_mt_reaches_the_first_priority_target(
    start_smsc: Starter, dns: str, first: UdpPeer, second: UdpPeer, http: aiohttp.ClientSession
) -> None:
    app = await start(start_smsc, "sip:scscf.example.net", dns)
    ue = "491710000101"
    message = await submit_api(http, app, ue)
    data = await next_mt(first)
    await rp_answer(first, app, ue, data.message_reference)
    await wait_state(http, app, message, "delivered")
    with pytest.raises(TimeoutError):
        await second.next_request(timeout=0.3)


async def test_a_503_sends_the_same_sms_to_the_second_target(
    start_smsc: Starter, dns: str, first: UdpPeer, second: UdpPeer, http: aiohttp.ClientSession
) -> None:
    app = await start(start_smsc, "sip:scscf.example.net", dns)
    ue = "491710000102"
    message = await submit_api(http, app, ue)
    refused = await first.next_request()
    first.send(response_to(refused, 503, "Service Unavailable"), refused.source)
    taken = await second.next_request()
    second.send(response_to(taken), taken.source)
    assert taken.body == refused.body  # the same RP-DATA, the same RP-MR
    assert taken.get("call-id") != refused.get("call-id")
    await rp_answer(second, app, ue, taken.body[1])
    done = await wait_state(http, app, message, "delivered")
    assert [h["outcome"] for h in done["segments"][0]["history"]] == ["delivered"]
    # the first target failed lately: the next message tries the second one first
    other = await submit_api(http, app, "491710000103")
    data = await next_mt(second)
    await rp_answer(second, app, "491710000103", data.message_reference)
    await wait_state(http, app, other, "delivered")


async def test_a_silent_first_target_times_out_to_the_second(
    start_smsc: Starter, dns: str, first: UdpPeer, second: UdpPeer, http: aiohttp.ClientSession
) -> None:
    first.close()  # nothing listens there any more
    app = await start(start_smsc, "sip:scscf.example.net", dns, t1_ms=20)  # Timer F 1.28 s
    ue = "491710000104"
    message = await submit_api(http, app, ue)
    started = time.monotonic()
    data = await next_mt(second, timeout=5)
    assert 1.0 < time.monotonic() - started < 4.0
    await rp_answer(second, app, ue, data.message_reference)
    await wait_state(http, app, message, "delivered")


async def test_a_next_hop_that_does_not_resolve_leaves_the_message_queued_with_its_cause(
    start_smsc: Starter, dns: str, http: aiohttp.ClientSession
) -> None:
    app = await start(start_smsc, "sip:nowhere.example.net", dns)
    message = await submit_api(http, app, "491710000105")
    deadline = time.monotonic() + 5
    while True:  # claimed (delivering) while its next hop is looked up, then put back
        current = await status(http, app, message)
        history = current["segments"][0]["history"]
        if history or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert current["state"] == "queued"
    assert history[-1]["outcome"] == "dns: NXDOMAIN nowhere.example.net"
    assert current["segments"][0]["next_attempt_at"] is not None
    for _ in range(10):  # never left delivering
        await asyncio.sleep(0.05)
        assert (await status(http, app, message))["state"] == "queued"
    assert await app.why_unroutable("491710000105") == (
        "the next hop does not resolve: NXDOMAIN nowhere.example.net"
    )


async def test_a_port_means_a_records_only(
    start_smsc: Starter, dns: str, zone: Zone, second: UdpPeer, http: aiohttp.ClientSession
) -> None:
    app = await start(start_smsc, f"sip:s2.example.net:{second.port}", dns)
    ue = "491710000106"
    message = await submit_api(http, app, ue)
    data = await next_mt(second)
    await rp_answer(second, app, ue, data.message_reference)
    await wait_state(http, app, message, "delivered")
    assert zone.count("s2.example.net", "A") == 1
    assert not [key for key in zone.queries if key[1] == "SRV"]


async def test_localhost_with_a_port_delivers(
    start_smsc: Starter, dns: str, first: UdpPeer, http: aiohttp.ClientSession
) -> None:
    app = await start(start_smsc, f"sip:localhost:{first.port}", dns)
    ue = "491710000107"
    message = await submit_api(http, app, ue)
    data = await next_mt(first)
    await rp_answer(first, app, ue, data.message_reference)
    await wait_state(http, app, message, "delivered")
