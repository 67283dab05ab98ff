"""The Ro client against test OCSs on python-diameter's own node, over TCP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from diameter.message import Message

from charging.ccr import SmsChargingEvent
from charging.client import (
    ChargeResult,
    ChargingClient,
    ChargingMetrics,
    Unreachable,
    firmware_revision_of,
)
from charging.errors import CcaDecodeError, ChargingUnavailable
from charging.results import DeliverFree, Proceed, Reject
from smsc import __version__
from smsc.settings import ChargingPeer, ChargingSettings, SettingsError, settings_from
from smsc.sms.constants import RpCause
from tests.charging.conftest import SMSC
from tests.charging.eventually import eventually
from tests.charging.ocs import Behaviour, TestOcs, free_port
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
TX_MS = 150
ANSWER_TX_MS = 2000
"""Tx for tests that need the answer, not the timeout: the test OCS's threads can take longer
than TX_MS to answer on a loaded CI machine."""
READY_S = 6.0
"""Long enough for one reconnect (reconnect_s=1 plus the node's 1 s timer check): python-diameter
0.9's node can drop a connection it is still opening (it selects on the socket before connect()
and reads ENOTCONN), so a test that needs both peers up allows one retry."""


@pytest.fixture
def ocs1() -> Iterator[TestOcs]:
    ocs = TestOcs(origin_host="ocs1.ocs.example.net").start()
    yield ocs
    ocs.stop()


@pytest.fixture
def ocs2() -> Iterator[TestOcs]:
    ocs = TestOcs(origin_host="ocs2.ocs.example.net").start()
    yield ocs
    ocs.stop()


def settings_for(*ocss: TestOcs | tuple[str, int], **changes: object) -> ChargingSettings:
    peers = tuple(
        ChargingPeer(o.origin_host, "127.0.0.1", o.port)
        if isinstance(o, TestOcs)
        else ChargingPeer(o[0], "127.0.0.1", o[1])
        for o in ocss
    )
    return replace(ChargingSettings(enabled=True, peers=peers, timeout_ms=TX_MS), **changes)  # type: ignore[arg-type]


# --- answers -------------------------------------------------------------------------------


async def test_success_and_the_ocs_sees_our_ccr(ocs1: TestOcs, make_client) -> None:  # type: ignore[no-untyped-def]
    client: ChargingClient = await make_client(settings_for(ocs1, timeout_ms=ANSWER_TX_MS))
    result = await client.charge(EVENT)

    assert result.outcome == Proceed()
    assert result.result_code == 2001
    assert result.granted_units == 2
    assert result.peer == "ocs1.ocs.example.net"
    assert result.retransmitted is False
    assert result.ccr is None
    assert 0 < result.latency_s < ANSWER_TX_MS / 1000
    [seen] = ocs1.received
    assert seen.session_id == result.session_id
    assert seen.session_id.startswith("smsc.ims.example.net;")
    assert seen.service_context_id == "32274@3gpp.org"
    assert seen.access_network_information == PANI.encode()
    assert seen.requested_units == 2
    assert seen.retransmitted is False
    _, tree = plain_tree(seen.wire)
    ims = next(n for n in tree if n.code == 873).child(876)
    assert ims.child(1263).value == PANI.encode()


@pytest.mark.parametrize(
    ("behaviour", "outcome", "code"),
    [
        (Behaviour(result_code=4012), Reject(RpCause.SHORT_MESSAGE_TRANSFER_REJECTED, True), 4012),
        (Behaviour(result_code=5030), Reject(RpCause.UNKNOWN_SUBSCRIBER, True), 5030),
        (
            Behaviour(result_code=4010),
            Reject(RpCause.REQUESTED_FACILITY_NOT_SUBSCRIBED, True),
            4010,
        ),
        (Behaviour(result_code=4011), DeliverFree(), 4011),
        (Behaviour(result_code=2001, mscc_result_code=4012), Reject(RpCause(21), True), 4012),
    ],
)
async def test_result_codes_become_outcomes(
    ocs1: TestOcs,
    make_client,
    behaviour: Behaviour,
    outcome: object,
    code: int,  # type: ignore[no-untyped-def]
) -> None:
    ocs1.behaviour = behaviour
    client: ChargingClient = await make_client(settings_for(ocs1, timeout_ms=ANSWER_TX_MS))
    result = await client.charge(EVENT)
    assert result.outcome == outcome
    assert result.result_code == code
    assert result.retransmitted is False
    assert len(ocs1.received) == 1  # decided: no retry


async def test_fast_encoded_answers_read_the_same(ocs1: TestOcs, make_client) -> None:  # type: ignore[no-untyped-def]
    ocs1.fast_answers = True
    ocs1.behaviour = Behaviour(result_code=4012)
    client: ChargingClient = await make_client(settings_for(ocs1, timeout_ms=ANSWER_TX_MS))
    result = await client.charge(EVENT)
    assert result.outcome == Reject(RpCause.SHORT_MESSAGE_TRANSFER_REJECTED, True)


# --- failover ------------------------------------------------------------------------------


async def test_silent_peer_times_out_and_the_ccr_goes_to_the_other_peer_with_t_flag(
    ocs1: TestOcs,
    ocs2: TestOcs,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    ocs1.behaviour.silent = True
    client: ChargingClient = await make_client(settings_for(ocs1, ocs2, reconnect_s=1))
    await eventually(lambda: len(client.ready_peers()) == 2, within=READY_S)
    started = time.monotonic()
    result = await client.charge(EVENT)

    assert result.outcome == Proceed()
    assert result.peer == "ocs2.ocs.example.net"
    assert result.retransmitted is True
    assert TX_MS / 1000 <= time.monotonic() - started < 2 * TX_MS / 1000
    [first], [second] = ocs1.received, ocs2.received
    assert first.retransmitted is False
    assert second.retransmitted is True
    assert second.session_id == first.session_id == result.session_id
    assert second.end_to_end == first.end_to_end
    assert sum(client.waiting_answers().values()) == 0


async def test_protocol_error_fails_over_to_the_other_peer(
    ocs1: TestOcs,
    ocs2: TestOcs,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    ocs1.behaviour = Behaviour(result_code=3004)  # DIAMETER_TOO_BUSY, E bit
    client: ChargingClient = await make_client(settings_for(ocs1, ocs2, reconnect_s=1))
    await eventually(lambda: len(client.ready_peers()) == 2, within=READY_S)
    result = await client.charge(EVENT)
    assert result.outcome == Proceed()
    assert (result.peer, result.retransmitted) == ("ocs2.ocs.example.net", True)
    assert ocs2.received[0].retransmitted is True


@pytest.mark.parametrize("policy", ["continue", "terminate"])
async def test_both_peers_silent_applies_failure_handling(
    ocs1: TestOcs,
    ocs2: TestOcs,
    make_client,
    policy: str,  # type: ignore[no-untyped-def]
) -> None:
    ocs1.behaviour.silent = ocs2.behaviour.silent = True
    client: ChargingClient = await make_client(
        settings_for(ocs1, ocs2, failure_handling=policy, reconnect_s=1)
    )
    await eventually(lambda: len(client.ready_peers()) == 2, within=READY_S)
    result = await client.charge(EVENT)

    assert result.outcome == Unreachable(policy, "timeout")  # type: ignore[arg-type]
    assert result.result_code is None
    assert result.retransmitted is True
    assert result.ccr is not None and result.ccr[4] & 0x10  # T flag, ready to send later
    assert decode_session(result.ccr) == result.session_id
    # a silent OCS records in its own thread, which a loaded machine may run after our Tx
    await eventually(lambda: len(ocs1.received) == len(ocs2.received) == 1)
    assert sum(client.waiting_answers().values()) == 0
    assert client.in_flight == 0


def decode_session(ccr: bytes) -> str:
    message = Message.from_bytes(ccr)
    session: str = message.session_id
    return session


async def test_single_silent_peer_gives_up_after_one_tx(ocs1: TestOcs, make_client) -> None:  # type: ignore[no-untyped-def]
    ocs1.behaviour.silent = True
    client: ChargingClient = await make_client(settings_for(ocs1, failure_handling="terminate"))
    result = await client.charge(EVENT)
    assert result.outcome == Unreachable("terminate", "timeout")
    assert result.retransmitted is False  # no other peer to send the copy to
    await eventually(lambda: len(ocs1.received) == 1)  # recorded in the OCS's own thread


async def test_peer_lost_while_waiting_fails_over_at_once(
    ocs1: TestOcs,
    ocs2: TestOcs,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    ocs1.behaviour.silent = True
    client: ChargingClient = await make_client(
        settings_for(ocs1, ocs2, timeout_ms=3000, reconnect_s=1)
    )
    await eventually(lambda: len(client.ready_peers()) == 2, within=READY_S)
    task = asyncio.create_task(client.charge(EVENT))
    await eventually(lambda: len(ocs1.received) == 1)
    started = time.monotonic()
    ocs1.stop(graceful=False)  # TCP reset, no DPR
    result = await task

    assert time.monotonic() - started < 1.0  # did not wait for the 3 s Tx timer
    assert result.outcome == Proceed()
    assert (result.peer, result.retransmitted) == ("ocs2.ocs.example.net", True)
    assert ocs2.received[0].session_id == ocs1.received[0].session_id


async def test_first_peer_down_at_start(ocs2: TestOcs, make_client) -> None:  # type: ignore[no-untyped-def]
    dead = ("ocs1.ocs.example.net", free_port())
    client: ChargingClient = await make_client(settings_for(dead, ocs2))
    assert client.ready_peers() == ["ocs2.ocs.example.net"]
    for _ in range(3):
        result = await client.charge(EVENT)
        assert result.outcome == Proceed()
        assert (result.peer, result.retransmitted) == ("ocs2.ocs.example.net", False)


async def test_no_peer_at_all(make_client) -> None:  # type: ignore[no-untyped-def]
    client: ChargingClient = await make_client(settings_for(("ocs1.ocs.example.net", free_port())))
    result = await client.charge(EVENT)
    assert result.outcome == Unreachable("continue", "no peer")
    assert (result.peer, result.retransmitted) == (None, False)
    assert result.ccr is not None


@pytest.mark.parametrize("graceful", [True, False], ids=["dpr", "crash"])
async def test_reconnects_after_the_ocs_restarts(make_client, graceful: bool) -> None:  # type: ignore[no-untyped-def]
    ocs = TestOcs().start()
    try:
        client: ChargingClient = await make_client(settings_for(ocs, reconnect_s=1))
        assert (await client.charge(EVENT)).outcome == Proceed()
        ocs.stop(graceful=graceful)
        await eventually(lambda: not client.ready_peers())
        down = await client.charge(EVENT)
        assert down.outcome == Unreachable("continue", "no peer")

        ocs = TestOcs(port=ocs.port).start()
        await eventually(lambda: bool(client.ready_peers()), within=4.0)
        assert (await client.charge(EVENT)).outcome == Proceed()
    finally:
        ocs.stop()


# --- load, leaks, lifecycle ----------------------------------------------------------------


async def test_a_thousand_concurrent_charges_without_caps_or_leaks(
    ocs1: TestOcs,
    ocs2: TestOcs,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    for ocs in (ocs1, ocs2):
        ocs.fast_answers, ocs.record = True, False
    client: ChargingClient = await make_client(settings_for(ocs1, ocs2, timeout_ms=20_000))
    assert sum(client.waiting_answers().values()) == 0
    tasks = [asyncio.create_task(client.charge(EVENT)) for _ in range(1000)]
    await asyncio.sleep(0)
    peak = client.in_flight
    results = await asyncio.gather(*tasks)

    assert peak == 1000  # every CCR was on the wire at once: no executor, no cap
    assert all(r.outcome == Proceed() for r in results)
    assert len({r.session_id for r in results}) == 1000
    assert ocs1.count + ocs2.count == 1000
    assert min(ocs1.count, ocs2.count) > 100  # both peers used
    assert client.in_flight == 0
    assert sum(client.waiting_answers().values()) == 0


async def test_stop_leaves_no_thread_and_refuses_new_charges() -> None:
    baseline = set(threading.enumerate())
    ocs = TestOcs().start()
    client = ChargingClient(settings_for(ocs), smsc_address=SMSC)
    await client.start()
    assert (await client.charge(EVENT)).outcome == Proceed()
    started = time.monotonic()
    await client.stop()
    assert time.monotonic() - started < 1.0
    ocs.stop()
    assert set(threading.enumerate()) == baseline
    with pytest.raises(ChargingUnavailable):
        await client.charge(EVENT)
    await client.stop()  # idempotent


async def test_stop_ends_pending_charges(ocs1: TestOcs) -> None:
    ocs1.behaviour.silent = True
    client = ChargingClient(settings_for(ocs1, timeout_ms=5000), smsc_address=SMSC)
    await client.start()
    task = asyncio.create_task(client.charge(EVENT))
    await eventually(lambda: len(ocs1.received) == 1)
    await client.stop()
    result = await task
    assert isinstance(result.outcome, Unreachable)
    assert result.outcome.reason == "client stopped"


async def test_metrics_count_result_codes_and_latency(ocs1: TestOcs) -> None:
    metrics = ChargingMetrics()
    client = ChargingClient(settings_for(ocs1), smsc_address=SMSC, metrics=metrics)
    await client.start()
    try:
        await client.charge(EVENT)
        ocs1.behaviour = Behaviour(result_code=4012)
        await client.charge(EVENT)
        ocs1.behaviour = Behaviour(silent=True)
        await client.charge(EVENT)
    finally:
        await client.stop()
    assert metrics.result_codes == {2001: 1, 4012: 1, None: 1}
    assert metrics.outcomes == {"proceed": 1, "reject": 1, "unreachable_continue": 1}
    assert metrics.latency_count == 3 == sum(metrics.latency_counts)
    assert metrics.latency_sum_s >= TX_MS / 1000


# --- pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sms_node", "msc"),
        ("recipient_nesting", "rel9"),
        ("failure_handling", "maybe"),
        ("peers", ()),
        ("origin_host", "smsc é"),
    ],
)
def test_bad_charging_settings_are_refused(key: str, value: object) -> None:
    with pytest.raises(SettingsError, match=f"charging.{key}"):
        settings_from({"charging": {key: value}})


def test_result_is_a_plain_value() -> None:
    result = ChargeResult(
        outcome=Proceed(),
        session_id="s",
        result_code=2001,
        granted_units=1,
        peer="p",
        retransmitted=False,
        latency_s=0.001,
    )
    assert result.ccr is None


# --- our identity in the CER ---------------------------------------------------------------


def test_firmware_revision_from_the_version() -> None:
    assert firmware_revision_of("0.1.0") == 100
    assert firmware_revision_of("2.13.7") == 21307
    assert firmware_revision_of("1.0.0rc1") is None
    assert firmware_revision_of("unknown") is None


async def test_the_cer_carries_our_identity_by_default(ocs1: TestOcs, make_client) -> None:  # type: ignore[no-untyped-def]
    await make_client(settings_for(ocs1))
    await eventually(lambda: bool(ocs1.cers))
    cer = ocs1.cers[0]
    assert cer.origin_host == b"smsc.ims.example.net"
    assert cer.origin_realm == b"ims.example.net"
    assert cer.vendor_id == 0
    assert cer.product_name == "smsc"
    assert cer.firmware_revision == firmware_revision_of(__version__) == 100
    assert cer.supported_vendor_id == [10415]
    assert cer.auth_application_id == [4]
    assert cer.host_ip_address


async def test_the_cer_carries_the_configured_identity(ocs1: TestOcs, make_client) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(
        ocs1, vendor_id=32473, product_name="ACME SMSC", firmware_revision=70203
    )
    await make_client(settings)
    await eventually(lambda: bool(ocs1.cers))
    cer = ocs1.cers[0]
    assert (cer.vendor_id, cer.product_name, cer.firmware_revision) == (32473, "ACME SMSC", 70203)
    assert cer.supported_vendor_id == [10415]


async def test_a_kept_ccr_is_sent_again_unchanged_with_the_t_flag(
    ocs1: TestOcs,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    """Deferred charging's resend: the kept bytes, T flag, the same Session-Id and E2E id."""
    ocs1.behaviour.silent = True
    client: ChargingClient = await make_client(settings_for(ocs1))
    first = await client.charge(EVENT)
    assert isinstance(first.outcome, Unreachable) and first.ccr is not None
    ocs1.behaviour.silent = False
    again = await client.charge_again(first.ccr)
    assert (again.outcome, again.session_id) == (Proceed(), first.session_id)
    await eventually(lambda: len(ocs1.received) == 2)
    original, resent = ocs1.received
    assert resent.retransmitted is True
    assert (resent.session_id, resent.end_to_end) == (original.session_id, original.end_to_end)


@pytest.mark.parametrize("kept", [b"", b"\x01\x00\x00\x14" + bytes(16), b"not diameter at all"])
async def test_a_kept_ccr_without_a_session_id_is_a_typed_error(
    ocs1: TestOcs,
    make_client,  # type: ignore[no-untyped-def]
    kept: bytes,
) -> None:
    client: ChargingClient = await make_client(settings_for(ocs1))
    with pytest.raises(CcaDecodeError):
        await client.charge_again(kept)
    assert ocs1.count == 0
