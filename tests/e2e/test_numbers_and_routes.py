"""Numbers and routes end to end over real sockets: national numbers reach (and are charged
as) the E.164 number, short codes reach their application over HTTP, which replies through the
API; the outbox survives an application outage and a kill -9; delivery reports reach callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from diameter.message import Message
from diameter.message.commands.credit_control import CreditControlRequest

from smsc.app import Application
from smsc.settings import ApplicationRoute
from smsc.sms.address import Address
from smsc.sms.constants import Alphabet, NumberingPlan, RpMessageType, TypeOfNumber
from smsc.sms.rp import RpAck, RpData, RpError, decode_rp, encode_rp
from smsc.sms.tp import SmsDeliver, SmsSubmit, decode_tpdu, encode_tpdu
from smsc.sms.udh import UserDataHeader, concatenation_ie
from smsc.sms.user_data import make_user_data
from tests.charging.ocs import TestOcs
from tests.e2e.conftest import Starter, free_port, http_base, sip_port
from tests.e2e.peer import UdpPeer, Wire, message_request, response_to, udp_peer
from tests.e2e.test_charging import _wait_connected, charging
from tests.e2e.test_crash_safety import serve

PSI = "sip:smsc@ims.mnc001.mcc001.3gppnetwork.org"
UE = "tel:+491710000001"


def submit(
    digits: str,
    ton: TypeOfNumber = TypeOfNumber.INTERNATIONAL,
    *,
    text: str = "Test",
    rp_mr: int = 7,
    header: UserDataHeader | None = None,
) -> bytes:
    """RP-DATA MS->N carrying an SMS-SUBMIT to `digits` with the given type of number."""
    npi = NumberingPlan.ISDN_TELEPHONE if ton != TypeOfNumber.UNKNOWN else NumberingPlan.UNKNOWN
    user_data = make_user_data(text, Alphabet.GSM7, header=header)
    tpdu = SmsSubmit(rp_mr, Address(digits, ton, npi), 0, 0, user_data)
    return encode_rp(
        RpData(
            RpMessageType.RP_DATA_MS_TO_N,
            rp_mr,
            None,
            Address("491710760000"),
            encode_tpdu(tpdu),
        )
    )


def send_mo(peer: UdpPeer, port: int, body: bytes, sender: str = UE) -> str:
    request, call_id = message_request(
        uri=PSI, sender=sender, body=body, via=f"SIP/2.0/UDP 127.0.0.1:{peer.port}"
    )
    peer.send(request, ("127.0.0.1", port))
    return call_id


async def rp_answer(peer: UdpPeer, call_id: str, seen: list[Wire] | None = None) -> Any:
    """The RP answer to the MO with `call_id` (its MESSAGE is answered 200); other requests
    land in `seen`."""
    while True:
        wire = await peer.next(timeout=10)
        if not wire.is_request:
            continue
        peer.send(response_to(wire), wire.source)
        if wire.get("In-Reply-To") == call_id:
            return decode_rp(wire.body)
        if seen is not None:
            seen.append(wire)


async def next_mt(peer: UdpPeer, seen: list[Wire]) -> Wire:
    """The next MT MESSAGE (an RP-DATA N->MS), answered 200."""
    for wire in list(seen):
        seen.remove(wire)
        if isinstance(decode_rp(wire.body), RpData):
            return wire
    while True:
        wire = await peer.next(timeout=10)
        if not wire.is_request:
            continue
        peer.send(response_to(wire), wire.source)
        if isinstance(decode_rp(wire.body), RpData):
            return wire


def ack_mt(peer: UdpPeer, port: int, mt: Wire, recipient: str) -> None:
    """The recipient UE's RP-ACK to an MT RP-DATA."""
    rp = decode_rp(mt.body)
    assert isinstance(rp, RpData)
    body = encode_rp(RpAck(RpMessageType.RP_ACK_MS_TO_N, rp.message_reference))
    send_mo(peer, port, body, sender=recipient)


