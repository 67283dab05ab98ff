"""SMS over IP end to end: MO over UDP and TCP, MT decided by the UE's RP-ACK, bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from smsc.app import Application
from smsc.service.model import MessageState
from smsc.sms.address import Address, encode_tp_address
from smsc.sms.constants import RpMessageType, TypeOfNumber
from smsc.sms.rp import RpAck, RpData, RpError, decode_rp, encode_rp
from smsc.sms.tp import SmsDeliver, SmsSubmitReport, decode_tpdu
from tests.e2e.conftest import Starter, http_base, sip_port
from tests.e2e.peer import TcpPeer, UdpPeer, Wire, message_request, response_to, udp_peer

UE = "tel:+491710000001"
PSI = "sip:smsc@ims.mnc001.mcc001.3gppnetwork.org"
# RP-DATA MS->N, RP-MR 2, SC +33689004000, SMS-SUBMIT to 0600000000 (TON 0) 'Test': with the
# default dialling plan (country code 49) that is +49600000000
MO_BODY = bytes.fromhex("00020007913386094000f01001840a816000000000000004d4f29c0e")


def submit_to(recipient: str, text_hex: str = "d4f29c0e", rp_mr: int = 7) -> bytes:
    """RP-DATA with an SMS-SUBMIT of GSM7 text to an international recipient."""
    da = encode_tp_address(Address(recipient.removeprefix("+")))
    tpdu = bytes((0x01, 0x11)) + da + bytes((0, 0, 4)) + bytes.fromhex(text_hex)
    return encode_rp(
        RpData(RpMessageType.RP_DATA_MS_TO_N, rp_mr, None, Address("491710760000"), tpdu)
    )


async def mo_over_udp(peer: UdpPeer, app: Application, body: bytes, **kw: Any) -> tuple[Wire, Wire]:
    request, _ = message_request(
        uri=PSI, sender=UE, body=body, via=f"SIP/2.0/UDP 127.0.0.1:{peer.port}", **kw
    )
    peer.send(request, ("127.0.0.1", sip_port(app)))
    first = await peer.next()
    second = await peer.next()
    response, answer = (first, second) if not first.is_request else (second, first)
    return response, answer


async def test_mo_over_udp_gets_202_then_rp_ack_after_commit(start_smsc: Starter) -> None:
    app = await start_smsc()
    peer = await udp_peer()
    try:
        request, call_id = message_request(
            uri=PSI, sender=UE, body=MO_BODY, via=f"SIP/2.0/UDP 127.0.0.1:{peer.port}"
        )
        peer.send(request, ("127.0.0.1", sip_port(app)))
        response = await peer.next()
        assert response.status == 202
        answer = await peer.next_request()
        assert answer.start == f"MESSAGE {UE} SIP/2.0"
        assert answer.get("In-Reply-To") == call_id
        assert answer.get("Content-Type") == "application/vnd.3gpp.sms"
        assert answer.source == ("127.0.0.1", sip_port(app))
        message = decode_rp(answer.body)
        assert isinstance(message, RpAck)
        assert message.message_type == RpMessageType.RP_ACK_N_TO_MS
        assert message.message_reference == 2
        assert message.user_data is not None
        assert isinstance(decode_tpdu(message.user_data, message.message_type), SmsSubmitReport)
        peer.send(response_to(answer), answer.source)
        counts = await app.store.count_by_state()
        assert counts[MessageState.QUEUED] == 1
        # A retransmission of the same request gets the same 202 and stores nothing new.
        peer.send(request, ("127.0.0.1", sip_port(app)))
        again = await peer.next()
        assert again.status == 202
        assert again.get("To") == response.get("To")
        with pytest.raises(TimeoutError):
            await peer.next_request(timeout=0.5)
        assert (await app.store.count_by_state())[MessageState.QUEUED] == 1
    finally:
        peer.close()


async def test_mo_over_tcp(start_smsc: Starter) -> None:
    app = await start_smsc()
    peer = await TcpPeer.connect(sip_port(app))
    try:
        request, _ = message_request(
            uri=PSI, sender=UE, body=MO_BODY, via=f"SIP/2.0/TCP 127.0.0.1:{peer.port}"
        )
        peer.send(request)
        assert (await peer.next()).status == 202
        answer = await peer.next()
        assert answer.is_request
        message = decode_rp(answer.body)
        assert isinstance(message, RpAck)
        peer.send(response_to(answer))
    finally:
        await peer.close()


async def test_multipart_body_is_accepted(start_smsc: Starter) -> None:
    app = await start_smsc()
    peer = await udp_peer()
    try:
        body = (
            b"--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            b"--b1\r\nContent-Type: application/vnd.3gpp.sms\r\n\r\n" + MO_BODY + b"\r\n--b1--\r\n"
        )
        response, answer = await mo_over_udp(
            peer, app, body, content_type='multipart/mixed;boundary="b1"'
        )
        assert response.status == 202
        assert isinstance(decode_rp(answer.body), RpAck)
    finally:
        peer.close()


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (bytes.fromhex("05010115"), 97),  # an N->MS type from a UE
        (bytes.fromhex("00010007913121550501f01901ff0b9171"), 96),  # truncated
        (bytes.fromhex("0701"), 97),
        (bytes.fromhex("09011900"), 97),  # CP-DATA header
        (bytes.fromhex("0009000791947101670000" + "0203" + "01"), 95),  # reserved TP-MTI
    ],
)
async def test_malformed_rp_gets_rp_error_with_cause(
    start_smsc: Starter, body: bytes, cause: int
) -> None:
    app = await start_smsc()
    peer = await udp_peer()
    try:
        response, answer = await mo_over_udp(peer, app, body)
        assert response.status == 202
        message = decode_rp(answer.body)
        assert isinstance(message, RpError)
        assert message.cause == cause
        assert message.message_type == RpMessageType.RP_ERROR_N_TO_MS
    finally:
        peer.close()


async def test_smma_is_acknowledged(start_smsc: Starter) -> None:
    app = await start_smsc()
    peer = await udp_peer()
    try:
        _, answer = await mo_over_udp(peer, app, bytes.fromhex("0643"))
        assert answer.body == bytes.fromhex("0343")
    finally:
        peer.close()


async def _bad_request(app: Application, raw: bytes) -> Wire:
    peer = await udp_peer()
    try:
        peer.send(raw, ("127.0.0.1", sip_port(app)))
        return await peer.next()
    finally:
        peer.close()


async def test_sip_level_bad_input(start_smsc: Starter) -> None:
    app = await start_smsc()
    peer = await udp_peer()
    via = f"SIP/2.0/UDP 127.0.0.1:{peer.port}"
    port = sip_port(app)
    try:
        wrong_type, _ = message_request(
            uri=PSI, sender=UE, body=b"hi", via=via, content_type="text/plain"
        )
        peer.send(wrong_type, ("127.0.0.1", port))
        assert (await peer.next()).status == 415
        invite, _ = message_request(uri=PSI, sender=UE, body=b"", via=via, method="INVITE")
        peer.send(invite, ("127.0.0.1", port))
        answer = await peer.next()
        assert answer.status == 405
        assert "MESSAGE" in answer.get("Allow")
        options, _ = message_request(uri=PSI, sender=UE, body=b"", via=via, method="OPTIONS")
        peer.send(options, ("127.0.0.1", port))
        assert (await peer.next()).status == 200
        no_pai, _ = message_request(uri=PSI, sender=UE, body=MO_BODY, via=via, pai=False)
        peer.send(no_pai, ("127.0.0.1", port))
        assert (await peer.next()).status == 403
        broken = (
            f"MESSAGE {PSI} SIP/2.0\r\nVia: {via};branch=z9hG4bK-x\r\nCall-ID: x\r\n"
            "CSeq: nonsense\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        peer.send(broken, ("127.0.0.1", port))
        reply = await peer.next()
        assert reply.status == 400
        assert "CSeq" in reply.start.split(" ", 2)[2]  # the reason phrase says what is wrong
    finally:
        peer.close()


async def test_untrusted_source_is_refused(start_smsc: Starter) -> None:
    app = await start_smsc(sip={"trusted_peers": ("10.0.0.0/8",)})
    peer = await udp_peer()
    try:
        response, _ = await asyncio.wait_for(_first(peer, app), 5)
        assert response.status == 403
    finally:
        peer.close()


async def _first(peer: UdpPeer, app: Application) -> tuple[Wire, None]:
    request, _ = message_request(
        uri=PSI, sender=UE, body=MO_BODY, via=f"SIP/2.0/UDP 127.0.0.1:{peer.port}"
    )
    peer.send(request, ("127.0.0.1", sip_port(app)))
    return await peer.next(), None


async def test_api_message_reaches_the_ue_and_is_delivered_on_rp_ack(start_smsc: Starter) -> None:
    scscf = await udp_peer()
    app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"})
    try:
        async with aiohttp.ClientSession() as http:
            created = await (
                await http.post(
                    f"{http_base(app)}/api/v1/messages",
                    json={"to": "+491710000002", "from": "MyBank", "text": "Your code is 1234"},
                )
            ).json()
            mt = await scscf.next_request()
            assert mt.start == "MESSAGE tel:+491710000002 SIP/2.0"
            assert mt.get("Accept-Contact") == "*;+g.3gpp.smsip;require;explicit"
            assert mt.get("Request-Disposition") == "no-fork"
            data = decode_rp(mt.body)
            assert isinstance(data, RpData)
            assert data.message_type == RpMessageType.RP_DATA_N_TO_MS
            assert data.destination is None
            assert mt.body[2 + 1 + mt.body[2]] == 0  # RP-DA length octet on the wire
            assert data.originator == Address("491710760000")
            deliver = decode_tpdu(data.user_data, data.message_type)
            assert isinstance(deliver, SmsDeliver)
            assert deliver.originator.ton == TypeOfNumber.ALPHANUMERIC
            assert deliver.originator.value == "MyBank"
            assert deliver.user_data.text == "Your code is 1234"
            scscf.send(response_to(mt, 200), mt.source)
            await asyncio.sleep(0.2)
            status = await (
                await http.get(f"{http_base(app)}/api/v1/messages/{created['id']}")
            ).json()
            assert status["state"] == "delivering"  # a SIP 200 is not delivery
            ack = encode_rp(RpAck(RpMessageType.RP_ACK_MS_TO_N, data.message_reference))
            request, _ = message_request(
                uri=PSI,
                sender="tel:+491710000002",
                body=ack,
                via=f"SIP/2.0/UDP 127.0.0.1:{scscf.port}",
            )
            scscf.send(request, ("127.0.0.1", sip_port(app)))
            assert (await scscf.next()).status == 200
            for _ in range(50):
                status = await (
                    await http.get(f"{http_base(app)}/api/v1/messages/{created['id']}")
                ).json()
                if status["state"] == "delivered":
                    break
                await asyncio.sleep(0.05)
            assert status["state"] == "delivered"
            assert status["segments"][0]["attempts"] == 1
    finally:
        scscf.close()


async def test_mo_to_a_subscriber_is_delivered_to_that_subscriber(start_smsc: Starter) -> None:
    scscf = await udp_peer()
    app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"})
    try:
        request, _ = message_request(
            uri=PSI,
            sender=UE,
            body=submit_to("+491710000003"),
            via=f"SIP/2.0/UDP 127.0.0.1:{scscf.port}",
        )
        scscf.send(request, ("127.0.0.1", sip_port(app)))
        seen: list[Wire] = []
        while len([w for w in seen if w.is_request]) < 2:
            seen.append(await scscf.next())
        requests = [w for w in seen if w.is_request]
        answer = next(w for w in requests if w.get("To") == f"<{UE}>")
        mt = next(w for w in requests if w.start.startswith("MESSAGE tel:+491710000003"))
        scscf.send(response_to(answer), answer.source)
        deliver_rp = decode_rp(mt.body)
        assert isinstance(deliver_rp, RpData)
        deliver = decode_tpdu(deliver_rp.user_data, deliver_rp.message_type)
        assert isinstance(deliver, SmsDeliver)
        assert deliver.originator == Address("491710000001")
        assert deliver.user_data.text == "Test"
    finally:
        scscf.close()


async def test_rp_error_and_tr1m_timeout_requeue(start_smsc: Starter) -> None:
    scscf = await udp_peer()
    app = await start_smsc(sip={"next_hop": f"sip:127.0.0.1:{scscf.port}"}, smsc={"tr1m_s": 0.5})
    try:
        async with aiohttp.ClientSession() as http:
            created = await (
                await http.post(
                    f"{http_base(app)}/api/v1/messages",
                    json={"to": "+491710000004", "from": "+4915100000", "text": "hi"},
                )
            ).json()
            mt = await scscf.next_request()
            scscf.send(response_to(mt, 200), mt.source)
            # No RP answer: TR1M runs out, the message goes back to the queue with a retry time.
            for _ in range(60):
                status = await (
                    await http.get(f"{http_base(app)}/api/v1/messages/{created['id']}")
                ).json()
                if status["state"] == "queued":
                    break
                await asyncio.sleep(0.05)
            assert status["state"] == "queued"
            assert status["segments"][0]["history"][0]["outcome"] == "tr1m-timeout"
            assert status["segments"][0]["next_attempt_at"] is not None
    finally:
        scscf.close()


async def test_resent_submit_in_a_new_transaction_is_acked_but_stored_once(
    start_smsc: Starter,
) -> None:
    app = await start_smsc()
    peer = await udp_peer()
    try:
        for _ in range(2):  # new Call-ID and branch each time: not a SIP retransmission
            response, answer = await mo_over_udp(peer, app, submit_to("+491710000031"))
            assert response.status == 202
            assert isinstance(decode_rp(answer.body), RpAck)
            peer.send(response_to(answer), answer.source)
        other, _ = await mo_over_udp(peer, app, submit_to("+491710000031", rp_mr=8))
        assert other.status == 202
        await asyncio.sleep(0.1)
        assert (await app.store.count_by_state())[MessageState.QUEUED] == 2
    finally:
        peer.close()


async def test_duplicates_are_caught_through_redis_too(start_smsc: Starter) -> None:
    import os
    import uuid

    import redis.asyncio as aioredis

    url = os.environ.get("SMSC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        probe = aioredis.from_url(url, socket_timeout=2)
        await probe.ping()
        await probe.aclose()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis unavailable in CI: {exc}")
        pytest.skip(f"Redis unavailable: {exc}")
    prefix = f"e2e{uuid.uuid4().hex[:8]}:"
    app = await start_smsc(storage={"redis_url": url, "redis_prefix": prefix})
    peer = await udp_peer()
    try:
        for _ in range(2):
            response, answer = await mo_over_udp(peer, app, submit_to("+491710000032"))
            assert response.status == 202
            assert isinstance(decode_rp(answer.body), RpAck)
            peer.send(response_to(answer), answer.source)
        await asyncio.sleep(0.1)
        assert (await app.store.count_by_state())[MessageState.QUEUED] == 1
    finally:
        peer.close()
        client = aioredis.from_url(url)
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
