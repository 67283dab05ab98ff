"""Deferred charging end to end (issue 14): the OCS is down, the MO is delivered and its CCR
kept; the OCS comes up and the kept CCR (same Session-Id and End-to-End id, T flag) charges,
as soon as the OCS peer opens even while the CCR waits out a back-off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from smsc.app import Application
from smsc.service.model import DeferredChargeState
from smsc.sms.rp import RpAck
from smsc.store.migrate import create_engine
from smsc.store.tables import deferred_charges
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


def _replays(app: Application, outcome: str) -> float:
    value = app.metrics.registry.get_sample_value(
        "smsc_charging_deferred_replayed_total", {"outcome": outcome}
    )
    return value or 0.0


async def _until(condition: Callable[[], bool], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.02)


async def _kept_ccr(app: Application) -> Any:
    """The one deferred_charges row, read beside the running SMSC."""
    engine = create_engine(app.settings.storage.database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(deferred_charges))).one()
    finally:
        await engine.dispose()


async def test_a_ccr_in_back_off_charges_as_soon_as_the_ocs_peer_opens(
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
    assert app.replayer is not None and app.charging is not None
    replayer, wake = app.replayer, app.charging.on_peer_open
    assert wake is not None
    opened: list[float] = []

    def peer_open() -> None:
        opened.append(time.monotonic())
        wake()

    app.charging.on_peer_open = peer_open
    peer = await udp_peer()
    try:
        assert isinstance(await send_mo(peer, app, submit_to("+491710000009")), RpAck)

        # two replays without an answer: the back-off grows, 1 s then 2 s
        await _until(lambda: _replays(app, "retry") >= 1, timeout_s=5.0)
        first = await _kept_ccr(app)
        await _until(lambda: _replays(app, "retry") >= 2, timeout_s=5.0)
        second = await _kept_ccr(app)
        assert (first.attempts, second.attempts) == (1, 2)
        assert first.next_attempt_at - first.updated_at == timedelta(seconds=1)
        assert second.next_attempt_at - second.updated_at == timedelta(seconds=2)
        assert second.state == DeferredChargeState.PENDING.value
        # From now on no plain round (the next in an hour): only the OCS peer opening can send
        # the CCR again before its back-off ends.
        replayer.interval_s = 3600.0

        late_ocs.start()
        await _until(lambda: bool(opened), timeout_s=5.0)
        await _until_charged(app, timeout_s=3.0)
        charged_after_s = time.monotonic() - opened[0]
        assert charged_after_s < 2.0  # not after the back-off (nor the next plain round)
        [ccr] = late_ocs.received
        assert ccr.retransmitted
        charged = await _kept_ccr(app)
        assert (charged.state, charged.attempts) == (DeferredChargeState.CHARGED.value, 3)
        assert _replays(app, "retry") == 2 and _replays(app, "charged") == 1
    finally:
        peer.close()