@dataclass
class Receiver:
    """An application (or callback) server: records every POST, answers `status`."""

    status: int = 200
    posts: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    answered_ok: list[Any] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posts.append((dict(request.headers), body))
        if 200 <= self.status < 300:
            self.answered_ok.append(body)
        self.arrived.set()
        return web.json_response({}, status=self.status)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/in"

    async def wait(self, count: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.answered_ok) < count:
            assert time.monotonic() < deadline, f"{len(self.answered_ok)} of {count} arrived"
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), deadline - time.monotonic())


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    app = web.Application()
    app.router.add_post("/in", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    server.port = free_port()
    await web.TCPSite(runner, "127.0.0.1", server.port).start()
    yield server
    await runner.cleanup()


def weather(url: str, numbers: tuple[str, ...] = ("4444",)) -> dict[str, Any]:
    return {"applications": (ApplicationRoute(name="weather", numbers=numbers, url=url),)}


FAST_OUTBOX = {"retry_initial_ms": 50, "retry_max_ms": 200}


@pytest.mark.parametrize(
    ("digits", "ton"),
    [("1711234567", TypeOfNumber.NATIONAL), ("01711234567", TypeOfNumber.UNKNOWN)],
)
async def test_a_national_number_reaches_and_is_charged_as_the_e164_number(
    start_smsc: Starter, digits: str, ton: TypeOfNumber
) -> None:
    ocs = TestOcs().start()
    scscf = await udp_peer()
    try:
        app = await start_smsc(
            sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"}, charging=charging(ocs)
        )
        await _wait_connected(app)
        seen: list[Wire] = []
        call_id = send_mo(scscf, sip_port(app), submit(digits, ton))
        assert isinstance(await rp_answer(scscf, call_id, seen), RpAck)
        mt = await next_mt(scscf, seen)
        assert mt.start.startswith("MESSAGE tel:+491711234567 ")
        rp = decode_rp(mt.body)
        assert isinstance(rp, RpData)
        deliver = decode_tpdu(rp.user_data, rp.message_type)
        assert isinstance(deliver, SmsDeliver) and deliver.user_data.text == "Test"
        (received,) = ocs.received
        ccr = Message.from_bytes(received.wire)  # python-diameter's own decoder
        assert isinstance(ccr, CreditControlRequest)
        ims = ccr.service_information.ims_information
        assert ims.called_party_address == "tel:+491711234567"
        sms = ccr.service_information.sms_information
        (recipient,) = sms.recipient_info[0].recipient_address
        assert (recipient.address_type, recipient.address_data) == (1, "491711234567")
    finally:
        scscf.close()
        ocs.stop()


async def test_an_unknown_short_code_is_refused_with_rp_cause_1(start_smsc: Starter) -> None:
    scscf = await udp_peer()
    try:
        app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"})
        call_id = send_mo(scscf, sip_port(app), submit("5555", TypeOfNumber.UNKNOWN))
        answer = await rp_answer(scscf, call_id)
        assert isinstance(answer, RpError) and answer.cause == 1
    finally:
        scscf.close()


async def test_an_alphanumeric_destination_is_refused(start_smsc: Starter) -> None:
    scscf = await udp_peer()
    try:
        app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"})
        body = submit("Weather", TypeOfNumber.ALPHANUMERIC)
        call_id = send_mo(scscf, sip_port(app), body)
        answer = await rp_answer(scscf, call_id)
        assert isinstance(answer, RpError) and answer.cause == 1
    finally:
        scscf.close()


async def test_a_short_code_reaches_its_application_which_replies_through_the_api(
    start_smsc: Starter, receiver: Receiver
) -> None:
    scscf = await udp_peer()
    try:
        app = await start_smsc(
            sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"},
            routing=weather(receiver.url),
            outbox=FAST_OUTBOX,
        )
        port = sip_port(app)
        call_id = send_mo(scscf, port, submit("4444", TypeOfNumber.UNKNOWN, text="WEATHER"))
        assert isinstance(await rp_answer(scscf, call_id), RpAck)
        await receiver.wait(1)
        headers, posted = receiver.posts[0]
        assert posted["from"] == "+491710000001"
        assert posted["to"] == "4444"
        assert posted["text"] == "WEATHER"
        assert posted["application"] == "weather"
        assert headers["Idempotency-Key"] == posted["id"]
        assert posted["dcs"] == 0 and posted["concatenation"] is None
        assert posted["received_at"]
        # the application answers the sender through the API
        async with aiohttp.ClientSession() as http:
            reply = {"to": posted["from"], "from": "4444", "text": "Sunny, 21 C"}
            response = await http.post(f"{http_base(app)}/api/v1/messages", json=reply)
            assert response.status == 201, await response.text()
        seen: list[Wire] = []
        mt = await next_mt(scscf, seen)
        assert mt.start.startswith("MESSAGE tel:+491710000001 ")
        rp = decode_rp(mt.body)
        assert isinstance(rp, RpData)
        deliver = decode_tpdu(rp.user_data, rp.message_type)
        assert isinstance(deliver, SmsDeliver)
        assert deliver.user_data.text == "Sunny, 21 C"
        assert (deliver.originator.value, deliver.originator.ton) == ("4444", TypeOfNumber.UNKNOWN)
        # the outbox records the application's 2xx after the POST returns, which may be after
        # the reply went round: wait for it (seen failing in CI on a busy machine)
        recorded = (
            'smsc_outbox_jobs{kind="application",state="delivered"} 1.0',
            'smsc_outbox_delivered_total{kind="application",target="weather"} 1.0',
        )
        deadline = time.monotonic() + 10
        async with aiohttp.ClientSession() as http:
            while True:
                metrics = await (await http.get(f"{http_base(app)}/metrics")).text()
                if all(line in metrics for line in recorded) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
        assert 'smsc_mo_to_application_total{application="weather"} 1.0' in metrics
        for line in recorded:
            assert line in metrics
    finally:
        scscf.close()


async def test_a_concatenated_mo_reaches_the_application_as_one_message(
    start_smsc: Starter, receiver: Receiver
) -> None:
    scscf = await udp_peer()
    try:
        app = await start_smsc(routing=weather(receiver.url, ("+4915112345",)), outbox=FAST_OUTBOX)
        port = sip_port(app)
        parts = ["Hello ", "application"]
        for sequence in (2, 1):  # out of order
            header = UserDataHeader((concatenation_ie(9, 2, sequence),))
            body = submit(
                "015112345", TypeOfNumber.UNKNOWN, text=parts[sequence - 1], rp_mr=sequence,
                header=header,
            )  # fmt: skip
            call_id = send_mo(scscf, port, body)
            assert isinstance(await rp_answer(scscf, call_id), RpAck)
        await receiver.wait(1)
        await asyncio.sleep(0.3)
        assert len(receiver.posts) == 1
        _, posted = receiver.posts[0]
        assert posted["to"] == "+4915112345"
        assert posted["text"] == "Hello application"
        assert posted["concatenation"] == {
            "reference": 9,
            "total": 2,
            "received": 2,
            "complete": True,
        }
        assert [part["sequence"] for part in posted["parts"]] == [1, 2]
    finally:
        scscf.close()


async def test_the_same_mo_resent_reaches_the_application_once(
    start_smsc: Starter, receiver: Receiver
) -> None:
    scscf = await udp_peer()
    try:
        app = await start_smsc(routing=weather(receiver.url), outbox=FAST_OUTBOX)
        body = submit("4444", TypeOfNumber.UNKNOWN, text="STOP")
        for _ in range(2):  # the UE did not see the first RP-ACK
            call_id = send_mo(scscf, sip_port(app), body)
            assert isinstance(await rp_answer(scscf, call_id), RpAck)
        await receiver.wait(1)
        await asyncio.sleep(0.5)
        assert len(receiver.posts) == 1
    finally:
        scscf.close()


def _stop(process: Any) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)


