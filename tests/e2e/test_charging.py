"""MO SMS with Ro online charging end to end: SIP over UDP, Diameter over TCP to a test OCS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from smsc.app import Application
from smsc.service.model import MessageState
from smsc.settings import ChargingPeer
from smsc.sms.rp import RpAck, RpError, decode_rp
from tests.charging.ocs import CLIENT_HOST, CLIENT_REALM, OCS_REALM, TestOcs, free_port
from tests.e2e.conftest import Starter, sip_port
from tests.e2e.peer import UdpPeer, message_request, udp_peer
from tests.e2e.test_mo_mt import PSI, submit_to

UE = "tel:+491710000001"
# A network-provided cell of Vodafone Spain (MCC 214, MNC 01): the sender roams abroad.
ROAMING_PANI = '3GPP-E-UTRAN-FDD; utran-cell-id-3gpp="2140112345678901"; network-provided'


@pytest.fixture
def ocs() -> Iterator[TestOcs]:
    server = TestOcs().start()
    yield server
    server.stop()


def charging(*ocss: TestOcs | int, **extra: Any) -> dict[str, Any]:
    peers = tuple(
        {"host": o.origin_host, "address": "127.0.0.1", "port": o.port}
        if isinstance(o, TestOcs)
        else {"host": "dead.ocs.example.net", "address": "127.0.0.1", "port": o}
        for o in ocss
    )
    return {
        "enabled": True,
        "origin_host": CLIENT_HOST,
        "origin_realm": CLIENT_REALM,
        "destination_realm": OCS_REALM,
        "peers": tuple(ChargingPeer(**p) for p in peers),
        "timeout_ms": 300,
        **extra,
    }


async def send_mo(peer: UdpPeer, app: Application, body: bytes, pani: str = ROAMING_PANI) -> Any:
    request, _ = message_request(
        uri=PSI,
        sender=UE,
        body=body,
        via=f"SIP/2.0/UDP 127.0.0.1:{peer.port}",
        extra=(),
    )
    request = request.replace(
        b'P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp="262011234567890a"',
        f"P-Access-Network-Info: {pani}".encode(),
    )
    peer.send(request, ("127.0.0.1", sip_port(app)))
    assert (await peer.next()).status == 202
    answer = await peer.next_request(timeout=5)
    return decode_rp(answer.body)


async def _wait_connected(app: Application) -> None:
    assert app.charging is not None
    for _ in range(100):
        if app.charging.ready_peers():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the OCS never became ready")


async def test_roaming_mo_is_charged_with_the_pani_and_acknowledged(
    start_smsc: Starter, ocs: TestOcs
) -> None:
    app = await start_smsc(charging=charging(ocs))
    await _wait_connected(app)
    peer = await udp_peer()
    try:
        answer = await send_mo(peer, app, submit_to("+491710000009"))
        assert isinstance(answer, RpAck)
        assert len(ocs.received) == 1
        ccr = ocs.received[0]
        assert ccr.service_context_id == "32274@3gpp.org"
        assert ccr.access_network_information == ROAMING_PANI.encode()
        counts = await app.store.count_by_state()
        assert counts[MessageState.QUEUED] == 1
        now = datetime.now(UTC)
        due = await app.store.due_recipients(now, 10)
        claimed = await app.store.claim_next(due[0], now)
        assert claimed is not None
        assert claimed.message.roaming_status == "international-roaming"
        assert claimed.message.visited_plmn == "21401"
        async with aiohttp.ClientSession() as http:
            base = f"http://{app.settings.http.listen}"
            sid = claimed.message.submission_id
            shown = await (await http.get(f"{base}/api/v1/messages/{sid}")).json()
        assert shown["roaming_status"] == "international-roaming"
        assert shown["visited_plmn"] == "21401"
        assert shown["charging"][0]["result_code"] == 2001
        assert shown["charging"][0]["outcome"] == "proceed"
        records = await app.store.charging_records(claimed.message.submission_id)
        assert [r.outcome for r in records] == ["proceed"]
        assert records[0].result_code == 2001
        assert records[0].roaming_status == "international-roaming"
    finally:
        peer.close()


async def test_no_credit_gets_rp_error_and_is_not_stored(start_smsc: Starter, ocs: TestOcs) -> None:
    ocs.behaviour.result_code = 4012
    app = await start_smsc(charging=charging(ocs))
    await _wait_connected(app)
    peer = await udp_peer()
    try:
        answer = await send_mo(peer, app, submit_to("+491710000009"))
        assert isinstance(answer, RpError)
        assert answer.cause == 21
        assert (await app.store.count_by_state())[MessageState.QUEUED] == 0
    finally:
        peer.close()


@pytest.mark.parametrize(("policy", "acked"), [("continue", True), ("terminate", False)])
async def test_dead_ocs_follows_the_failure_policy(
    start_smsc: Starter, policy: str, acked: bool
) -> None:
    app = await start_smsc(charging=charging(free_port(), failure_handling=policy))
    peer = await udp_peer()
    try:
        answer = await send_mo(peer, app, submit_to("+491710000009"))
        if acked:
            assert isinstance(answer, RpAck)
            assert (await app.store.count_by_state())[MessageState.QUEUED] == 1
        else:
            assert isinstance(answer, RpError)
            assert answer.cause == 41
            assert (await app.store.count_by_state())[MessageState.QUEUED] == 0
    finally:
        peer.close()


async def test_emergency_sms_is_never_charged(start_smsc: Starter, ocs: TestOcs) -> None:
    ocs.behaviour.result_code = 4012  # even a subscriber without credit
    app = await start_smsc(charging=charging(ocs))
    await _wait_connected(app)
    peer = await udp_peer()
    try:
        answer = await send_mo(peer, app, submit_to("112"))
        assert isinstance(answer, RpAck)
        assert ocs.received == []
    finally:
        peer.close()
