"""AML end to end: MO over SIP -> RP-ACK -> a real aiohttp PSAP receives the report."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from smsc.app import Application
from smsc.settings import AmlIntakeSettings, PsapRoute
from smsc.sms.rp import RpAck, decode_rp
from tests.e2e.conftest import Starter, free_port, sip_port
from tests.e2e.peer import message_request, udp_peer
from tests.e2e.test_mo_mt import PSI
from tests.vectors import load_vectors

AML_BODY = bytes.fromhex(next(v["hex"] for v in load_vectors() if v["id"] == "aml-v1-text-amllib"))
UE = "tel:+491710000005"


@dataclass
class Psap:
    """A PSAP HTTP endpoint that records what it is sent (and can fail on purpose)."""

    port: int = field(default_factory=free_port)
    received: list[tuple[str, bytes]] = field(default_factory=list)
    fail_first: int = 0
    runner: web.AppRunner | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503)
        self.received.append((request.content_type, await request.read()))
        self.arrived.set()
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.post("/aml", self.handle)])
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/aml"


@pytest.fixture
async def psap() -> AsyncIterator[Psap]:
    server = Psap()
    await server.start()
    yield server
    await server.stop()


def aml_settings(psap: Psap, fmt: str) -> dict[str, Any]:
    route = PsapRoute("test", ("112",), psap.url, fmt)
    return {"psaps": (route,), "retry_initial_ms": 50, "retry_max_ms": 200}


async def send_aml(app: Application) -> RpAck:
    peer = await udp_peer()
    try:
        request, _ = message_request(
            uri=PSI, sender=UE, body=AML_BODY, via=f"SIP/2.0/UDP 127.0.0.1:{peer.port}"
        )
        peer.send(request, ("127.0.0.1", sip_port(app)))
        assert (await peer.next()).status == 202
        answer = decode_rp((await peer.next_request()).body)
        assert isinstance(answer, RpAck)
        return answer
    finally:
        peer.close()


@pytest.mark.parametrize("fmt", ["json", "etsi-https", "pidf-lo"])
async def test_aml_reaches_the_psap_in_each_format(
    start_smsc: Starter, psap: Psap, fmt: str
) -> None:
    app = await start_smsc(aml=aml_settings(psap, fmt))
    await send_aml(app)
    await asyncio.wait_for(psap.arrived.wait(), 5)
    content_type, body = psap.received[0]
    if fmt == "json":
        document = json.loads(body)
        assert document["sender_msisdn"] in ("491710000005", "+491710000005")
        assert document["report"]["location"]["latitude"] == 48.82639
    elif fmt == "etsi-https":
        assert content_type == "application/x-www-form-urlencoded"
        form = dict(urllib.parse.parse_qsl(body.decode()))
        assert form["location_latitude"] == "48.82639"
        assert form["location_longitude"] == "-2.36619"
        assert form["device_imei"] == "353472104343540"
    else:
        root = ET.fromstring(body)
        assert root.tag.endswith("presence")
        assert b"48.82639 -2.36619" in body
    assert (await app.store.count_by_state())["queued"] == 0  # never an ordinary SMS


async def test_psap_down_for_a_while_loses_nothing(start_smsc: Starter) -> None:
    psap = Psap(fail_first=3)
    await psap.start()
    try:
        app = await start_smsc(aml=aml_settings(psap, "json"))
        await send_aml(app)
        await asyncio.wait_for(psap.arrived.wait(), 10)
        assert len(psap.received) == 1
        for _ in range(100):  # the 2xx is recorded just after the PSAP answered
            recent = await app.aml_store.recent(5)
            if recent[0].state == "delivered":
                break
            await asyncio.sleep(0.02)
        assert recent[0].state == "delivered"
        assert recent[0].attempts == 4
        assert [a.ok for a in recent[0].history] == [False, False, False, True]
    finally:
        await psap.stop()


async def test_psap_unreachable_across_a_restart(start_smsc: Starter, tmp_path: Any) -> None:
    psap = Psap()  # not started yet: connection refused
    first = await start_smsc(aml=aml_settings(psap, "json"))
    await send_aml(first)
    await asyncio.sleep(0.3)
    url = first.settings.storage.database_url
    await first.stop()
    await psap.start()
    try:
        second = Application(first.settings)
        assert second.settings.storage.database_url == url
        await second.start()
        try:
            await asyncio.wait_for(psap.arrived.wait(), 10)
            assert len(psap.received) == 1
        finally:
            await second.stop()
    finally:
        await psap.stop()


async def test_handset_https_intake_feeds_the_same_pipeline(
    start_smsc: Starter, psap: Psap
) -> None:
    intake = f"127.0.0.1:{free_port()}"
    settings = aml_settings(psap, "etsi-https")
    settings["intake"] = AmlIntakeSettings(listen=intake)
    app = await start_smsc(aml=settings)
    form = urllib.parse.urlencode(
        {
            "v": "3",
            "device_number": "+491710000007",
            "location_latitude": "52.52001",
            "location_longitude": "13.40495",
            "location_time": "1764150000000",
            "location_accuracy": "12",
            "location_source": "GPS",
            "emergency_number": "112",
            "device_imei": "353472104343540",
        }
    ).encode()
    async with aiohttp.ClientSession() as http:
        base = f"http://{app.settings.http.listen}"
        on_api = await http.post(
            f"{base}/aml", data=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert on_api.status == 404  # not on the operator API any more
        created = await http.post(
            f"http://{intake}/aml",
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert created.status == 201
        report_id = (await created.json())["id"]
        wrong = await http.post(
            f"http://{intake}/aml", data=b"{}", headers={"Content-Type": "text/json"}
        )
        assert wrong.status == 415
        noise = await http.post(
            f"http://{intake}/aml",
            data=b"v=1&" + b"x" * 16000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert noise.status == 400
        await asyncio.wait_for(psap.arrived.wait(), 5)
        delivered = dict(urllib.parse.parse_qsl(psap.received[0][1].decode()))
        assert delivered["location_latitude"] == "52.52001"
        assert delivered["device_imei"] == "353472104343540"
        listed = await http.get(f"{base}/api/v1/aml/{report_id}")
        assert listed.status == 200
        assert "491710000007" in await listed.text()


async def test_plain_text_to_an_emergency_number_goes_to_the_psap(
    start_smsc: Starter, psap: Psap
) -> None:
    from tests.e2e.test_mo_mt import submit_to

    app = await start_smsc(aml=aml_settings(psap, "json"))
    peer = await udp_peer()
    try:
        request, _ = message_request(
            uri=PSI, sender=UE, body=submit_to("112"), via=f"SIP/2.0/UDP 127.0.0.1:{peer.port}"
        )
        peer.send(request, ("127.0.0.1", sip_port(app)))
        assert (await peer.next()).status == 202
        assert isinstance(decode_rp((await peer.next_request()).body), RpAck)
    finally:
        peer.close()
    await asyncio.wait_for(psap.arrived.wait(), 5)
    document = json.loads(psap.received[0][1])
    assert document["raw_text"] == "Test"
    assert document["report"]["is_aml"] is False
    assert (await app.store.count_by_state())["queued"] == 0
