"""SIP over TCP is bounded: idle connections are closed, a connection flood is refused past
the limits (in total and per source), and the HTTP API keeps answering meanwhile."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.e2e.conftest import Starter, http_base, sip_port
from tests.e2e.peer import TcpPeer, message_request
from tests.e2e.test_mo_mt import MO_BODY, PSI, UE


async def closed_by_peer(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), within) == b""
    except TimeoutError:
        return False


async def open_from(source: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def test_an_idle_connection_is_closed(start_smsc: Starter) -> None:
    app = await start_smsc(sip={"tcp_idle_s": 0.3})
    reader, writer = await open_from("127.0.0.1", sip_port(app))
    try:
        assert await closed_by_peer(reader, 3.0)
        assert app.transport is not None and app.transport.idle_closed >= 1
    finally:
        writer.close()


async def test_a_busy_connection_stays_open_and_is_served(start_smsc: Starter) -> None:
    app = await start_smsc(sip={"tcp_idle_s": 0.6})
    peer = await TcpPeer.connect(sip_port(app))
    try:
        for _ in range(4):  # 1.2 s of traffic, more than the idle time
            request, _ = message_request(
                uri=PSI, sender=UE, body=MO_BODY, via=f"SIP/2.0/TCP 127.0.0.1:{peer.port}"
            )
            peer.send(request)
            assert (await peer.next()).status == 202
            assert (await peer.next()).is_request  # the RP-ACK, on the same connection
            await asyncio.sleep(0.3)
    finally:
        await peer.close()


async def test_a_connection_flood_is_refused_and_the_api_still_answers(
    start_smsc: Starter,
) -> None:
    app = await start_smsc(sip={"tcp_max_connections": 6, "tcp_max_per_source": 3})
    port = sip_port(app)
    kept = [await open_from("127.0.0.1", port) for _ in range(3)]
    kept += [await open_from("127.0.0.2", port) for _ in range(3)]
    refused_source = await open_from("127.0.0.1", port)  # a 4th from one source
    refused_total = await open_from("127.0.0.3", port)  # a 7th in all
    try:
        assert await closed_by_peer(refused_source[0], 3.0)
        assert await closed_by_peer(refused_total[0], 3.0)
        for reader, _ in kept:
            assert not await closed_by_peer(reader, 0.05)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{http_base(app)}/healthz") as response,
        ):
            assert response.status == 200
        assert app.transport is not None and app.transport.refused_connections == 2
    finally:
        for _, writer in [*kept, refused_source, refused_total]:
            writer.close()
    await asyncio.sleep(0.1)  # the kept ones close: room again
    reader, writer = await open_from("127.0.0.1", port)
    try:
        assert not await closed_by_peer(reader, 0.2)
    finally:
        writer.close()
