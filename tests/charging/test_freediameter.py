"""End-to-end interop: our Ro client -> a real freeDiameter relay -> the test OCS (issue 14).

freeDiameter 1.2.1 (Debian's freediameterd) accepts our CER, parses each CCR against its
DCCA / 3GPP dictionaries, routes it by Destination-Realm to the OCS and relays the CCA back.
Missing freeDiameter fails these tests under CI (or SMSC_REQUIRE_FREEDIAMETER=1), else skips.
Only the client's public API is used: ChargingClient(settings, smsc_address=...),
start / charge / stop, ready_peers().
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from charging.ccr import SmsChargingEvent
from charging.client import ChargingClient, Unreachable
from charging.results import Proceed, Reject
from smsc.settings import ChargingPeer, ChargingSettings
from smsc.sms.constants import RpCause
from tests.charging.eventually import eventually
from tests.charging.freediameter import (
    RELAY_HOST,
    RELAY_REALM,
    DiameterTap,
    FreeDiameterRelay,
    freediameter_relay,
    require_freediameter,
    split_avps,
)
from tests.charging.ocs import CLIENT_HOST, Behaviour, TestOcs
from tests.charging.oracle import plain_tree

PANI = "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=208011234567890ab; network-provided"
EVENT = SmsChargingEvent(
    charged_msisdn="+4915112345678",
    recipient="4917099999",
    calling_party_address="tel:+4915112345678",
    called_party_address="tel:+4917099999",
    segments=2,
    pani=PANI,
)
TX_MS = 1000  # one hop more than test_client's, on a loaded CI machine
CCR = 272
ROUTE_RECORD, SERVICE_INFORMATION, IMS_INFORMATION, SMS_INFORMATION = 282, 873, 876, 2000
ACCESS_NETWORK_INFORMATION = 1263
RECONNECT_S = 8.0
"""reconnect_s=1 plus the node's 1 s timer check, twice (python-diameter 0.9 may drop a
connection it is still opening, see test_client.READY_S), and freeDiameter's own start."""


@pytest.fixture(autouse=True)
def _freediameter_installed() -> None:
    require_freediameter()


@pytest.fixture
def ocs() -> Iterator[TestOcs]:
    """The test OCS, accepting the relay (not the SMSC) as its peer."""
    ocs = TestOcs(client_host=RELAY_HOST, client_realm=RELAY_REALM).start()
    yield ocs
    ocs.stop()


@pytest.fixture
def relay(ocs: TestOcs, tmp_path: Path) -> Iterator[FreeDiameterRelay]:
    with freediameter_relay(tmp_path, ocs_port=ocs.port, ocs_host=ocs.origin_host) as relay:
        yield relay


