"""Deferred charging end to end (issue 14): the OCS is down, the MO is delivered and its CCR
kept; the OCS comes up and the kept CCR (same Session-Id and End-to-End id, T flag) charges."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest

from smsc.app import Application
from smsc.service.model import DeferredChargeState
from smsc.sms.rp import RpAck
from tests.charging.ocs import TestOcs
from tests.e2e.conftest import Starter
from tests.e2e.peer import udp_peer
from tests.e2e.test_charging import charging, send_mo
from tests.e2e.test_mo_mt import submit_to


@pytest.fixture
def late_ocs() -> Iterator[TestOcs]:
    """An OCS configured as a peer and not yet started."""
    server = TestOcs()
    yield server
    server.stop()


async def _until_charged(app: Application, timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            counts = await app.store.deferred_charge_counts()
            if counts.by_state[DeferredChargeState.CHARGED]:
                return
            await asyncio.sleep(0.05)


async def test_a_ccr_kept_while_the_ocs_was_down_charges_when_it_is_up(
    start_smsc: Starter, late_ocs: TestOcs
) -> None:
    app = await start_smsc(
        charging=charging(
            late_ocs,
            failure_handling="continue",
            reconnect_s=1,
            replay_interval_s=1,
        )
    )
    assert app.replayer is not None
    peer = await udp_peer()
    try:
        assert isinstance(await send_mo(peer, app, submit_to("+491710000009")), RpAck)
        counts = await app.store.deferred_charge_counts()
        assert counts.by_state[DeferredChargeState.PENDING] == 1

        late_ocs.start()
        await _until_charged(app)
        [ccr] = late_ocs.received
        assert ccr.retransmitted  # the T flag of the kept copy

        async with aiohttp.ClientSession() as http:
            base = f"http://{app.settings.http.listen}"
            deferred = await (await http.get(f"{base}/api/v1/charging/deferred")).json()
            assert deferred["counts"]["charged"] == 1
            assert deferred["oldest_pending_age_s"] is None
            due = await app.store.get(1)
            assert due is not None
            sid = due.message.submission_id
            shown = await (await http.get(f"{base}/api/v1/messages/{sid}")).json()
        outcomes = [(c["outcome"], c["session_id"]) for c in shown["charging"]]
        assert outcomes == [
            ("unreachable-continue", ccr.session_id),
            ("deferred-charged", ccr.session_id),
        ]
        assert shown["charging"][1]["result_code"] == 2001
    finally:
        peer.close()
