"""MO SMS throughput against a Kamailio baseline: `smsc serve` and Kamailio 5.6, same generator.

The baseline is Kamailio running bench/kamailio/baseline.cfg, the cheapest correct MO leg: it
answers each MO MESSAGE 202 statefully (tm) and sends the RP-ACK that smsops builds back to the
sender in a new MESSAGE, storing nothing. Kamailio (`kamailio` on the PATH;
`apt-get install -y kamailio`) starts once on a free UDP port and gets one unmeasured warm-up
run (a fresh instance is 2-3x slower on its first run). Then, per round, the C generator of
bench/loadgen (built as bench/mo_throughput.py builds it) runs once against Kamailio and once
against a fresh `smsc serve` on the defaults (SQLite, durable store, native SIP data plane),
with `--python-too` also once against `smsc serve` under SMSC_NATIVE=0 (the pure-Python data
plane); the order alternates from round to round, and every Kamailio run is followed by a 6 s
pause (Kamailio holds each transaction 5 s); `smsc serve` gets no warm-up. Printed: per run
MO/s (202 and RP-ACK both received) and RP-ACK latency p50/p99, the medians per target and the
ratios smsc / Kamailio. Take the medians, not single runs: the machine is shared and noisy.

    python bench/kamailio_baseline.py [--count 20000] [--concurrency 64] [--rounds 3] [--json]
    python bench/kamailio_baseline.py --python-too        # smsc under SMSC_NATIVE=0 as well
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as `python bench/kamailio_baseline.py` from a bare checkout

from bench.mo_throughput import (  # noqa: E402
    build_loadgen,
    free_port,
    run_loadgen,
    smsc_env,
    start_smsc,
    wait_ready,
)

KAMAILIO_CFG = ROOT / "bench" / "kamailio" / "baseline.cfg"
KAMAILIO_ARGS = ("-DD", "-E", "-n", "4", "-x", "tlsf", "-m", "4096", "-M", "16")
"""Foreground, log to stderr, 4 UDP workers, TLSF allocator, 4 GiB shared / 16 MiB private
memory (the Debian default allocator and a small shared memory run out near 12,000 MO/s)."""
KAMAILIO_PAUSE_S = 6.0
"""After a run against Kamailio: its transactions (two per MO) live 5 s after completion."""
KAMAILIO = "kamailio"
SMSC_NATIVE = "smsc"
SMSC_PYTHON = "smsc-python"
LABELS = {
    KAMAILIO: "Kamailio 5.6 baseline.cfg (202 + RP-ACK, stores nothing)",
    SMSC_NATIVE: "smsc serve, defaults (SQLite, durable store, native SIP data plane)",
    SMSC_PYTHON: "smsc serve, defaults, SMSC_NATIVE=0 (pure-Python SIP data plane)",
}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port: int = udp.getsockname()[1]
        return port


def kamailio_version(binary: str) -> str:
    result = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    lines = (result.stdout or result.stderr).splitlines()
    return lines[0].removeprefix("version:").strip() if lines else "unknown"


def wait_sip_ready(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    """Send OPTIONS to 127.0.0.1:`port` until something answers it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        own = sock.getsockname()[1]
        attempt = 0
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"kamailio exited with status {process.returncode}")
            attempt += 1
            probe = (
                "OPTIONS sip:smsc@127.0.0.1 SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{own};branch=z9hG4bKready{attempt};rport\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:bench@127.0.0.1>;tag=ready\r\n"
                f"To: <sip:smsc@127.0.0.1>\r\nCall-ID: ready{attempt}@bench\r\n"
                "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            )
            sock.sendto(probe.encode(), ("127.0.0.1", port))
            try:
                if sock.recv(65535).startswith(b"SIP/2.0 "):
                    return
            except TimeoutError:
                continue
    raise RuntimeError("kamailio did not answer OPTIONS in time")


class Kamailio:
    """A running Kamailio with bench/kamailio/baseline.cfg on a free UDP port."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log
        self._read = 0

    def new_log_lines(self) -> list[str]:
        """Its log lines of warning or worse since the last call."""
        with open(self.log, "rb") as log:
            log.seek(self._read)
            text = log.read()
        self._read += len(text)
        lines = text.decode(errors="replace").splitlines()
        found = [line.strip()[:300] for line in lines if any(w in line for w in _KAMAILIO_BAD)]
        return found[:20]

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace").splitlines()[-20:]
            raise SystemExit(
                f"kamailio exited with status {self.process.returncode}; its log ends:\n"
                + "\n".join(tail)
            )


_KAMAILIO_BAD = ("WARNING", "ERROR", "CRITICAL", "ALERT", "BUG")


@contextmanager
def kamailio(binary: str, workdir: Path) -> Iterator[Kamailio]:
    """Start Kamailio with bench/kamailio/baseline.cfg on a free UDP port, stop it after."""
    rundir = workdir / "kamailio"
    rundir.mkdir()
    port = free_udp_port()
    command = [binary, "-f", str(KAMAILIO_CFG), *KAMAILIO_ARGS]
    command += ["-l", f"udp:127.0.0.1:{port}", "-Y", str(rundir)]
    command += ["-P", str(rundir / "kamailio.pid")]
    log_path = rundir / "kamailio.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, cwd=rundir)
        instance = Kamailio(process, port, log_path)
        try:
            try:
                wait_sip_ready(port, process, time.monotonic() + 20)
            except RuntimeError as error:
                tail = log_path.read_text(errors="replace").splitlines()[-20:]
                raise SystemExit(f"{error}; its log ends:\n" + "\n".join(tail)) from None
            instance.new_log_lines()  # the start-up lines
            yield instance
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _log_findings(log: Path) -> tuple[str, list[str]]:
    """The data plane the server announced, and its warnings or worse once it had started."""
    plane, started, findings = "unknown", False, []
    for line in log.read_text(errors="replace").splitlines():
        if "SIP data plane:" in line:
            plane = line.split("SIP data plane:", 1)[1].split(";", 1)[0].strip()
        elif " started: " in line:
            started = True
        elif started and any(word in line for word in ("WARNING", "ERROR", "CRITICAL", "Trace")):
            findings.append(line.strip()[:300])
    return plane, findings[:20]


def smsc_run(loadgen: Path, count: int, concurrency: int, python: bool) -> dict[str, Any]:
    """One generator run against a fresh `smsc serve` on the defaults, as mo_throughput.py."""
    workdir = Path(tempfile.mkdtemp(prefix="smsc-baseline-"))
    try:
        sip_port, http_port = free_port(), free_port()
        env = smsc_env(workdir, sip_port, http_port)
        env.pop("SMSC_NATIVE", None)
        if python:
            env["SMSC_NATIVE"] = "0"
        log_path = workdir / "serve.log"
        with open(log_path, "wb") as log:
            server = start_smsc(env, workdir, log)
            try:
                wait_ready(f"http://127.0.0.1:{http_port}", time.monotonic() + 30)
                figures = run_loadgen(loadgen, sip_port, count, concurrency)
            except SystemExit as error:
                tail = log_path.read_text(errors="replace").splitlines()[-20:]
                raise SystemExit(f"{error}; the smsc log ends:\n" + "\n".join(tail)) from None
            finally:
                server.terminate()
                status = server.wait(timeout=30)
        plane, findings = _log_findings(log_path)
        figures["server"] = {"data_plane": plane, "exit_status": status, "log": findings}
        return figures
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _row(target: str, round_no: int, figures: dict[str, Any]) -> dict[str, Any]:
    row = {
        "target": target,
        "round": round_no,
        "mo_per_s": figures["throughput"],
        "rpack_p50_ms": figures["latack_ms"]["p50"],
        "rpack_p99_ms": figures["latack_ms"]["p99"],
        "r202_p50_ms": figures["lat2xx_ms"]["p50"],
        "r202_p99_ms": figures["lat2xx_ms"]["p99"],
        "completed": figures["completed"],
        "count": figures["count"],
        "errors": figures["errors"],
        "timeouts": figures["timeouts_2xx"] + figures["timeouts_rpack"],
        "retransmissions": figures["retransmissions"],
        "elapsed_s": figures["elapsed_s"],
    }
    if "server" in figures:
        row["server"] = figures["server"]
    return row


def _medians(rows: list[dict[str, Any]], targets: list[str]) -> dict[str, dict[str, float]]:
    keys = ("mo_per_s", "rpack_p50_ms", "rpack_p99_ms", "r202_p50_ms", "r202_p99_ms")
    return {
        target: {
            key: round(statistics.median(row[key] for row in rows if row["target"] == target), 3)
            for key in keys
        }
        for target in targets
    }


def _ratios(medians: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
    base = medians[KAMAILIO]
    return {
        target: {
            key: round(value / base[key], 3) if base[key] > 0 else None
            for key, value in figures.items()
        }
        for target, figures in medians.items()
        if target != KAMAILIO
    }


def run(count: int, concurrency: int, rounds: int, python_too: bool) -> dict[str, Any]:
    binary = shutil.which("kamailio")
    if binary is None:
        raise SystemExit(
            "kamailio is not on the PATH: install Kamailio 5.6 (Debian: apt-get install -y "
            "kamailio; the tm, sl, uac and smsops modules are in the main package)"
        )
    version = kamailio_version(binary)
    targets = [KAMAILIO, SMSC_NATIVE] + ([SMSC_PYTHON] if python_too else [])
    workdir = Path(tempfile.mkdtemp(prefix="kamailio-baseline-"))
    rows: list[dict[str, Any]] = []
    try:
        loadgen = build_loadgen(workdir)
        with kamailio(binary, workdir) as baseline:
            warmup = run_loadgen(loadgen, baseline.port, count, concurrency)
            baseline.check_alive()
            warmup["server"] = {"log": baseline.new_log_lines()}
            print(
                f"warm-up (unmeasured) kamailio: {warmup['throughput']:.0f} MO/s, "
                f"{warmup['completed']}/{warmup['count']} completed",
                file=sys.stderr,
            )
            time.sleep(KAMAILIO_PAUSE_S)
            for round_no in range(1, rounds + 1):
                order = targets if round_no % 2 else targets[::-1]
                for target in order:
                    if target == KAMAILIO:
                        figures = run_loadgen(loadgen, baseline.port, count, concurrency)
                        baseline.check_alive()
                        figures["server"] = {"log": baseline.new_log_lines()}
                    else:
                        figures = smsc_run(loadgen, count, concurrency, target == SMSC_PYTHON)
                    row = _row(target, round_no, figures)
                    rows.append(row)
                    print(_describe(row), file=sys.stderr)
                    if target == KAMAILIO:
                        time.sleep(KAMAILIO_PAUSE_S)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    medians = _medians(rows, targets)
    return {
        "targets": {target: LABELS[target] for target in targets},
        "count": count,
        "concurrency": concurrency,
        "rounds": rounds,
        "warmup": _row(KAMAILIO, 0, warmup),
        "runs": rows,
        "medians": medians,
        "ratios_to_kamailio": _ratios(medians),
        "kamailio": version,
        "kamailio_command": f"kamailio -f bench/kamailio/baseline.cfg {' '.join(KAMAILIO_ARGS)}",
        "generator": "bench/loadgen sms_loadgen (C)",
        "machine": f"{os.cpu_count()} cpus, {platform.python_implementation()} "
        + platform.python_version(),
    }


def _describe(row: dict[str, Any]) -> str:
    text = (
        f"round {row['round']} {row['target']:<11} {row['mo_per_s']:>9.1f} MO/s  "
        f"RP-ACK p50 {row['rpack_p50_ms']:.3f} ms  p99 {row['rpack_p99_ms']:.3f} ms  "
        f"completed {row['completed']}/{row['count']}"
    )
    if row["errors"] or row["timeouts"] or row["retransmissions"]:
        text += (
            f"  errors {row['errors']} timeouts {row['timeouts']} "
            f"retransmissions {row['retransmissions']}"
        )
    server = row.get("server")
    if server is not None:
        if "data_plane" in server:
            text += f"  [data plane {server['data_plane']}]"
        for line in server["log"]:
            text += f"\n    log: {line}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="MO per run")
    parser.add_argument("--concurrency", type=int, default=64, help="generator window")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--python-too", action="store_true", help="also smsc serve under SMSC_NATIVE=0"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args.count, args.concurrency, args.rounds, args.python_too)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['kamailio']}; {result['generator']}; {result['machine']}")
    print(f"{result['count']} MO per run, window {result['concurrency']}, {args.rounds} rounds")
    for target, label in result["targets"].items():
        print(f"  {target}: {label}")
    print("runs:")
    for row in result["runs"]:
        print("  " + _describe(row).replace("\n", "\n  "))
    print("medians:")
    for target, figures in result["medians"].items():
        print(
            f"  {target:<11} {figures['mo_per_s']:>9.1f} MO/s  RP-ACK p50 "
            f"{figures['rpack_p50_ms']:.3f} ms  p99 {figures['rpack_p99_ms']:.3f} ms"
        )
    print("ratios to kamailio (median / median):")
    for target, ratios in result["ratios_to_kamailio"].items():
        print(
            f"  {target:<11} MO/s x{ratios['mo_per_s']}  RP-ACK p50 x{ratios['rpack_p50_ms']}"
            f"  p99 x{ratios['rpack_p99_ms']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
