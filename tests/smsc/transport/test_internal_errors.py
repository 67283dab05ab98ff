"""The SIP entry point's top-level handler: an unexpected failure on a request is counted,
logged, and the request is answered 500 instead of silence."""

from __future__ import annotations

import asyncio
import socket

import pytest

from smsc.sip.constants import Transport
from smsc.sip.endpoint import SipEndpoint
from smsc.sip.events import Event
from smsc.transport.sip import ListenAddress, SipTransport

REQUEST = (
    "OPTIONS sip:smsc@ims.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKie\r\n"
    "From: <sip:a@b>;tag=1\r\nTo: <sip:smsc@ims.example>\r\nCall-ID: ie@x\r\nCSeq: 1 OPTIONS\r\n"
    "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)


async def test_a_failing_handler_answers_500_and_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counted: list[int] = []

    def broken(event: Event) -> None:
        raise RuntimeError("a bug")

    endpoint = SipEndpoint(local_via_host="127.0.0.1", local_port=0)
    transport = SipTransport(
        endpoint,
        [ListenAddress.parse("udp:127.0.0.1:0")],
        on_event=broken,
        on_internal_error=lambda: counted.append(1),
    )
    await transport.start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.setblocking(False)
    try:
        port = client.getsockname()[1]
        client.sendto(REQUEST.format(port=port).encode(), transport.bound[Transport.UDP])
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(client, 65535), 5)
        assert data.startswith(b"SIP/2.0 500 ")
        assert counted == [1] and transport.internal_errors == 1
        assert any("SIP event handler failed" in r.getMessage() for r in caplog.records)
    finally:
        client.close()
        await transport.stop()
