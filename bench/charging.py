"""Ro charging benchmark: CCR encode / CCA decode rates, and charges/s through ChargingClient.

    python bench/charging.py [--count 20000] [--concurrency 200] [--ocs-processes 2] [--json]
    python bench/charging.py --mo-rounds 3     # and charged vs uncharged MO end to end

Codec rates are single-thread figures in this process. The end-to-end run starts each OCS in
its own process (the OCS never shares the client's GIL) and drives ``ChargingClient.charge``
with ``--concurrency`` charges in flight, against two kinds of OCS:

* ``python-diameter``: tests/charging/ocs.py, python-diameter's Node and Application answering
  at once (pre-encoded CCAs; its node still parses every CCR into typed classes);
* ``raw``: a minimal asyncio OCS in this file (CER/DWR/DPR/CCR from bytes), so that the
  client, not the OCS, is the limit.

Client CPU per charge (all its threads) is measured with ``time.process_time``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # ahead of bench/, whose charging.py would shadow the package

from charging import avp as a  # noqa: E402
from charging.ccr import OcsProfile, SmsChargingEvent, build_ccr  # noqa: E402

TARGET = 5000.0
EVENT = SmsChargingEvent(
    charged_msisdn="+4915112345678",
    imsi="262011234567890",
    recipient="4917099999",
    calling_party_address="tel:+4915112345678",
    called_party_address="tel:+4917099999",
    segments=1,
    dcs=0,
    pani="3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=208011234567890ab; network-provided",
)
PROFILE = OcsProfile(smsc_address="+491710760000")
IDS = {
    "origin_host": "smsc.ims.example.net",
    "origin_realm": "ims.example.net",
    "destination_realm": "ocs.example.net",
}


def _rate(work: Callable[[], object], seconds: float = 0.5) -> float:
    """Calls per second, best of three runs of about ``seconds`` each."""
    loops = 1
    while True:
        started = time.perf_counter()
        for _ in range(loops):
            work()
        elapsed = time.perf_counter() - started
        if elapsed > seconds / 10:
            break
        loops *= 4
    loops = max(1, int(loops * seconds / max(elapsed, 1e-9) / 10))
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(loops):
            work()
        best = max(best, loops / (time.perf_counter() - started))
    return best


def codec_rates() -> dict[str, float]:
    from diameter.message import Message

    from charging.avp import decode_cca
    from tests.charging.oracle import build_cca

    now = datetime.now(UTC)

    def ours() -> bytes:
        return build_ccr(
            EVENT, PROFILE, session_id="s;1;2", hop_by_hop=1, end_to_end=2, event_time=now, **IDS
        )

    ccr = ours()
    typed_ccr = Message.from_bytes(ccr)
    cca = build_cca(mscc=[(2001, 1)])
    return {
        "ccr_encode_ours": _rate(ours),
        "ccr_encode_python_diameter": _rate(typed_ccr.as_bytes),
        "ccr_decode_python_diameter_typed": _rate(lambda: Message.from_bytes(ccr)),
        "cca_decode_ours": _rate(lambda: decode_cca(cca)),
        "cca_decode_python_diameter_typed": _rate(lambda: Message.from_bytes(cca)),
        "cca_decode_python_diameter_plain": _rate(lambda: Message.from_bytes(cca, plain_msg=True)),
        "ccr_bytes": len(ccr),
        "cca_bytes": len(cca),
    }


# --- a raw OCS (separate process) ------------------------------------------------------------

_CER, _CC, _DWR, _DPR = 257, 272, 280, 282


class _RawOcs(asyncio.Protocol):
    """Answers CER, DWR, DPR and CCR (2001, one unit) straight from bytes."""

    def __init__(self, host: str) -> None:
        self.buffer = b""
        self.identity = a.octet_string(264)(host.encode()) + a.octet_string(296)(b"ocs.example.net")
        self.ok = a.unsigned32(268)(2001)
        self.cca_tail = (
            self.ok
            + self.identity
            + a.unsigned32(258)(4)
            + a.enumerated(416)(4)
            + a.unsigned32(415)(0)
            + a.grouped(456)(a.grouped(431)(a.unsigned64(417)(1)) + self.ok)
        )
        self.cea_tail = (
            self.ok
            + self.identity
            + a.octet_string(257)(b"\x00\x01\x7f\x00\x00\x01")
            + a.unsigned32(266)(99999)
            + a.octet_string(269)(b"raw-ocs")
            + a.unsigned32(258)(4)
        )

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        out = []
        while len(buffer) >= 20:
            length = int.from_bytes(buffer[1:4], "big")
            if len(buffer) < length:
                break
            message, buffer = buffer[:length], buffer[length:]
            command = int.from_bytes(message[5:8], "big")
            head = message[12:20]
            if command == _CC:
                session_length = int.from_bytes(message[25:28], "big")
                session = message[20 : 20 + session_length]
                body = session + b"\0" * (-session_length & 3) + self.cca_tail
                out.append(self._answer(_CC, 4, head, body))
            elif command == _CER:
                out.append(self._answer(_CER, 0, head, self.cea_tail))
            elif command in (_DWR, _DPR):
                out.append(self._answer(command, 0, head, self.ok + self.identity))
        self.buffer = buffer
        if out:
            self.transport.write(b"".join(out))

    @staticmethod
    def _answer(command: int, application: int, head: bytes, body: bytes) -> bytes:
        length = 20 + len(body)
        return (
            (0x01000000 | length).to_bytes(4, "big")
            + (0x40000000 | command).to_bytes(4, "big")
            + application.to_bytes(4, "big")
            + head
            + body
        )


def raw_ocs_main(port: int, host: str) -> None:
    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _RawOcs(host), "127.0.0.1", port)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        print(f"ready {port}", flush=True)
        await stop.wait()
        server.close()

    asyncio.run(serve())


# --- end to end ------------------------------------------------------------------------------


def _start_ocs(kind: str, port: int, host: str) -> subprocess.Popen[str]:
    if kind == "raw":
        argv = [sys.executable, __file__, "--raw-ocs", str(port), host]
    else:
        argv = [sys.executable, "-m", "tests.charging.ocs", "--port", str(port), "--host", host]
        argv.append("--fast")
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("ready"):
        raise RuntimeError(f"{kind} OCS did not start: {line!r}")
    return process


async def end_to_end(kind: str, processes: int, count: int, concurrency: int) -> dict[str, Any]:
    from charging.client import ChargingClient
    from smsc.settings import ChargingPeer, ChargingSettings
    from tests.charging.ocs import free_port

    ocss, peers = [], []
    for index in range(processes):
        port, host = free_port(), f"ocs{index + 1}.ocs.example.net"
        ocss.append(_start_ocs(kind, port, host))
        peers.append(ChargingPeer(host, "127.0.0.1", port))
    settings = ChargingSettings(enabled=True, peers=tuple(peers), timeout_ms=30_000)
    client = ChargingClient(settings, smsc_address="+491710760000")
    try:
        await client.start()
        if len(client.ready_peers()) != processes:
            raise RuntimeError(f"only {client.ready_peers()} ready")
        window = asyncio.Semaphore(concurrency)

        async def one() -> float:
            async with window:
                result = await client.charge(EVENT)
            if result.result_code != 2001:
                raise RuntimeError(f"unexpected {result}")
            return result.latency_s

        await asyncio.gather(*(one() for _ in range(min(count // 10, 2000))))  # warm up
        cpu, started = time.process_time(), time.perf_counter()
        latencies = sorted(await asyncio.gather(*(one() for _ in range(count))))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        tables = client.waiting_answers()
    finally:
        await client.stop()
        for process in ocss:
            process.send_signal(signal.SIGTERM)
            process.wait(10)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "ocs": kind,
        "ocs_processes": processes,
        "count": count,
        "concurrency": concurrency,
        "charges_per_s": count / elapsed,
        "client_cpu_us_per_charge": cpu / count * 1e6,
        "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
        "waiting_answers_after": tables,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--ocs-processes", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--raw-ocs", nargs=2, metavar=("PORT", "HOST"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--mo-rounds",
        type=int,
        default=0,
        help="also run `smsc serve` end to end (bench/mo_throughput.py, window 64) charged and "
        "uncharged, alternating, this many rounds each; print the medians and their ratio",
    )
    parser.add_argument("--mo-count", type=int, default=20_000)
    args = parser.parse_args()
    if args.raw_ocs:
        raw_ocs_main(int(args.raw_ocs[0]), args.raw_ocs[1])
        return 0
    import logging

    logging.basicConfig(level=logging.ERROR)
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "codec_per_s": codec_rates(),
        "end_to_end": [
            asyncio.run(end_to_end(kind, args.ocs_processes, args.count, args.concurrency))
            for kind in ("python-diameter", "raw")
        ],
    }
    if args.mo_rounds > 0:
        report["mo_end_to_end"] = mo_end_to_end(args.mo_rounds, args.mo_count)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"python {report['machine']['python']}, {report['machine']['cpus']} CPUs")
    for name, value in report["codec_per_s"].items():
        unit = "octets" if name.endswith("_bytes") else "/s"
        print(f"  {name:36} {value:>10,.0f} {unit}")
    for run in report["end_to_end"]:
        lat = run["latency_ms"]
        verdict = "meets" if run["charges_per_s"] >= TARGET else "below"
        print(
            f"  charges vs {run['ocs_processes']} {run['ocs']} OCS process(es), "
            f"{run['concurrency']} in flight: {run['charges_per_s']:,.0f}/s "
            f"({verdict} {TARGET:,.0f}/s), "
            f"client CPU {run['client_cpu_us_per_charge']:.0f} us/charge, "
            f"latency p50 {lat['p50']:.1f} p90 {lat['p90']:.1f} p99 {lat['p99']:.1f} "
            f"max {lat['max']:.1f} ms; waiting answers {run['waiting_answers_after']}"
        )
    mo = report.get("mo_end_to_end")
    if mo is not None:
        for label in ("charged", "uncharged"):
            rates = ", ".join(f"{rate:,.0f}" for rate in mo[label])
            print(f"  MO/s end to end, {label} (one process): {rates}")
        verdict = "meets" if mo["charged_median"] >= TARGET else "below"
        print(
            f"  medians: charged {mo['charged_median']:,.0f} ({verdict} {TARGET:,.0f}/s), "
            f"uncharged {mo['uncharged_median']:,.0f}, ratio {mo['ratio']:.2f} (target 0.80)"
        )
    return 0


def mo_end_to_end(rounds: int, count: int) -> dict[str, Any]:
    """`smsc serve` with one process (charging keeps `auto` at one), the C generator, window
    64: charged against the bench's instant OCS, and uncharged, alternating round by round."""
    import statistics

    from bench.mo_throughput import run

    figures: dict[str, list[float]] = {"charged": [], "uncharged": []}
    for index in range(rounds):
        order = (True, False) if index % 2 == 0 else (False, True)
        for charging in order:
            result = run(count, 64, 1, charging=charging)
            figures["charged" if charging else "uncharged"].append(float(result["throughput"]))
    charged = statistics.median(figures["charged"])
    uncharged = statistics.median(figures["uncharged"])
    return {
        **figures,
        "charged_median": charged,
        "uncharged_median": uncharged,
        "ratio": charged / uncharged if uncharged else 0.0,
    }


if __name__ == "__main__":
    sys.exit(main())
