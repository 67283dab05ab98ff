"""Overload: offered MO load at 2x and 5x the sustainable rate, against a fresh `smsc serve`.

First a run without a rate limit measures the sustainable rate; then, for each factor, the C
generator (bench/loadgen) offers that rate with a large window. Printed per run: completed
(202 and RP-ACK), 503s, timeouts, the server's peak RSS, and the time until a single MO is
answered again at once after the overload (recovery).

    python -m bench.overload [--count 30000] [--factors 2 5] [--queue-kib 512] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as `python bench/overload.py` from a bare checkout

from bench.mo_throughput import (  # noqa: E402
    build_loadgen,
    checkout_env,
    free_port,
    run_loadgen,
    wait_ready,
)


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _recovery_s(port: int, limit_s: float = 60.0) -> float:
    """Seconds until one MO gets its 202 within 0.5 s (the loop caught up)."""
    probe = (
        "OPTIONS sip:smsc@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKprobe{n};rport\r\n"
        "From: <sip:probe@x>;tag=p\r\nTo: <sip:smsc@ims.mnc001.mcc001.3gppnetwork.org>\r\n"
        "Call-ID: probe{n}@x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        own = sock.getsockname()[1]
        n = 0
        while time.monotonic() - start < limit_s:
            n += 1
            sock.sendto(probe.format(port=own, n=n).encode(), ("127.0.0.1", port))
            try:
                while True:
                    data = sock.recv(65535)
                    if f"probe{n}@x".encode() in data:
                        return time.monotonic() - start
            except TimeoutError:
                continue
    return float("inf")


def run(count: int, factors: list[float], queue_kib: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="smsc-overload-"))
    try:
        loadgen = build_loadgen(workdir)
        sip_port, http_port = free_port(), free_port()
        env = checkout_env(
            SMSC__SIP__LISTEN=f"udp:127.0.0.1:{sip_port}",
            SMSC__HTTP__LISTEN=f"127.0.0.1:{http_port}",
            SMSC__STORAGE__DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'smsc.db'}",
            SMSC__SIP__OVERLOAD_QUEUE_KIB=str(queue_kib),
        )
        log = open(workdir / "serve.log", "wb")  # noqa: SIM115
        server = subprocess.Popen(
            [sys.executable, "-m", "smsc", "serve"], env=env, stdout=log, stderr=log, cwd=workdir
        )
        runs: list[dict[str, Any]] = []
        try:
            wait_ready(f"http://127.0.0.1:{http_port}", time.monotonic() + 30)
            base = run_loadgen(loadgen, sip_port, count, 64)
            sustainable = float(base["throughput"])
            runs.append({"offered": "unlimited, window 64", **_figures(base)})
            for factor in factors:
                time.sleep(3)
                figures = _offered(loadgen, sip_port, count, sustainable * factor)
                recovery = _recovery_s(sip_port)
                runs.append(
                    {
                        "offered": f"{factor:g}x = {sustainable * factor:.0f}/s",
                        **_figures(figures),
                        "recovery_s": round(recovery, 2),
                        "rss_peak_mib": round(_peak_rss_mib(server.pid), 1),
                    }
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        return {
            "sustainable_mo_s": sustainable,
            "overload_queue_kib": queue_kib,
            "runs": runs,
            "generator": "bench/loadgen sms_loadgen (C)",
            "machine": f"{os.cpu_count()} cpus, {platform.python_implementation()} "
            + platform.python_version(),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _offered(loadgen: Path, port: int, count: int, rate: float) -> dict[str, Any]:
    command = [str(loadgen), "-p", str(port), "-l", "0", "-n", str(count), "-c", "20000"]
    command += ["-r", str(int(rate)), "-t", "4000", "--json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"load generator failed: {result.stdout}\n{result.stderr}")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def _figures(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "sent": figures["sent"],
        "completed": figures["completed"],
        "completed_per_s": figures["throughput"],
        "rejected_503_or_other": figures["final_non2xx"],
        "timeouts": figures["timeouts_2xx"] + figures["timeouts_rpack"],
        "rp_ack_p99_ms": figures["latack_ms"]["p99"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--factors", type=float, nargs="+", default=[2.0, 5.0])
    parser.add_argument("--queue-kib", type=int, default=0, help="sip.overload_queue_kib (0 = off)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.count, args.factors, args.queue_kib)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"sustainable: {result['sustainable_mo_s']:.0f} MO/s ({result['machine']}), "
            f"sip.overload_queue_kib {result['overload_queue_kib']}"
        )
        for row in result["runs"]:
            print("  " + ", ".join(f"{key} {value}" for key, value in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
