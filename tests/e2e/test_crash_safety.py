"""kill -9 during MO load, restart: every MO that got an RP-ACK is stored once and delivered."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import asyncpg

from smsc.sms.address import Address
from smsc.sms.constants import Alphabet, RpMessageType
from smsc.sms.rp import RpAck, RpData, decode_rp, encode_rp
from smsc.sms.tp import SmsDeliver, SmsSubmit, decode_tpdu, encode_tpdu
from smsc.sms.user_data import make_user_data
from tests.e2e.conftest import PG_URL, free_port
from tests.e2e.peer import UdpPeer, Wire, message_request, response_to, udp_peer

PSI = "sip:smsc@ims.mnc001.mcc001.3gppnetwork.org"
COUNT = 300
BURST = 600


def serve(
    workdir: Path,
    sip: int,
    http: int,
    next_hop: int,
    settings: Mapping[str, str] | None = None,
    **storage: str,
) -> subprocess.Popen[bytes]:
    """`smsc serve` on SQLite in `workdir`, or on the SMSC__STORAGE__* given as `storage`;
    `settings` adds SMSC__* variables."""
    env = dict(
        os.environ,
        SMSC__SIP__LISTEN=f'["udp:127.0.0.1:{sip}"]',
        SMSC__HTTP__LISTEN=f"127.0.0.1:{http}",
        SMSC__SIP__NEXT_HOP=f"sip:127.0.0.1:{next_hop}",
        SMSC__SIP__T1_MS="100",
        SMSC__STORAGE__DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'smsc.db'}",
    )
    env.update({f"SMSC__STORAGE__{name.upper()}": value for name, value in storage.items()})
    env.update(settings or {})
    log = open(workdir / "serve.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "smsc.cli", "serve"], env=env, stdout=log, stderr=log, cwd=workdir
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=1):
                return process
        except OSError:
            assert process.poll() is None, (workdir / "serve.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)


def mo_body(i: int) -> bytes:
    submit = SmsSubmit(
        i & 0xFF, Address("491710009999"), 0, 0, make_user_data(f"msg {i}", Alphabet.GSM7)
    )
    return encode_rp(
        RpData(
            RpMessageType.RP_DATA_MS_TO_N,
            i & 0xFF,
            None,
            Address("491710760000"),
            encode_tpdu(submit),
        )
    )


class Network:
    """The S-CSCF side: sends MOs, answers the SMSC's MESSAGEs, plays the recipient UE."""

    def __init__(self, peer: UdpPeer, sip: int) -> None:
        self.peer = peer
        self.sip = sip
        self.acked: set[str] = set()
        self.delivered: Counter[str] = Counter()
        self.by_call_id: dict[str, str] = {}

    def send(self, i: int) -> None:
        request, call_id = message_request(
            uri=PSI,
            sender=f"tel:+4917100{i:05d}",
            body=mo_body(i),
            via=f"SIP/2.0/UDP 127.0.0.1:{self.peer.port}",
        )
        self.by_call_id[call_id] = f"msg {i}"
        self.peer.send(request, ("127.0.0.1", self.sip))

    def handle(self, wire: Wire) -> None:
        if not wire.is_request:
            return
        self.peer.send(response_to(wire), wire.source)
        message = decode_rp(wire.body)
        if isinstance(message, RpAck):  # the SMSC acknowledging an MO
            self.acked.add(self.by_call_id[wire.get("In-Reply-To")])
        elif isinstance(message, RpData):  # MT to the recipient: RP-ACK it
            deliver = decode_tpdu(message.user_data, message.message_type)
            assert isinstance(deliver, SmsDeliver)
            assert deliver.user_data.text is not None
            self.delivered[deliver.user_data.text] += 1
            ack = encode_rp(RpAck(RpMessageType.RP_ACK_MS_TO_N, message.message_reference))
            request, _ = message_request(
                uri=PSI,
                sender="tel:+491710009999",
                body=ack,
                via=f"SIP/2.0/UDP 127.0.0.1:{self.peer.port}",
            )
            self.peer.send(request, ("127.0.0.1", self.sip))

    async def pump(self, until: float) -> None:
        while time.monotonic() < until:
            try:
                self.handle(await self.peer.next(timeout=max(0.01, until - time.monotonic())))
            except TimeoutError:
                return


