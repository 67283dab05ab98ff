"""Overload control: above sip.max_mo_in_flight, new MO get 503 with Retry-After (RFC 3261
§21.5.4) while emergency SMS are still taken; once the backlog clears, MO are taken again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from tests.charging.ocs import TestOcs
from tests.e2e.conftest import Starter, sip_port
from tests.e2e.peer import Wire, message_request, udp_peer
from tests.e2e.test_charging import _wait_connected, charging
from tests.e2e.test_mo_mt import PSI, UE, submit_to


@pytest.fixture
def slow_ocs() -> Iterator[TestOcs]:
    server = TestOcs().start()
    server.behaviour.delay_s = 0.8  # each MO waits for its CCA: it stays in flight
    yield server
    server.stop()


async def test_past_the_high_water_mark_mo_get_503_and_emergency_still_passes(
    start_smsc: Starter, slow_ocs: TestOcs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smsc.sip")
    app = await start_smsc(
        sip={"max_mo_in_flight": 2, "overload_retry_after_s": 3},
        charging=charging(slow_ocs, timeout_ms=2000),
    )
    await _wait_connected(app)
    peer = await udp_peer()
    port = sip_port(app)

    def send(body: bytes) -> None:
        request, _ = message_request(
            uri=PSI, sender=UE, body=body, via=f"SIP/2.0/UDP 127.0.0.1:{peer.port}"
        )
        peer.send(request, ("127.0.0.1", port))

    async def final() -> Wire:
        while True:
            wire = await peer.next(5)
            if not wire.is_request:
                return wire
            peer.send(
                b"SIP/2.0 200 OK\r\n"
                + b"".join(
                    f"{name}: {wire.get(name)}\r\n".encode()
                    for name in ("Via", "From", "To", "Call-ID", "CSeq")
                )
                + b"Content-Length: 0\r\n\r\n",
                wire.source,
            )

    try:
        for rp_mr in (1, 2):
            send(submit_to("+491710000002", rp_mr=rp_mr))
            assert (await final()).status == 202
        send(submit_to("+491710000002", rp_mr=3))
        refused = await final()
        assert refused.status == 503
        assert refused.get("Retry-After") == "3"
        send(submit_to("112", rp_mr=4))  # emergency: admitted ahead of everything
        assert (await final()).status == 202
        registry = app.metrics.registry
        assert registry.get_sample_value("smsc_shed_total", {"class": "mo"}) == 1
        assert not [r for r in caplog.records if "refused: 503" in r.getMessage()]  # counted
        for _ in range(60):  # the CCAs arrive, the backlog clears
            if app.mo is not None and app.mo.in_flight() == 0:
                break
            await asyncio.sleep(0.05)
        send(submit_to("+491710000002", rp_mr=5))
        assert (await final()).status == 202
    finally:
        peer.close()


async def test_a_full_receive_queue_sheds_new_mo_with_503(start_smsc: Starter) -> None:
    app = await start_smsc(sip={"overload_queue_kib": 4})
    peer = await udp_peer()
    try:
        for rp_mr in range(200):  # a burst: the loop does not run until it is all queued
            request, _ = message_request(
                uri=PSI,
                sender=UE,
                body=submit_to("+491710000002", rp_mr=rp_mr),
                via=f"SIP/2.0/UDP 127.0.0.1:{peer.port}",
            )
            peer.send(request, ("127.0.0.1", sip_port(app)))
        statuses = []
        try:
            while True:
                wire = await peer.next(1.0)
                if not wire.is_request:
                    statuses.append(wire.status)
        except TimeoutError:
            pass
        assert statuses.count(503) > 0 and statuses.count(202) > 0, statuses
        assert len(statuses) == 200  # every request answered, none timed out
    finally:
        peer.close()
