"""A request the transport cannot send ends its client transaction at once (RFC 3261 §17.1.4,
TransportFailed, which the MT service takes as 503), never leaving it hanging."""

from __future__ import annotations

import asyncio

from smsc.sip.constants import Address, Transport
from smsc.sip.endpoint import SipEndpoint
from smsc.sip.events import Event, TransportFailed
from smsc.transport.sip import ListenAddress, SipTransport

HEADERS = [
    ("From", "<sip:smsc@example.net>;tag=1"),
    ("To", "<tel:+491710000001>"),
    ("Call-ID", "send-failure@example.net"),
    ("CSeq", "1 MESSAGE"),
    ("Content-Type", "application/vnd.3gpp.sms"),
]


async def _failure(destination: Address, transport: Transport) -> TransportFailed:
    failed: asyncio.Queue[Event] = asyncio.Queue()
    endpoint = SipEndpoint(local_via_host="127.0.0.1", local_port=0)
    sip = SipTransport(
        endpoint,
        [ListenAddress.parse("udp:127.0.0.1:0")],
        on_event=failed.put_nowait,
    )
    await sip.start()
    try:
        sip.message("tel:+491710000001", HEADERS, b"\x01\x00", destination, transport, context="mt")
        event = await asyncio.wait_for(failed.get(), 2.0)  # far sooner than Timer F
        assert sip._pending_connects == {}
    finally:
        await sip.stop()
    assert isinstance(event, TransportFailed)
    assert event.context == "mt"
    return event


async def test_udp_to_an_address_of_the_other_family_fails_at_once() -> None:
    event = await _failure(("::1", 5060), Transport.UDP)
    assert "address family" in event.reason


async def test_tcp_to_a_name_the_resolver_refuses_fails_at_once() -> None:
    event = await _failure(("a" * 64 + ".example", 5060), Transport.TCP)
    assert "TCP connect" in event.reason


async def test_tcp_refused_fails_at_once() -> None:
    await _failure(("127.0.0.1", 9), Transport.TCP)