async def test_application_down_and_a_kill_9_in_between_delivers_exactly_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.status = 503
    sip, http = free_port(), free_port()
    scscf = await udp_peer()
    settings = {
        "SMSC__ROUTING__APPLICATIONS": json.dumps(
            [{"name": "weather", "numbers": ["4444"], "url": receiver.url}]
        ),
        "SMSC__OUTBOX__RETRY_INITIAL_MS": "100",
        "SMSC__OUTBOX__RETRY_MAX_MS": "300",
    }
    process = await asyncio.to_thread(serve, tmp_path, sip, http, scscf.port, settings)
    try:
        call_id = send_mo(scscf, sip, submit("4444", TypeOfNumber.UNKNOWN, text="RAIN?"))
        assert isinstance(await rp_answer(scscf, call_id), RpAck)
        deadline = time.monotonic() + 10
        while len(receiver.posts) < 2:  # refused at least twice: it is being retried
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        receiver.status = 200
        process = await asyncio.to_thread(serve, tmp_path, sip, http, scscf.port, settings)
        await receiver.wait(1)
        await asyncio.sleep(1.0)  # no second delivery follows
        assert len(receiver.answered_ok) == 1
        keys = {headers["Idempotency-Key"] for headers, _ in receiver.posts}
        assert len(keys) == 1
        assert receiver.answered_ok[0]["text"] == "RAIN?"
    finally:
        _stop(process)
        scscf.close()


