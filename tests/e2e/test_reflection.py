"""Responses go where RFC 3261 §18.2.2 and RFC 3581 say, and only there: a Via maddr never
steers an answer to an untrusted source's target, an untrusted source gets at most a 403 no
larger than its request (or nothing), and a maddr that is not an address is no traceback."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.e2e.conftest import Starter, sip_port
from tests.e2e.peer import UdpPeer, message_request, udp_peer
from tests.e2e.test_mo_mt import MO_BODY, PSI, UE

UNTRUSTING = {"trusted_peers": ("10.99.0.0/16",)}  # 127.0.0.1 is not trusted


async def bystander() -> UdpPeer:
    """A socket on 127.0.0.3 that an attacker would like us to flood."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(UdpPeer, local_addr=("127.0.0.3", 0))
    return protocol


async def silent(peer: UdpPeer, within: float = 0.5) -> bool:
    try:
        await peer.next(within)
    except TimeoutError:
        return True
    return False


async def test_an_untrusted_request_with_maddr_gets_a_small_403_at_its_source_only(
    start_smsc: Starter,
) -> None:
    app = await start_smsc(sip=UNTRUSTING)
    peer, target = await udp_peer(), await bystander()
    try:
        via = f"SIP/2.0/UDP 127.0.0.1:{peer.port};maddr=127.0.0.3"
        request, _ = message_request(uri=PSI, sender=UE, body=MO_BODY, via=via)
        peer.send(request, ("127.0.0.1", sip_port(app)))
        answer = await peer.next()
        assert answer.status == 403
        assert len(answer.raw) <= len(request)
        assert await silent(target)
        assert await silent(peer)  # no RP answer, nothing stored
        assert sum((await app.store.count_by_state()).values()) == 0
    finally:
        peer.close()
        target.close()


async def test_a_403_larger_than_the_request_is_not_sent(start_smsc: Starter) -> None:
    app = await start_smsc(sip=UNTRUSTING)
    peer = await udp_peer()
    try:
        tiny = (
            f"OPTIONS {PSI} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bKx\r\n"
            f"From: <{UE}>;tag=a\r\nTo: <{PSI}>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"
        ).encode()
        peer.send(tiny, ("127.0.0.1", sip_port(app)))
        assert await silent(peer)
        assert app.transport is not None
        assert app.transport.endpoint.counters.untrusted == 1
        assert app.transport.endpoint.counters.untrusted_answered == 0
    finally:
        peer.close()


async def test_untrusted_sources_can_get_silence(start_smsc: Starter) -> None:
    app = await start_smsc(sip={**UNTRUSTING, "untrusted_response": "none"})
    peer = await udp_peer()
    try:
        via = f"SIP/2.0/UDP 127.0.0.1:{peer.port}"
        request, _ = message_request(uri=PSI, sender=UE, body=MO_BODY, via=via)
        peer.send(request, ("127.0.0.1", sip_port(app)))
        peer.send(b"MESSAGE garbage\r\n\r\n", ("127.0.0.1", sip_port(app)))
        assert await silent(peer)
    finally:
        peer.close()


@pytest.mark.parametrize("maddr", ["localhost", "::1", "not an address"])
async def test_a_maddr_that_is_no_usable_address_is_ignored_without_a_traceback(
    start_smsc: Starter, caplog: pytest.LogCaptureFixture, maddr: str
) -> None:
    caplog.set_level(logging.WARNING)
    app = await start_smsc()
    peer = await udp_peer()
    try:
        via = f"SIP/2.0/UDP 127.0.0.1:{peer.port};rport;maddr={maddr.replace(' ', '')}"
        request, _ = message_request(uri=PSI, sender=UE, body=MO_BODY, via=via)
        peer.send(request, ("127.0.0.1", sip_port(app)))
        if maddr != "::1":  # an IPv6 maddr is honoured, and unreachable from an IPv4 socket
            assert (await peer.next()).status == 202  # at the source
        assert (await peer.next_request()).method == "MESSAGE"  # the RP answer follows
    finally:
        peer.close()
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_trusted_source_may_still_name_a_maddr_address(start_smsc: Starter) -> None:
    app = await start_smsc()
    peer, target = await udp_peer(), await bystander()
    try:
        via = f"SIP/2.0/UDP 127.0.0.1:{target.port};maddr=127.0.0.3"
        request, _ = message_request(uri=PSI, sender=UE, body=MO_BODY, via=via)
        peer.send(request, ("127.0.0.1", sip_port(app)))
        assert (await target.next()).status == 202
    finally:
        peer.close()
        target.close()
