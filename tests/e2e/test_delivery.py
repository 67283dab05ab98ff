"""MT delivery policy end to end over real UDP: parking on memory-full, backoff, permanent
failure, status reports (TP-SRR) and head-of-line protection. The test peer plays the S-CSCF
and every UE behind it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from smsc.app import Application
from smsc.service.model import MessageOrigin, MessageState, NewMessage
from smsc.sms.address import Address, encode_tp_address
from smsc.sms.constants import RpMessageType
from smsc.sms.rp import RpAck, RpData, RpError, decode_rp, encode_rp
from smsc.sms.tp import SmsDeliver, SmsStatusReport, decode_tpdu
from tests.e2e.conftest import Starter, http_base, sip_port
from tests.e2e.peer import UdpPeer, Wire, message_request, response_to

PSI = "sip:smsc@ims.mnc001.mcc001.3gppnetwork.org"
SENDER = "491710000001"
FAST = {"retry_initial_s": 0.4, "retry_max_s": 5.0, "retry_factor": 2.0, "jitter": 0.0}


async def submit_api(http: aiohttp.ClientSession, app: Application, to: str, **extra: Any) -> str:
    body = {"to": "+" + to, "from": "+4915100000", "text": "hi", **extra}
    async with http.post(f"{http_base(app)}/api/v1/messages", json=body) as response:
        assert response.status == 201
        created: dict[str, Any] = await response.json()
    return str(created["id"])


async def status(http: aiohttp.ClientSession, app: Application, message: str) -> dict[str, Any]:
    async with http.get(f"{http_base(app)}/api/v1/messages/{message}") as response:
        result: dict[str, Any] = await response.json()
    return result


async def wait_state(
    http: aiohttp.ClientSession, app: Application, message: str, state: str, timeout: float = 5
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = await status(http, app, message)
        if current["state"] == state or time.monotonic() > deadline:
            assert current["state"] == state, current
            return current
        await asyncio.sleep(0.05)


async def next_mt(scscf: UdpPeer, timeout: float = 5.0, sip_status: int = 200) -> RpData:
    """The next MT MESSAGE, answered with `sip_status`; its RP-DATA."""
    mt = await scscf.next_request(timeout)
    assert mt.method == "MESSAGE"
    scscf.send(response_to(mt, sip_status, "OK" if sip_status == 200 else "Failed"), mt.source)
    data = decode_rp(mt.body)
    assert isinstance(data, RpData)
    assert data.message_type == RpMessageType.RP_DATA_N_TO_MS
    return data


async def rp_answer(
    scscf: UdpPeer, app: Application, ue: str, rp_mr: int, cause: int | None = None
) -> None:
    """The UE's RP-ACK (cause None) or RP-ERROR, as a MESSAGE through the S-CSCF."""
    if cause is None:
        body = encode_rp(RpAck(RpMessageType.RP_ACK_MS_TO_N, rp_mr))
    else:
        body = encode_rp(RpError(RpMessageType.RP_ERROR_MS_TO_N, rp_mr, cause))
    request, _ = message_request(
        uri=PSI, sender=f"tel:+{ue}", body=body, via=f"SIP/2.0/UDP 127.0.0.1:{scscf.port}"
    )
    scscf.send(request, ("127.0.0.1", sip_port(app)))
    while True:
        wire = await scscf.next()
        if not wire.is_request:
            assert wire.status == 200
            return


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_memory_full_parks_until_release_then_delivers_at_once(
    start_smsc: Starter, scscf: UdpPeer, http: aiohttp.ClientSession
) -> None:
    app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"}, delivery=FAST)
    ue = "491710000010"
    message = await submit_api(http, app, ue)
    data = await next_mt(scscf)
    await rp_answer(scscf, app, ue, data.message_reference, cause=22)
    parked = await wait_state(http, app, message, "queued")
    segment = parked["segments"][0]
    assert segment["last_rp_cause"] == 22
    assert segment["next_attempt_at"] == parked["expires_at"]  # parked, not on a timer
    # several retry periods pass: nothing is sent
    with pytest.raises(TimeoutError):
        await scscf.next_request(timeout=1.5)

    assert app.mt is not None
    started = time.monotonic()
    assert await app.mt.release(ue) == 1  # what RP-SMMA or a new registration does
    data = await next_mt(scscf, timeout=2)
    assert time.monotonic() - started < 1.0
    await rp_answer(scscf, app, ue, data.message_reference)
    delivered = await wait_state(http, app, message, "delivered")
    assert delivered["segments"][0]["attempts"] == 2
    text = app.metrics.exposition().decode()
    assert "smsc_mt_parked_total 1.0" in text
    assert "smsc_mt_released_total 1.0" in text
    assert "smsc_mt_parked_recipients 0.0" in text