async def test_a_delivery_report_reaches_the_callback_after_a_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.status = 503
    sip, http = free_port(), free_port()
    scscf = await udp_peer()
    allow = f"http://127.0.0.1:{receiver.port}/"
    settings = {
        "SMSC__DELIVERY__CALLBACK_URL_ALLOW": json.dumps([allow]),
        "SMSC__OUTBOX__RETRY_INITIAL_MS": "100",
        "SMSC__OUTBOX__RETRY_MAX_MS": "300",
    }
    process = await asyncio.to_thread(serve, tmp_path, sip, http, scscf.port, settings)
    try:
        async with aiohttp.ClientSession() as client:
            response = await client.post(
                f"http://127.0.0.1:{http}/api/v1/messages",
                json={
                    "to": "01711234567",
                    "from": "MyBank",
                    "text": "Your code is 1234",
                    "callback_url": receiver.url,
                    "client_ref": "otp-77",
                },
            )
            assert response.status == 201, await response.text()
            submission = (await response.json())["id"]
        mt = await next_mt(scscf, [])
        assert mt.start.startswith("MESSAGE tel:+491711234567 ")
        ack_mt(scscf, sip, mt, "tel:+491711234567")
        deadline = time.monotonic() + 10
        while not receiver.posts:  # the report is being tried (and refused)
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        receiver.status = 200
        process = await asyncio.to_thread(serve, tmp_path, sip, http, scscf.port, settings)
        await receiver.wait(1)
        report = receiver.answered_ok[0]
        assert report["id"] == submission
        assert report["client_ref"] == "otp-77"
        assert report["state"] == "delivered"
        assert report["to"] == "+491711234567" and report["from"] == "MyBank"
        assert report["segments"] == {"delivered": 1, "total": 1}
        assert report["cause"] is None
        assert report["submitted_at"] and report["done_at"]
    finally:
        _stop(process)
        scscf.close()


async def test_a_callback_outside_the_allowed_prefixes_is_refused(
    start_smsc: Starter, receiver: Receiver
) -> None:
    app: Application = await start_smsc(
        delivery={"callback_url_allow": ("https://app.example.net/",)}
    )
    async with aiohttp.ClientSession() as client:
        response = await client.post(
            f"{http_base(app)}/api/v1/messages",
            json={"to": "+491711234567", "from": "X", "text": "a", "callback_url": receiver.url},
        )
        assert response.status == 422
        assert (await response.json())["field"] == "callback_url"
    assert receiver.posts == []
