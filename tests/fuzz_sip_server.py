"""Fuzz a running `smsc serve` over real sockets: mutated MESSAGEs over UDP and TCP, bounded in
count and time, loopback only. Afterwards the server must still answer a valid MO, its log
must hold no traceback, and every 202 it sent over UDP must have been followed by exactly one
RP answer. CI runs a short share (tests/test_fuzz_server.py); longer:
`python -m tests.fuzz_sip_server --udp 50000 --tcp 5000 --seed 7`.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz_sip_lanes import LOADGEN_MESSAGE, mutate

_CALL_ID = b"lg1a2b3c4d-7-1234@127.0.0.1"
_BRANCH = b"z9hG4bK1a2b3c4d.7.1234"
_VIA_PORT = b"127.0.0.1:5090"
_HEADER = re.compile(rb"^(call-id|i|in-reply-to)\s*:\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: set[bytes] = field(default_factory=set)
    """Call-IDs we got 202 for."""
    answers: defaultdict[bytes, set[bytes]] = field(default_factory=lambda: defaultdict(set))
    """In-Reply-To -> the Call-IDs of the server's MESSAGEs answering it."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(workdir: Path, sip: int, http: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        SMSC__SIP__LISTEN=f"udp:127.0.0.1:{sip},tcp:127.0.0.1:{sip}",
        SMSC__HTTP__LISTEN=f"127.0.0.1:{http}",
        SMSC__STORAGE__DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'smsc.db'}",
        SMSC__SIP__T1_MS="200",
    )
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "smsc", "serve"], env=env, stdout=log, stderr=log, cwd=workdir
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=1):
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((workdir / "serve.log").read_text()) from None
            time.sleep(0.1)


def _headers(data: bytes) -> dict[bytes, bytes]:
    head = data.split(b"\r\n\r\n", 1)[0]
    found = {}
    for name, value in _HEADER.findall(head):
        key = name.lower()
        found[b"call-id" if key == b"i" else key] = value
    return found


def _ok(request: bytes) -> bytes:
    """200 to a MESSAGE of the server (copies Via, From, To, Call-ID, CSeq)."""
    head = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    kept = [
        line
        for line in head[1:]
        if line.split(b":", 1)[0].strip().lower() in (b"via", b"from", b"to", b"call-id", b"cseq")
    ]
    return b"\r\n".join([b"SIP/2.0 200 OK", *kept, b"Content-Length: 0", b"", b""])


def _receive(sock: socket.socket, tally: Tally, until: float) -> None:
    while True:
        sock.settimeout(max(0.001, until - time.monotonic()))
        try:
            data, source = sock.recvfrom(65535)
        except (TimeoutError, BlockingIOError):
            return
        headers = _headers(data)
        if data.startswith(b"SIP/2.0 "):
            status = int(data[8:11])
            tally.statuses[status] += 1
            if status == 202 and b"call-id" in headers:
                tally.accepted.add(headers[b"call-id"])
        elif data.startswith(b"MESSAGE "):
            sock.sendto(_ok(data), source)
            if b"in-reply-to" in headers and b"call-id" in headers:
                tally.answers[headers[b"in-reply-to"]].add(headers[b"call-id"])


def fuzz_udp(port: int, count: int, rng: random.Random, tally: Tally, deadline: float) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        sock.bind(("127.0.0.1", 0))
        own = f"127.0.0.1:{sock.getsockname()[1]}".encode()
        for n in range(count):
            if time.monotonic() > deadline:
                break
            base = (
                LOADGEN_MESSAGE.replace(_CALL_ID, f"fz{n}-{rng.getrandbits(32):x}@fuzz".encode())
                .replace(_BRANCH, f"z9hG4bKfz{n}x{rng.getrandbits(32):x}".encode())
                .replace(_VIA_PORT, own)
            )
            data = mutate(rng, base) if rng.random() < 0.9 else base
            sock.sendto(data, ("127.0.0.1", port))
            tally.sent["udp"] += 1
            if n % 50 == 49:
                _receive(sock, tally, time.monotonic() + 0.02)
        _receive(sock, tally, time.monotonic() + 2.0)  # the last RP answers


def fuzz_tcp(port: int, count: int, rng: random.Random, tally: Tally, deadline: float) -> None:
    conn: socket.socket | None = None
    for n in range(count):
        if time.monotonic() > deadline:
            break
        if conn is None:
            conn = socket.create_connection(("127.0.0.1", port), timeout=2)
            conn.settimeout(0.002)
        base = LOADGEN_MESSAGE.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP").replace(
            _CALL_ID, f"fzt{n}@fuzz".encode()
        )
        try:
            conn.sendall(mutate(rng, base))
            tally.sent["tcp"] += 1
            while conn.recv(65535):  # drain; a closed connection reads b""
                pass
            conn.close()  # a closed connection (framing lost): a new one
            conn = None
        except (TimeoutError, BlockingIOError):
            pass
        except OSError:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def valid_mo_answered(port: int) -> bool:
    tally = Tally()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        own = f"127.0.0.1:{sock.getsockname()[1]}".encode()
        data = LOADGEN_MESSAGE.replace(_VIA_PORT, own).replace(_CALL_ID, b"final@fuzz")
        sock.sendto(data, ("127.0.0.1", port))
        _receive(sock, tally, time.monotonic() + 3.0)
    return b"final@fuzz" in tally.accepted and bool(tally.answers.get(b"final@fuzz"))


def run(udp: int, tcp: int, seed: int, seconds: float) -> tuple[Tally, list[str]]:
    """Fuzz a fresh server; the tally and the problems found ([] when none)."""
    rng = random.Random(seed)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="smsc-fuzz-") as folder:
        workdir = Path(folder)
        sip, http = free_port(), free_port()
        server = start(workdir, sip, http)
        tally = Tally()
        try:
            deadline = time.monotonic() + seconds
            fuzz_udp(sip, udp, rng, tally, deadline)
            fuzz_tcp(sip, tcp, rng, tally, deadline)
            if not valid_mo_answered(sip):
                problems.append("a valid MO was not answered after the fuzz")
        finally:
            server.terminate()
            server.wait(timeout=30)
        log = (workdir / "serve.log").read_text(errors="replace")
    if "Traceback" in log:
        problems.append("a traceback in the log:\n" + log[log.index("Traceback") :][:3000])
    unanswered = [c for c in tally.accepted if len(tally.answers.get(c, ())) != 1]
    if unanswered:
        problems.append(f"{len(unanswered)} 202s without exactly one RP answer: {unanswered[:5]}")
    return tally, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--udp", type=int, default=50_000)
    parser.add_argument("--tcp", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    tally, problems = run(args.udp, args.tcp, args.seed, args.seconds)
    print(f"sent {dict(tally.sent)}; answers {dict(sorted(tally.statuses.items()))}")
    print(f"202s {len(tally.accepted)}, each followed by one RP answer: {not problems}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