def settings_for(port: int, **changes: object) -> ChargingSettings:
    settings = ChargingSettings(
        enabled=True, peers=(ChargingPeer(RELAY_HOST, "127.0.0.1", port),), timeout_ms=TX_MS
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


async def ready_client(make_client, port: int, **changes: object) -> ChargingClient:  # type: ignore[no-untyped-def]
    client: ChargingClient = await make_client(settings_for(port, reconnect_s=1, **changes))
    await eventually(lambda: client.ready_peers() == [RELAY_HOST], within=RECONNECT_S)
    return client


# --- (a) capabilities exchange -------------------------------------------------------------


async def test_freediameter_accepts_our_cer(
    ocs: TestOcs,
    relay: FreeDiameterRelay,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    await ready_client(make_client, relay.port)
    await eventually(lambda: relay.peer_open(CLIENT_HOST))
    log = relay.log()
    assert f"No TLS protection negotiated with peer '{CLIENT_HOST}'" in log
    assert "ERROR" not in log
    assert [cer.origin_host for cer in ocs.cers] == [RELAY_HOST.encode()]


# --- (b) a CCR through the relay and its CCA back, byte for byte ---------------------------


async def test_ccr_is_relayed_unchanged_and_the_cca_comes_back(
    ocs: TestOcs,
    tmp_path: Path,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    # client -> tap -> freeDiameter -> tap -> OCS: each tap keeps the bytes it passed on
    behind = DiameterTap(ocs.port).start()
    try:
        with freediameter_relay(tmp_path, ocs_port=behind.port, ocs_host=ocs.origin_host) as relay:
            front = DiameterTap(relay.port).start()
            try:
                client = await ready_client(make_client, front.port)
                result = await client.charge(EVENT)
            finally:
                front.stop()
    finally:
        behind.stop()

    assert result.outcome == Proceed()
    assert (result.result_code, result.granted_units) == (2001, 2)
    assert (result.peer, result.retransmitted) == (RELAY_HOST, False)

    # the OCS got it, and read what we wrote
    [seen] = ocs.received
    assert seen.session_id == result.session_id
    assert seen.service_context_id == "32274@3gpp.org"
    assert seen.access_network_information == PANI.encode()
    assert seen.requested_units == 2
    _, tree = plain_tree(seen.wire)
    service = next(n for n in tree if n.code == SERVICE_INFORMATION)
    assert service.child(IMS_INFORMATION).child(ACCESS_NETWORK_INFORMATION).value == PANI.encode()
    service.child(SMS_INFORMATION)  # present, exactly once

    # freeDiameter's dictionary checks passed it on unchanged: same header (but the
    # hop-by-hop id), same AVPs in the same order, plus its Route-Record
    [sent] = front.requests(CCR)
    [relayed] = behind.requests(CCR)
    assert relayed[0] == sent[0]  # version
    assert relayed[4:12] == sent[4:12]  # flags, command code, application id
    assert relayed[16:20] == sent[16:20]  # end-to-end id
    relayed_avps = split_avps(relayed)
    route_records = [avp for avp in relayed_avps if avp.code == ROUTE_RECORD]
    assert [avp.data for avp in route_records] == [CLIENT_HOST.encode()]
    assert [avp for avp in relayed_avps if avp.code != ROUTE_RECORD] == split_avps(sent)
    assert int.from_bytes(relayed[1:4], "big") == len(sent) + len(route_records[0].wire)

    # and the CCA came back as the OCS wrote it, but for a Route-Record: freeDiameter 1.2.1
    # adds one to relayed answers too (RFC 6733 has it in requests only); we must not mind
    [answered] = behind.answers(CCR)
    [received] = front.answers(CCR)
    assert received[16:20] == answered[16:20] == sent[16:20]
    received_avps = split_avps(received)
    assert [a.data for a in received_avps if a.code == ROUTE_RECORD] == [ocs.origin_host.encode()]
    assert [a for a in received_avps if a.code != ROUTE_RECORD] == split_avps(answered)


# --- (c) a decision through the relay ------------------------------------------------------


@pytest.mark.parametrize(
    "behaviour",
    [Behaviour(result_code=4012), Behaviour(result_code=2001, mscc_result_code=4012)],
    ids=["result-code", "mscc"],
)
async def test_credit_limit_reached_rejects_through_the_relay(
    ocs: TestOcs,
    relay: FreeDiameterRelay,
    make_client,  # type: ignore[no-untyped-def]
    behaviour: Behaviour,
) -> None:
    ocs.behaviour = behaviour
    client = await ready_client(make_client, relay.port)
    result = await client.charge(EVENT)
    assert result.outcome == Reject(RpCause.SHORT_MESSAGE_TRANSFER_REJECTED, True)
    assert result.result_code == 4012
    assert (result.peer, result.retransmitted) == (RELAY_HOST, False)
    assert len(ocs.received) == 1  # decided: no retry


# --- (d) OCS silence behind the relay --------------------------------------------------------


@pytest.mark.parametrize("policy", ["continue", "terminate"])
async def test_ocs_silence_times_out_per_policy_and_the_relay_stays_usable(
    ocs: TestOcs,
    relay: FreeDiameterRelay,
    make_client,  # type: ignore[no-untyped-def]
    policy: str,
) -> None:
    ocs.behaviour.silent = True
    client = await ready_client(make_client, relay.port, timeout_ms=300, failure_handling=policy)
    started = time.monotonic()
    result = await client.charge(EVENT)

    assert 0.3 <= time.monotonic() - started < 1.5  # the Tx timer, not more
    assert result.outcome == Unreachable(policy, "timeout")  # type: ignore[arg-type]
    assert result.result_code is None
    assert len(ocs.received) == 1  # one peer (the relay): no copy elsewhere

    ocs.behaviour.silent = False
    assert client.ready_peers() == [RELAY_HOST]  # a timeout is not a lost connection
    assert (await client.charge(EVENT)).outcome == Proceed()


# --- (e) the relay restarts -------------------------------------------------------------------


async def test_the_client_reconnects_after_freediameter_stops_and_starts(
    ocs: TestOcs,
    relay: FreeDiameterRelay,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    client = await ready_client(make_client, relay.port)
    assert (await client.charge(EVENT)).outcome == Proceed()

    await asyncio.to_thread(relay.stop)  # SIGTERM: freeDiameter sends DPR
    await eventually(lambda: not client.ready_peers())
    down = await client.charge(EVENT)
    assert down.outcome == Unreachable("continue", "no peer")

    await asyncio.to_thread(relay.start)
    await eventually(lambda: client.ready_peers() == [RELAY_HOST], within=RECONNECT_S)
    await eventually(lambda: relay.peer_open(CLIENT_HOST))  # in the new daemon's log
    again = await client.charge(EVENT)
    assert (again.outcome, again.peer) == (Proceed(), RELAY_HOST)
    assert [ccr.session_id for ccr in ocs.received] == [
        ocs.received[0].session_id,
        again.session_id,
    ]


async def test_the_client_reconnects_after_freediameter_crashes_and_restarts(
    ocs: TestOcs,
    relay: FreeDiameterRelay,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    client = await ready_client(make_client, relay.port)
    assert (await client.charge(EVENT)).outcome == Proceed()

    await asyncio.to_thread(relay.restart, graceful=False)  # SIGKILL: no DPR, TCP closed
    assert relay.runs == 2
    await eventually(lambda: relay.peer_open(CLIENT_HOST), within=RECONNECT_S)
    await eventually(lambda: client.ready_peers() == [RELAY_HOST], within=RECONNECT_S)
    again = await client.charge(EVENT)
    assert (again.outcome, again.peer) == (Proceed(), RELAY_HOST)
    assert len(ocs.received) == 2


# --- (f) an answer freeDiameter makes itself ----------------------------------------------------


async def test_ocs_down_behind_the_relay_is_unreachable_per_policy(
    ocs: TestOcs,
    relay: FreeDiameterRelay,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    client = await ready_client(make_client, relay.port, failure_handling="terminate")
    ocs.stop(graceful=False)
    await eventually(lambda: not relay.peer_open(ocs.origin_host))
    result = await client.charge(EVENT)
    assert result.result_code == 3002  # DIAMETER_UNABLE_TO_DELIVER, from freeDiameter
    assert result.outcome == Unreachable("terminate", "result 3002")
    assert client.ready_peers() == [RELAY_HOST]  # the relay itself is still there
