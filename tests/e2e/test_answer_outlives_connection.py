"""An MO's RP answer outlives the connection the MO came on: when the S-CSCF closed it after
our 202, the answer goes to the address its Via names (RFC 3261 §18.2.2); what still cannot
be sent is logged and counted."""

from __future__ import annotations

import asyncio
import logging

import pytest

from smsc.sms.rp import RpAck, decode_rp
from tests.e2e.conftest import Starter, free_port, sip_port
from tests.e2e.peer import TcpPeer, Wire, message_request
from tests.e2e.test_mo_mt import MO_BODY, PSI, UE


async def mo_then_hang_up(port: int, listening: int) -> None:
    """Send an MO over a fresh connection naming `listening` in its Via; close after the 202."""
    peer = await TcpPeer.connect(port)
    request, _ = message_request(
        uri=PSI, sender=UE, body=MO_BODY, via=f"SIP/2.0/TCP 127.0.0.1:{listening}"
    )
    peer.send(request)
    assert (await peer.next()).status == 202
    await peer.close()


async def test_the_rp_ack_reaches_the_via_address_after_the_connection_closed(
    start_smsc: Starter,
) -> None:
    app = await start_smsc()
    arrived: asyncio.Queue[Wire] = asyncio.Queue()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        arrived.put_nowait(Wire.parse(head + await reader.readexactly(length)))
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    listening = server.sockets[0].getsockname()[1]
    try:
        await mo_then_hang_up(sip_port(app), listening)
        answer = await asyncio.wait_for(arrived.get(), 5)
        assert answer.start == f"MESSAGE {UE} SIP/2.0"
        assert isinstance(decode_rp(answer.body), RpAck)
    finally:
        server.close()


async def test_an_answer_that_cannot_be_sent_is_logged_and_counted(
    start_smsc: Starter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smsc.sip")
    app = await start_smsc()
    await mo_then_hang_up(sip_port(app), free_port())  # nobody listens there
    for _ in range(100):
        if app.metrics.mo_answers_lost._value.get():
            break
        await asyncio.sleep(0.05)
    assert app.metrics.mo_answers_lost._value.get() == 1
    assert any(
        "RP answer to an MO could not be delivered" in r.getMessage() for r in caplog.records
    )