async def test_temporary_failures_are_retried_after_a_growing_backoff(
    start_smsc: Starter, scscf: UdpPeer, http: aiohttp.ClientSession
) -> None:
    app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"}, delivery=FAST)
    ue = "491710000011"
    message = await submit_api(http, app, ue)
    data = await next_mt(scscf)
    failed_at = time.monotonic()
    await rp_answer(scscf, app, ue, data.message_reference, cause=41)  # temporary failure
    await next_mt(scscf, sip_status=480)  # the retry, refused at the SIP level this time
    second = time.monotonic()
    assert 0.35 <= second - failed_at < 2.0
    data = await next_mt(scscf)  # after twice the first delay
    assert 0.75 <= time.monotonic() - second < 3.0
    await rp_answer(scscf, app, ue, data.message_reference)
    done = await wait_state(http, app, message, "delivered")
    history = done["segments"][0]["history"]
    assert [h["outcome"] for h in history] == ["rp-error", "sip-failure", "delivered"]
    assert history[0]["rp_cause"] == 41 and history[1]["sip_status"] == 480
    text = app.metrics.exposition().decode()
    assert 'smsc_mt_retries_total{reason="rp-error"} 1.0' in text
    assert 'smsc_mt_retries_total{reason="sip-failure"} 1.0' in text


async def test_a_permanent_cause_fails_at_once(
    start_smsc: Starter, scscf: UdpPeer, http: aiohttp.ClientSession
) -> None:
    app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"}, delivery=FAST)
    ue = "491710000012"
    message = await submit_api(http, app, ue)
    data = await next_mt(scscf)
    await rp_answer(scscf, app, ue, data.message_reference, cause=30)  # unknown subscriber
    failed = await wait_state(http, app, message, "failed")
    assert failed["segments"][0]["attempts"] == 1
    with pytest.raises(TimeoutError):
        await scscf.next_request(timeout=1.0)


def srr_submit(recipient: str, tp_mr: int, rp_mr: int = 9) -> bytes:
    """RP-DATA MS->N with an SMS-SUBMIT asking for a status report (TP-SRR), GSM7 'Test'."""
    tpdu = (
        bytes((0x21, tp_mr))
        + encode_tp_address(Address(recipient))
        + bytes((0, 0, 4))
        + bytes.fromhex("d4f29c0e")
    )
    return encode_rp(
        RpData(RpMessageType.RP_DATA_MS_TO_N, rp_mr, None, Address("491710760000"), tpdu)
    )


@pytest.mark.parametrize(("cause", "tp_st"), [(None, 0x00), (30, 0x43)])
async def test_tp_srr_gives_the_originator_a_status_report(
    start_smsc: Starter, scscf: UdpPeer, cause: int | None, tp_st: int
) -> None:
    app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"}, delivery=FAST)
    peer = "491710000020"
    request, _ = message_request(
        uri=PSI,
        sender=f"tel:+{SENDER}",
        body=srr_submit(peer, tp_mr=0x42),
        via=f"SIP/2.0/UDP 127.0.0.1:{scscf.port}",
    )
    before = datetime.now(UTC).replace(microsecond=0)
    scscf.send(request, ("127.0.0.1", sip_port(app)))
    # the RP-ACK to the sender and the MT to the recipient, in either order
    mt: Wire | None = None
    while mt is None:
        wire = await scscf.next_request()
        scscf.send(response_to(wire), wire.source)
        if wire.start.startswith(f"MESSAGE tel:+{peer} "):
            mt = wire
        else:
            assert isinstance(decode_rp(wire.body), RpAck)
    data = decode_rp(mt.body)
    assert isinstance(data, RpData)
    deliver = decode_tpdu(data.user_data, data.message_type)
    assert isinstance(deliver, SmsDeliver) and deliver.status_report_indication
    with pytest.raises(TimeoutError):  # no report before the outcome is final
        await scscf.next_request(timeout=0.3)
    done_before = datetime.now(UTC).replace(microsecond=0)
    await rp_answer(scscf, app, peer, data.message_reference, cause)

    report_mt = await scscf.next_request()
    assert report_mt.start == f"MESSAGE tel:+{SENDER} SIP/2.0"
    scscf.send(response_to(report_mt), report_mt.source)
    rp = decode_rp(report_mt.body)
    assert isinstance(rp, RpData)
    assert rp.message_type == RpMessageType.RP_DATA_N_TO_MS
    assert rp.destination is None
    report = decode_tpdu(rp.user_data, rp.message_type)
    assert isinstance(report, SmsStatusReport)
    assert report.message_reference == 0x42
    assert report.recipient == Address(peer)
    assert report.status == tp_st
    assert before <= report.scts <= report.discharge_time
    assert report.discharge_time >= done_before
    await rp_answer(scscf, app, SENDER, rp.message_reference)
    for _ in range(100):
        counts = await app.store.count_by_state()
        if counts[MessageState.DELIVERED] == (2 if cause is None else 1):
            break
        await asyncio.sleep(0.05)
    assert counts[MessageState.DELIVERED] == (2 if cause is None else 1)
    assert counts[MessageState.QUEUED] == counts[MessageState.DELIVERING] == 0
    assert 'smsc_status_reports_total{channel="sms",result="stored"} 1.0' in (
        app.metrics.exposition().decode()
    )


