"""The transport serves the endpoint's timers in groups (TIMER_SLACK_S), and none is lost:
over a real UDP socket to a peer that never answers, every MESSAGE is sent again after T1
(RFC 3261 §17.1.2.2 Timer E), never sooner, and every one ends with Timer F."""

from __future__ import annotations

import asyncio
import contextlib
import time

from smsc.sip.constants import Transport
from smsc.sip.endpoint import SipEndpoint
from smsc.sip.events import Event, TransactionTimedOut
from smsc.transport.sip import ListenAddress, SipTransport

T1 = 0.02
MESSAGES = 25


def _headers(i: int) -> list[tuple[str, str]]:
    return [
        ("From", "<sip:smsc@example.net>;tag=1"),
        ("To", "<tel:+491710000001>"),
        ("Call-ID", f"timers-{i}@example.net"),
        ("CSeq", "1 MESSAGE"),
        ("Content-Type", "application/vnd.3gpp.sms"),
    ]


class _SilentPeer(asyncio.DatagramProtocol):
    """Reads every request, answers none; when each arrived, by its branch."""

    def __init__(self) -> None:
        self.arrivals: dict[bytes, list[float]] = {}

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        branch = data.split(b";branch=", 1)[1].split(b";", 1)[0]
        self.arrivals.setdefault(branch, []).append(asyncio.get_running_loop().time())


async def test_every_timer_of_many_transactions_fires_after_its_deadline() -> None:
    loop = asyncio.get_running_loop()
    listener, peer = await loop.create_datagram_endpoint(_SilentPeer, local_addr=("127.0.0.1", 0))
    events: asyncio.Queue[Event] = asyncio.Queue()
    endpoint = SipEndpoint(local_via_host="127.0.0.1", local_port=0, t1=T1, t2=4 * T1)
    sip = SipTransport(
        endpoint, [ListenAddress.parse("udp:127.0.0.1:0")], on_event=events.put_nowait
    )
    await sip.start()
    timed_out: set[object] = set()
    try:
        for i in range(MESSAGES):
            sip.message(
                "tel:+491710000001",
                _headers(i),
                b"\x01\x00",
                listener.get_extra_info("sockname"),
                Transport.UDP,
                context=i,
            )
            await asyncio.sleep(0.002)  # deadlines spread over a few slacks
        deadline = time.monotonic() + 64 * T1 + 5.0
        while len(timed_out) < MESSAGES and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                event = await asyncio.wait_for(events.get(), 0.5)
                if isinstance(event, TransactionTimedOut):
                    timed_out.add(event.context)
    finally:
        await sip.stop()
        listener.close()
    assert timed_out == set(range(MESSAGES))  # Timer F of each one
    assert len(peer.arrivals) == MESSAGES
    for times in peer.arrivals.values():
        assert len(times) >= 3  # the request and at least two Timer E retransmissions
        assert times[1] - times[0] >= T1 * 0.9  # never sooner than T1 (clock granularity)
