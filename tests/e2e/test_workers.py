"""`sip.workers`: several processes of one `smsc serve` share the UDP port.

Over real UDP, against the installed command's code: MO spread over the processes (each
answers the MO it took, as the top Via of its RP-ACK MESSAGE shows), MT sent by the main
process with the UEs' RP-ACKs reaching it from whichever process the kernel gave them to,
REGISTERs taken by the main process, metrics summed over the processes, a worker that dies
started again, and SIGTERM ending every process.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
import urllib.request
from pathlib import Path

from tests.charging.ocs import TestOcs
from tests.e2e.conftest import free_port
from tests.e2e.peer import udp_peer
from tests.e2e.test_crash_safety import Network, serve

WORKERS = {"SMSC__SIP__WORKERS": "3"}
COUNT = 150
_TAG = re.compile(r"branch=z9hG4bKw(\d+)\.")


def metric(http: int, name: str, labels: str = "") -> float:
    """The sum of a metric's samples (those whose labels contain `labels`) in GET /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and labels in line
    )


def children(pid: int) -> list[int]:
    """The process ids whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(entry))
    return found


async def send_and_deliver(network: Network, first: int, count: int) -> None:
    for i in range(first, first + count):
        network.send(i)
        if i % 25 == 24:
            await network.pump(time.monotonic() + 0.02)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        len(network.acked) < first + count or len(network.delivered) < first + count
    ):
        await network.pump(time.monotonic() + 0.1)


class TaggedNetwork(Network):
    """Also notes which process sent each RP-ACK MESSAGE (the tag of its top Via branch)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.senders: dict[int, int] = {}

    def handle(self, wire):  # type: ignore[no-untyped-def]
        if wire.is_request:
            match = _TAG.search(wire.get("via"))
            assert match is not None, f"untagged branch with workers: {wire.get('via')}"
            index = int(match.group(1))
            self.senders[index] = self.senders.get(index, 0) + 1
        super().handle(wire)


async def test_mo_and_mt_through_three_processes(tmp_path: Path) -> None:
    peer = await udp_peer()
    sip, http = free_port(), free_port()
    server = serve(tmp_path, sip, http, peer.port, settings=WORKERS)
    network = TaggedNetwork(peer, sip)
    try:
        workers = children(server.pid)
        assert len(workers) == 2, workers
        await send_and_deliver(network, 0, COUNT)
        assert len(network.acked) == COUNT
        assert len(network.delivered) == COUNT  # MT from the main process, UE RP-ACKs to it
        assert max(network.delivered.values()) == 1
        # every process answered MO; only the main process sends MT (tag 0)
        assert set(network.senders) == {0, 1, 2}, network.senders
        time.sleep(1.5)  # a worker sends its metrics every second
        assert metric(http, "smsc_mo_received_total", "RP_DATA_MS_TO_N") == COUNT
        assert metric(http, "smsc_mo_received_total", "RP_ACK_MS_TO_N") == COUNT  # UEs' answers
        assert metric(http, "smsc_mt_delivered_total") == COUNT
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        peer.close()
    for pid in workers:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        ), f"worker {pid} outlived the main process"
    stored = sqlite3.connect(tmp_path / "smsc.db").execute(
        "select count(*), count(distinct text) from messages"
    )
    assert stored.fetchone() == (COUNT, COUNT)
    log = (tmp_path / "serve.log").read_text()
    assert "SIP workers: 3 processes share the UDP port" in log
    assert "Traceback" not in log


async def test_a_worker_that_dies_is_started_again(tmp_path: Path) -> None:
    peer = await udp_peer()
    sip, http = free_port(), free_port()
    server = serve(tmp_path, sip, http, peer.port, settings=WORKERS)
    network = Network(peer, sip)
    try:
        await send_and_deliver(network, 0, 50)
        victim = children(server.pid)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (
            victim in children(server.pid)
            or len(children(server.pid)) < 2
            or (tmp_path / "serve.log").read_text().count("SIP worker 1 of 3 serving")
            + (tmp_path / "serve.log").read_text().count("SIP worker 2 of 3 serving")
            < 3
        ):
            time.sleep(0.1)
        assert victim not in children(server.pid) and len(children(server.pid)) == 2
        log = (tmp_path / "serve.log").read_text()
        assert "exited with status -9; starting it again" in log
        await send_and_deliver(network, 50, 100)  # retransmissions cover what it held
        assert len(network.acked) == 150 and len(network.delivered) == 150
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        peer.close()
    rows = sqlite3.connect(tmp_path / "smsc.db").execute(
        "select text from messages group by text having count(*) > 1"
    )
    assert rows.fetchall() == []


async def test_charged_mo_through_three_processes_use_one_diameter_identity(
    tmp_path: Path,
) -> None:
    """The workers' MO are charged by the main process: one CER, one CCR per MO, a record each."""
    ocs = TestOcs(origin_host="ocs.example.net", client_host="smsc.ims.example.net").start()
    peer = await udp_peer()
    sip, http = free_port(), free_port()
    charging = {
        "SMSC__CHARGING__ENABLED": "true",
        "SMSC__CHARGING__ORIGIN_HOST": "smsc.ims.example.net",
        "SMSC__CHARGING__PEERS": (
            f'[{{"host": "ocs.example.net", "address": "127.0.0.1", "port": {ocs.port}}}]'
        ),
    }
    server = serve(tmp_path, sip, http, peer.port, settings={**WORKERS, **charging})
    network = TaggedNetwork(peer, sip)
    try:
        await send_and_deliver(network, 0, COUNT)
        assert len(network.acked) == COUNT
        assert set(network.senders) == {0, 1, 2}, network.senders  # every process took MO
        assert ocs.count == COUNT  # one CCR per MO, whichever process took it
        assert len({r.session_id for r in ocs.received}) == COUNT
        assert len(ocs.cers) == 1  # one Diameter connection: the main process's
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        peer.close()
        ocs.stop()
    records = sqlite3.connect(tmp_path / "smsc.db").execute(
        "select outcome, count(*), count(distinct submission_id) from charging_records"
        " group by outcome"
    )
    assert records.fetchall() == [("proceed", COUNT, COUNT)]
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log
