"""MO SMS throughput: `smsc serve` on SQLite against the C load generator playing an S-CSCF.

Builds the C generator in `bench/loadgen/` into a temporary folder (with $CC, gcc or cc),
starts this checkout's `smsc serve` on free ports with its data in a temporary folder, runs
the generator (windowed MO MESSAGEs with unique Call-ID/branch/RP-MR; it answers the SMSC's
RP-ACK MESSAGEs with 200) and prints sustained MO/s (202 and RP-ACK both received) with
latency percentiles. The smallest run: `--count 200 --concurrency 8` (a few seconds).

    python bench/mo_throughput.py [--count 50000] [--concurrency 64] [--json]
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
import urllib.request
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
LOADGEN_SOURCE = ROOT / "bench" / "loadgen"
LOADGEN_CFLAGS = ("-O2", "-Wall", "-Wextra", "-std=gnu11")
"""The flags of bench/loadgen/Makefile."""


def free_port() -> int:
    with socket.socket() as tcp:
        tcp.bind(("127.0.0.1", 0))
        port: int = tcp.getsockname()[1]
        return port


def compiler() -> str | None:
    """The C compiler for the load generator: $CC, else gcc or cc on the PATH."""
    for name in (os.environ.get("CC"), "gcc", "cc"):
        if name and shutil.which(name):
            return name
    return None


def build_loadgen(workdir: Path) -> Path:
    """Compile bench/loadgen/sms_loadgen.c into `workdir` (the checkout may be read-only)."""
    source = Path(os.environ.get("SMS_LOADGEN_SOURCE", LOADGEN_SOURCE))
    if not (source / "sms_loadgen.c").exists():
        raise SystemExit(f"load generator source not found in {source}")
    cc = compiler()
    if cc is None:
        raise SystemExit("no C compiler found (set CC or install gcc) to build bench/loadgen")
    target = workdir / "sms_loadgen"
    subprocess.run(
        [cc, *LOADGEN_CFLAGS, "-o", str(target), str(source / "sms_loadgen.c")],
        check=True,
    )
    return target


def checkout_env(**settings: str) -> dict[str, str]:
    """The environment for a child `smsc serve`: this checkout's packages ahead of any
    installed copy, plus `settings` (SMSC__* variables)."""
    path = os.environ.get("PYTHONPATH")
    return dict(
        os.environ,
        PYTHONPATH=str(ROOT) if not path else os.pathsep.join((str(ROOT), path)),
        **settings,
    )


def smsc_env(workdir: Path, sip_port: int, http_port: int, **settings: str) -> dict[str, str]:
    """The environment of a `smsc serve` on the defaults: SQLite in `workdir`, these ports."""
    return checkout_env(
        SMSC__SIP__LISTEN=f'["udp:127.0.0.1:{sip_port}"]',
        SMSC__HTTP__LISTEN=f"127.0.0.1:{http_port}",
        SMSC__STORAGE__DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'smsc.db'}",
        **settings,
    )


def start_smsc(env: dict[str, str], workdir: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """This checkout's `smsc serve` in `workdir`, its output to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "smsc.cli", "serve"], env=env, stdout=log, stderr=log, cwd=workdir
    )


def wait_ready(http: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{http}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("smsc serve did not become ready")


def run_loadgen(loadgen: Path, port: int, count: int, concurrency: int) -> dict[str, Any]:
    """Run `sms_loadgen` against 127.0.0.1:`port`; its JSON result line."""
    command = [str(loadgen), "-p", str(port), "-l", "0", "-n", str(count)]
    result = subprocess.run(
        [*command, "-c", str(concurrency), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"load generator failed: {result.stdout}\n{result.stderr}")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def start_ocs(port: int) -> subprocess.Popen[str]:
    """The bench's instant OCS (bench/charging.py --raw-ocs) in a process of its own."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "charging.py"),
            "--raw-ocs",
            str(port),
            "ocs.example.net",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    if not process.stdout.readline().startswith("ready"):
        raise SystemExit("the bench OCS did not start")
    return process


def run(
    count: int, concurrency: int, workers: int | None, charging: bool = False
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="smsc-bench-"))
    ocs = None
    try:
        loadgen = build_loadgen(workdir)
        sip_port, http_port = free_port(), free_port()
        env = smsc_env(workdir, sip_port, http_port)
        if workers is not None:
            env["SMSC__SIP__WORKERS"] = str(workers)
        if charging:
            ocs_port = free_port()
            ocs = start_ocs(ocs_port)
            env["SMSC__CHARGING__ENABLED"] = "true"
            env["SMSC__CHARGING__PEERS"] = json.dumps(
                [{"host": "ocs.example.net", "address": "127.0.0.1", "port": ocs_port}]
            )
        log = open(workdir / "serve.log", "wb")  # noqa: SIM115
        server = start_smsc(env, workdir, log)
        try:
            wait_ready(f"http://127.0.0.1:{http_port}", time.monotonic() + 30)
            if charging:
                time.sleep(1.0)  # CER/CEA with the OCS
            figures = run_loadgen(loadgen, sip_port, count, concurrency)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        figures["generator"] = "bench/loadgen sms_loadgen (C)"
        figures["charging"] = "Ro CCR per MO, instant local OCS" if charging else "off"
        figures["workers"] = "auto" if workers is None else workers
        figures["machine"] = f"{os.cpu_count()} cpus, {platform.python_implementation()} " + (
            platform.python_version()
        )
        return figures
    finally:
        if ocs is not None:
            ocs.terminate()
            ocs.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--workers", type=int, default=None, help="sip.workers (default: the service's, auto)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--charging", action="store_true", help="charge every MO (Ro CCR)")
    args = parser.parse_args(argv)
    figures = run(args.count, args.concurrency, args.workers, args.charging)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
