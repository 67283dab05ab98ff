"""bench/wire_ceiling.py's payload steering over real sockets, and smoke runs of
bench/store_insert.py, bench/mo_throughput.py, bench/sip_round.py and bench/sip_memory.py
from the checkout (the C generator in bench/loadgen/ built on the spot); no timing
assertions."""

from __future__ import annotations

import json
import select
import socket

import pytest

from bench import mo_throughput, sip_memory, sip_round, store_insert, wire_ceiling


def _group(size: int) -> list[socket.socket]:
    sockets = []
    for _ in range(size):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", sockets[0].getsockname()[1] if sockets else 0))
        sock.settimeout(2.0)
        sockets.append(sock)
    wire_ceiling.steer_by_payload(sockets[0], size)
    return sockets


def test_one_source_is_spread_over_the_workers_and_a_resend_stays_put() -> None:
    """The kernel picks the socket by payload: one client socket reaches both workers."""
    group = _group(2)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        target = group[0].getsockname()
        seen: dict[bytes, set[int]] = {}
        for number in range(200):
            payload = (
                "MESSAGE sip:smsc@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK{number:08x}.{number}.0;rport\r\n"
                "Max-Forwards: 70\r\nTo: <sip:smsc@ims.mnc001.mcc001.3gppnetwork.org>\r\n\r\n"
            ).encode()  # the hashed words end at octet 132: shorter datagrams go to socket 0
            for _ in range(2):  # the same octets twice: a retransmission
                client.sendto(payload, target)
                readable, _, _ = select.select(group, [], [], 2.0)
                assert readable
                for index, sock in enumerate(group):
                    if sock in readable:
                        seen.setdefault(sock.recv(2048), set()).add(index)
        assert all(len(indexes) == 1 for indexes in seen.values())
        counts = [sum(1 for i in seen.values() if index in i) for index in range(2)]
        assert min(counts) > 40, counts
    finally:
        client.close()
        for sock in group:
            sock.close()


def test_store_insert_reports_each_batch_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert store_insert.main(["--rows", "400", "--batch", "20", "--batch", "100", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 400 and report["row_building_us"] > 0
    for batch in ("batch_20", "batch_100"):
        assert report[batch]["cpu_us_per_row"] > 0 and report[batch]["wall_us_per_row"] > 0


@pytest.mark.skipif(mo_throughput.compiler() is None, reason="no C compiler for bench/loadgen")
def test_mo_throughput_runs_from_a_bare_checkout() -> None:
    """A tiny run: the generator builds, `smsc serve` starts, every MO gets its RP-ACK."""
    figures = mo_throughput.run(count=200, concurrency=8, workers=None)
    assert figures["generator"] == "bench/loadgen sms_loadgen (C)"
    assert figures["sent"] == figures["rpack"] == figures["completed"] == 200, figures
    assert figures["errors"] == figures["timeouts_rpack"] == 0, figures


def test_the_endpoint_round_bench_runs_its_rounds() -> None:
    """bench/sip_round.py: every round's 200 meets its MESSAGE's client transaction (the
    bench asserts it), with Timers J and K expiring within the run."""
    assert sip_round.run(300, step=0.2) > 0
    assert sip_round.run_mt(300, 64, step=0.2) > 0  # the MT pattern: windows of 64


def test_the_transaction_memory_bench_counts_both_kinds() -> None:
    """bench/sip_memory.py: bytes held per Completed server and client transaction."""
    server, client = sip_memory.per_transaction(500)
    assert 100 < server < 5000 and 100 < client < 5000
