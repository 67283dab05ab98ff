"""The UDP receive queue's fill level, the overload signal of a CPU-bound process."""

from __future__ import annotations

import socket

from smsc.sip.constants import Transport
from smsc.sip.endpoint import SipEndpoint
from smsc.transport.sip import ListenAddress, SipTransport


async def test_datagrams_waiting_in_the_receive_queue_are_counted() -> None:
    endpoint = SipEndpoint(local_via_host="127.0.0.1", local_port=0)
    transport = SipTransport(endpoint, [ListenAddress.parse("udp:127.0.0.1:0")])
    await transport.start()
    try:
        assert transport.udp_backlog() == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for _ in range(50):  # the loop does not run meanwhile: they wait in the kernel
                sender.sendto(b"x" * 600, transport.bound[Transport.UDP])
        assert transport.udp_backlog() >= 50 * 600
    finally:
        await transport.stop()