async def test_api_status_report_goes_to_the_webhook(
    start_smsc: Starter, scscf: UdpPeer, http: aiohttp.ClientSession
) -> None:
    received: list[Any] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    receiver = web.Application()
    receiver.add_routes([web.post("/sr", hook)])
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        app = await start_smsc(
            sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"},
            delivery={**FAST, "status_report_webhook": f"http://127.0.0.1:{port}/sr"},
        )
        ue = "491710000013"
        message = await submit_api(http, app, ue, status_report=True)
        data = await next_mt(scscf)
        await rp_answer(scscf, app, ue, data.message_reference)
        await wait_state(http, app, message, "delivered")
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
        assert len(received) == 1
        assert received[0]["id"] == message
        assert received[0]["state"] == "delivered"
        assert received[0]["to"] == "+" + ue
        assert datetime.fromisoformat(received[0]["at"]).tzinfo is not None
    finally:
        await runner.cleanup()


def _stored_to(recipient: str, now: datetime) -> NewMessage:
    tpdu = (
        bytes((0x01, 0x00))
        + encode_tp_address(Address(recipient))
        + bytes((0, 0, 4))
        + bytes.fromhex("d4f29c0e")
    )
    return NewMessage(
        submission_id=f"hol-{recipient}-{now.timestamp()}",
        origin=MessageOrigin.API,
        originator="4915100000",
        originator_ton=1,
        recipient=recipient,
        submit_tpdu=tpdu,
        received_at=now,
        expires_at=now + timedelta(days=1),
    )


async def register(scscf: UdpPeer, app: Application, msisdn: str) -> None:
    """A third-party REGISTER: MT for `msisdn` goes to the test S-CSCF from now on."""
    request, _ = message_request(
        uri=f"tel:+{msisdn}",
        sender=f"tel:+{msisdn}",
        body=b"",
        via=f"SIP/2.0/UDP 127.0.0.1:{scscf.port}",
        method="REGISTER",
        extra=(f"Contact: <sip:127.0.0.1:{scscf.port}>", "Expires: 600"),
    )
    scscf.send(request, ("127.0.0.1", sip_port(app)))
    response = await scscf.next()
    assert not response.is_request and response.status == 200


async def test_unroutable_recipients_never_hold_up_a_routable_one(
    start_smsc: Starter, scscf: UdpPeer, http: aiohttp.ClientSession
) -> None:
    app = await start_smsc()  # no next hop: only registered recipients can be reached
    routable = "491710000030"
    await register(scscf, app, routable)
    now = datetime.now(UTC)
    # 300 unregistered recipients with a message each, and 200 messages to one more of them:
    # more due heads than a delivery pass takes (200), all older than the routable message
    stuck = "491710009999"
    backlog = [_stored_to(f"4917101{i:05d}", now) for i in range(300)]
    backlog += [_stored_to(stuck, now) for _ in range(200)]
    await app.store.add_many(backlog)
    assert app.mt is not None
    app.mt.wake()
    message = await submit_api(http, app, routable)

    data = await next_mt(scscf, timeout=5)
    await rp_answer(scscf, app, routable, data.message_reference)
    await wait_state(http, app, message, "delivered")
    head = (await app.store.get_submission(backlog[0].submission_id))[0]
    assert head.state is MessageState.QUEUED
    assert [a.outcome for a in head.history] == ["no-route"]
    assert head.next_attempt_at is not None and head.next_attempt_at > now + timedelta(seconds=20)

    # the stuck recipient registers: its queue is released and delivered at once, in order
    started = time.monotonic()
    await register(scscf, app, stuck)
    data = await next_mt(scscf, timeout=3)
    assert time.monotonic() - started < 2.0
    deliver = decode_tpdu(data.user_data, data.message_type)
    assert isinstance(deliver, SmsDeliver)
    await rp_answer(scscf, app, stuck, data.message_reference)
    data = await next_mt(scscf, timeout=3)  # the next of its 200 follows the RP-ACK
    await rp_answer(scscf, app, stuck, data.message_reference)
    assert 'smsc_mt_retries_total{reason="no-route"}' in app.metrics.exposition().decode()


