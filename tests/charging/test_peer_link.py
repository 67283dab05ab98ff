"""The Ro client's own Diameter peers over real TCP: watchdog, DWR from the OCS, failback.

A raw asyncio OCS (CEA from our base encoders, silent or not to DWR) plays the peers whose
misbehaviour python-diameter's node cannot be told to show; python-diameter's test OCS plays
the well-behaved ones.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest

from charging.client import ChargingClient, Unreachable
from charging.diameter import base
from charging.diameter.base import BaseCommandCode, LocalIdentity
from charging.diameter.framing import MessageFramer, parse_header
from charging.results import Proceed
from smsc.settings import ChargingPeer, ChargingSettings
from tests.charging.conftest import SMSC
from tests.charging.eventually import eventually
from tests.charging.ocs import TestOcs
from tests.charging.test_client import EVENT

OCS = LocalIdentity(
    origin_host="raw.ocs.example.net",
    origin_realm="ocs.example.net",
    host_ip_addresses=("127.0.0.1",),
    vendor_id=0,
    product_name="raw-ocs",
    origin_state_id=1,
)


@dataclass
class RawOcs:
    """Answers CER with CEA 2001; answers DWR unless ``answer_dwr`` is off; can send a DWR."""

    answer_dwr: bool = True
    seen: list[tuple[int, int]] = field(default_factory=list)
    """(connection number, command code) of every request received, in order."""
    requests: list[bytes] = field(default_factory=list)
    """Every request received, as received."""
    answers: list[int] = field(default_factory=list)
    """Command codes of the answers received from the client."""
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    server: asyncio.Server | None = None
    port: int = 0

    async def start(self) -> RawOcs:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        number = len(self.writers)
        framer = MessageFramer()
        while data := await reader.read(65536):
            framer.receive_data(data)
            while (message := framer.next_message()) is not None:
                header = parse_header(message)
                if not header.is_request:
                    self.answers.append(header.command_code)
                    continue
                self.seen.append((number, header.command_code))
                self.requests.append(message)
                ids = {"hop_by_hop": header.hop_by_hop, "end_to_end": header.end_to_end}
                if header.command_code == BaseCommandCode.CAPABILITIES_EXCHANGE:
                    writer.write(base.encode_cea(OCS, result_code=2001, **ids))
                elif header.command_code == BaseCommandCode.DEVICE_WATCHDOG and self.answer_dwr:
                    writer.write(base.encode_dwa(OCS, **ids))

    def send_dwr(self) -> None:
        self.writers[-1].write(base.encode_dwr(OCS, hop_by_hop=77, end_to_end=78))


def raw_settings(ocs: RawOcs, **changes: object) -> ChargingSettings:
    settings = ChargingSettings(
        enabled=True, peers=(ChargingPeer(OCS.origin_host, "127.0.0.1", ocs.port),)
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def raw_ocs() -> AsyncIterator[RawOcs]:
    ocs = await RawOcs().start()
    yield ocs
    await ocs.stop()


async def test_an_ocs_silent_to_its_watchdog_is_suspect_then_dropped_and_reconnected(
    raw_ocs: RawOcs,
) -> None:
    raw_ocs.answer_dwr = False
    client = ChargingClient(raw_settings(raw_ocs, watchdog_s=1, reconnect_s=1), smsc_address=SMSC)
    await client.start()
    try:
        assert client.ready_peers() == [OCS.origin_host]
        started = time.monotonic()
        await eventually(lambda: client.ready_peers() == [], within=6)  # suspect: DWR + Tw
        suspect_after = time.monotonic() - started
        assert 1.0 < suspect_after < 3.5  # RFC 3539: Tw (1 s +- 0.25) twice at most
        # down after another Tw, then a new connection after Tc: a second CER
        await eventually(
            lambda: (2, BaseCommandCode.CAPABILITIES_EXCHANGE) in raw_ocs.seen, within=6
        )
        assert raw_ocs.seen[:2] == [
            (1, BaseCommandCode.CAPABILITIES_EXCHANGE),
            (1, BaseCommandCode.DEVICE_WATCHDOG),
        ]
        await eventually(lambda: client.ready_peers() == [OCS.origin_host], within=6)
    finally:
        await client.stop()


async def test_a_dwr_from_the_ocs_is_answered_and_keeps_the_peer_open(raw_ocs: RawOcs) -> None:
    client = ChargingClient(raw_settings(raw_ocs), smsc_address=SMSC)
    await client.start()
    try:
        raw_ocs.send_dwr()
        await eventually(lambda: BaseCommandCode.DEVICE_WATCHDOG in raw_ocs.answers)
        assert client.ready_peers() == [OCS.origin_host]
    finally:
        await client.stop()
    # stop sends DPR (RFC 6733 §5.4) on the open connection
    assert raw_ocs.seen[-1] == (1, BaseCommandCode.DISCONNECT_PEER)


async def test_our_cer_names_us_and_the_address_we_connect_from(raw_ocs: RawOcs) -> None:
    client = ChargingClient(
        raw_settings(raw_ocs, vendor_id=32473, product_name="ACME SMSC"), smsc_address=SMSC
    )
    await client.start()
    await client.stop()
    cer = base.decode_base(raw_ocs.requests[0])
    assert isinstance(cer, base.CapabilitiesRequest)
    assert cer.origin_host == "smsc.ims.example.net"
    assert cer.vendor_id == 32473
    assert cer.product_name == "ACME SMSC"
    assert cer.host_ip_addresses == ("127.0.0.1",)
    assert 10415 in cer.supported_vendor_ids
    assert 4 in cer.auth_application_ids


async def test_requests_go_to_the_preferred_peer_fail_over_and_fail_back() -> None:
    first = TestOcs(origin_host="ocs1.ocs.example.net").start()
    second = TestOcs(origin_host="ocs2.ocs.example.net").start()
    settings = ChargingSettings(
        enabled=True,
        peers=(
            ChargingPeer(first.origin_host, "127.0.0.1", first.port, priority=1),
            ChargingPeer(second.origin_host, "127.0.0.1", second.port, priority=2),
        ),
        timeout_ms=500,
        reconnect_s=1,
    )
    client = ChargingClient(settings, smsc_address=SMSC)
    await client.start()
    try:
        await eventually(lambda: len(client.ready_peers()) == 2, within=6)
        results = [await client.charge(EVENT) for _ in range(5)]
        assert {r.peer for r in results} == {first.origin_host}
        first.stop()  # DPR: the client closes and waits Tc
        await eventually(lambda: client.ready_peers() == [second.origin_host])
        result = await client.charge(EVENT)
        assert (result.outcome, result.peer) == (Proceed(), second.origin_host)
        first = TestOcs(origin_host="ocs1.ocs.example.net", port=first.port).start()
        await eventually(lambda: len(client.ready_peers()) == 2, within=6)
        result = await client.charge(EVENT)
        assert result.peer == first.origin_host  # failback to the preferred peer
    finally:
        await client.stop()
        first.stop()
        second.stop()


def test_the_client_runs_on_uvloop_as_smsc_serve_does() -> None:
    """`smsc serve` runs on uvloop, whose transports are not asyncio.Transport subclasses."""
    uvloop = pytest.importorskip("uvloop")

    async def charge_once() -> str | None:
        ocs = TestOcs(origin_host="ocs1.ocs.example.net").start()
        settings = ChargingSettings(
            enabled=True, peers=(ChargingPeer(ocs.origin_host, "127.0.0.1", ocs.port),)
        )
        client = ChargingClient(settings, smsc_address=SMSC)
        try:
            await client.start()
            await eventually(lambda: client.ready_peers() == [ocs.origin_host])
            result = await client.charge(EVENT)
            assert result.outcome == Proceed()
            return result.peer
        finally:
            await client.stop()
            ocs.stop()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(charge_once()) == "ocs1.ocs.example.net"


async def test_an_unreachable_ocs_is_one_warning_not_one_per_reconnect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="smsc.charging")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens there
    settings = ChargingSettings(
        enabled=True, peers=(ChargingPeer("gone.example.net", "127.0.0.1", port),), reconnect_s=1
    )
    client = ChargingClient(settings, smsc_address=SMSC)
    await client.start()
    try:
        await eventually(
            lambda: sum("still down" in r.getMessage() for r in caplog.records) >= 2, within=5
        )
    finally:
        await client.stop()
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "down" in r.getMessage()
    ]
    assert len(warnings) == 1


async def test_each_request_gets_its_own_tx_though_one_timer_serves_them_all(
    raw_ocs: RawOcs,
) -> None:
    """The raw OCS never answers a CCR: three sent 150 ms apart each fail one Tx after their
    own sending, not all at the first one's deadline, and nothing is left waiting."""
    client = ChargingClient(raw_settings(raw_ocs, timeout_ms=400), smsc_address=SMSC)
    await client.start()
    loop = asyncio.get_running_loop()
    try:
        assert client.ready_peers() == [OCS.origin_host]

        async def charged_after(delay_s: float) -> tuple[float, float, str]:
            await asyncio.sleep(delay_s)
            sent = loop.time()
            result = await client.charge(EVENT)
            assert isinstance(result.outcome, Unreachable)
            return sent, loop.time(), result.outcome.reason

        results = await asyncio.wait_for(
            asyncio.gather(*(charged_after(0.15 * i) for i in range(3))), 5
        )
        for sent, ended, reason in results:
            assert reason == "timeout"
            assert 0.39 <= ended - sent < 0.9, ended - sent  # its own Tx, not another's
        assert results[2][1] - results[0][1] >= 0.25  # the last ended after the first's Tx
        assert client.in_flight == 0
        assert client.waiting_answers() == {OCS.origin_host: 0}
    finally:
        await client.stop()


async def test_traffic_moves_the_watchdog_later(raw_ocs: RawOcs) -> None:
    """RFC 3539 §3.4.1: any message received restarts Tw, so the client's own DWR comes one Tw
    after the OCS's last message, not at the deadline set before it."""
    client = ChargingClient(raw_settings(raw_ocs, watchdog_s=1), smsc_address=SMSC)
    await client.start()
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        for _ in range(4):  # a message from the OCS every 0.5 s for 2 s
            await asyncio.sleep(0.5)
            raw_ocs.send_dwr()
        last = loop.time()
        assert (1, BaseCommandCode.DEVICE_WATCHDOG) not in raw_ocs.seen  # Tw never ran out
        await eventually(lambda: (1, BaseCommandCode.DEVICE_WATCHDOG) in raw_ocs.seen, within=4)
        dwr_at = loop.time()
        assert dwr_at - last >= 0.7  # Tw (1 s, jitter 0.25 s) after the last message
        assert dwr_at - started >= 2.7
        assert client.ready_peers() == [OCS.origin_host]
    finally:
        await client.stop()