async def test_kill_9_then_restart_loses_no_acknowledged_mo(tmp_path: Path) -> None:
    peer = await udp_peer()
    sip, http = free_port(), free_port()
    first = serve(tmp_path, sip, http, peer.port)
    network = Network(peer, sip)
    try:
        for i in range(COUNT):
            network.send(i)
            if i % 20 == 19:
                await network.pump(time.monotonic() + 0.02)
            if i == COUNT // 2:
                first.send_signal(signal.SIGKILL)  # mid-load, no goodbye
                first.wait()
        await network.pump(time.monotonic() + 0.5)
        acked_before_restart = set(network.acked)
        assert acked_before_restart, "nothing was acknowledged before the kill"
        second = serve(tmp_path, sip, http, peer.port)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not acked_before_restart <= set(
                network.delivered
            ):
                await network.pump(time.monotonic() + 0.2)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        peer.close()
    missing = acked_before_restart - set(network.delivered)
    assert not missing, f"{len(missing)} acknowledged MOs never delivered"
    rows = (
        sqlite3.connect(tmp_path / "smsc.db")
        .execute("select text, count(*) from messages group by text having count(*) > 1")
        .fetchall()
    )
    assert rows == [], f"stored twice: {rows}"
    twice = [text for text, n in network.delivered.items() if n > 1]
    # Only a message in flight at the kill can reach the UE twice (at-least-once over RP).
    assert len(twice) <= 1, twice
    await asyncio.sleep(0)


async def stored_texts(tmp_path: Path, storage: dict[str, str]) -> dict[str, int]:
    """How many rows each MO text has in the database."""
    query = "select text, count(*) from messages group by text"
    if not storage:
        return dict(sqlite3.connect(tmp_path / "smsc.db").execute(query).fetchall())
    connection = await asyncpg.connect(PG_URL.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(query.replace("messages", f'"{storage["schema"]}".messages'))
    finally:
        await connection.close()
    return {row[0]: row[1] for row in rows}


async def test_kill_9_then_the_ue_resends_what_was_not_acknowledged_none_lost_none_twice(
    tmp_path: Path, storage: dict[str, str]
) -> None:
    """As a UE does: every MO whose RP-ACK did not come is sent again after the restart (same
    RP-MR and TPDU, a new transaction). All are then stored, each exactly once: on SQLite and
    on PostgreSQL without Redis."""
    peer = await udp_peer()
    sip, http = free_port(), free_port()
    first = serve(tmp_path, sip, http, peer.port, **storage)
    network = Network(peer, sip)
    try:
        for i in range(BURST):  # a burst: many MO between commit and RP-ACK at the kill
            network.send(i)
            if i % 100 == 99:
                await network.pump(time.monotonic() + 0.005)
        first.send_signal(signal.SIGKILL)
        first.wait()
        await network.pump(time.monotonic() + 0.5)
        second = serve(tmp_path, sip, http, peer.port, **storage)
        try:
            for _ in range(3):  # the UE's retries
                for i in range(BURST):
                    if f"msg {i}" not in network.acked:
                        network.send(i)
                await network.pump(time.monotonic() + 1.0)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(network.delivered) < BURST:
                await network.pump(time.monotonic() + 0.2)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        peer.close()
    assert len(network.acked) == BURST, f"{BURST - len(network.acked)} never acknowledged"
    stored = await stored_texts(tmp_path, storage)
    assert len(stored) == BURST, f"{BURST - len(stored)} lost"
    assert [text for text, n in stored.items() if n > 1] == [], "stored twice"