async def test_rp_smma_from_the_parked_recipient_releases_it(
    start_smsc: Starter, scscf: UdpPeer, http: aiohttp.ClientSession
) -> None:
    app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"}, delivery=FAST)
    ue = "491710000011"
    message = await submit_api(http, app, ue)
    data = await next_mt(scscf)
    await rp_answer(scscf, app, ue, data.message_reference, cause=22)
    await wait_state(http, app, message, "queued")
    with pytest.raises(TimeoutError):
        await scscf.next_request(timeout=1.0)
    smma, _ = message_request(
        uri=PSI,
        sender=f"tel:+{ue}",
        body=bytes.fromhex("0677"),
        via=f"SIP/2.0/UDP 127.0.0.1:{scscf.port}",
    )
    scscf.send(smma, ("127.0.0.1", sip_port(app)))
    answered = mt = None
    while answered is None or mt is None:
        wire = await scscf.next(timeout=3)
        if not wire.is_request:
            continue
        body = decode_rp(wire.body)
        if isinstance(body, RpAck):  # the RP-ACK answering the SMMA
            answered = body
            scscf.send(response_to(wire), wire.source)
        elif isinstance(body, RpData):
            mt = body
            scscf.send(response_to(wire), wire.source)
    assert answered.message_reference == 0x77
    await rp_answer(scscf, app, ue, mt.message_reference)
    await wait_state(http, app, message, "delivered")


async def test_a_message_without_a_route_says_why_it_waits(start_smsc: Starter) -> None:
    app = await start_smsc()
    async with aiohttp.ClientSession() as http:
        submission = await submit_api(http, app, "491719990001")
        async with http.get(f"{http_base(app)}/api/v1/messages/{submission}") as response:
            status = await response.json()
    assert status["state"] == "queued"
    assert status["waiting"] == "no registration for +491719990001, and sip.next_hop is not set"


async def test_a_message_with_a_next_hop_does_not_claim_to_wait_for_one(
    start_smsc: Starter,
) -> None:
    app = await start_smsc(sip={"next_hop": "sip:127.0.0.1:9"})
    assert await app.why_unroutable("491719990001") is None


async def test_mt_transfers_in_flight_are_bounded(start_smsc: Starter, scscf: UdpPeer) -> None:
    """A backlog for many recipients behind a next hop that never answers with an RP answer:
    at most `delivery.max_in_flight` transfers are open; one that ends lets the next start
    (before: every due head was claimed and sent at once)."""
    app = await start_smsc(
        sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"}, delivery={"max_in_flight": 5}
    )
    now = datetime.now(UTC)
    await app.store.add_many([_stored_to(f"4917102{i:05d}", now) for i in range(40)])
    assert app.mt is not None
    app.mt.wake()
    first = [await next_mt(scscf, timeout=3) for _ in range(5)]
    with pytest.raises(TimeoutError):
        await next_mt(scscf, timeout=0.8)
    counts = await app.store.count_by_state()
    assert counts[MessageState.DELIVERING] == 5 and counts[MessageState.QUEUED] == 35
    # the first recipient's UE answers: its transfer ends, and exactly one more starts
    recipient = "4917102" + "00000"
    await rp_answer(scscf, app, recipient, first[0].message_reference)
    await next_mt(scscf, timeout=3)
    with pytest.raises(TimeoutError):
        await next_mt(scscf, timeout=0.8)


async def test_tp_mms_says_more_messages_wait_until_the_last(
    start_smsc: Starter, scscf: UdpPeer, http: aiohttp.ClientSession
) -> None:
    """TS 23.040 §9.2.3.2: while the SC holds more for the recipient (the next segments of a
    long message, or another message queued behind), its SMS-DELIVER says so."""
    app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"}, delivery=FAST)
    ue = "491710000031"
    await submit_api(http, app, ue, text="x" * 200)  # two segments
    await submit_api(http, app, ue, text="last one")
    seen: list[tuple[str | None, bool]] = []
    for _ in range(3):
        data = await next_mt(scscf)
        deliver = decode_tpdu(data.user_data, data.message_type)
        assert isinstance(deliver, SmsDeliver)
        seen.append((deliver.user_data.text, deliver.no_more_messages))
        await rp_answer(scscf, app, ue, data.message_reference)
    assert [more for _, more in seen] == [False, False, True]
    assert seen[2][0] == "last one"
