"""The ceiling of the MO wire work alone: Python + uvloop answering the C load generator.

Each worker does only what every MO costs on the wire: it reads the MESSAGE, finds its
headers with `bytes.find`, sends the 202 and a MESSAGE with an RP-ACK back, and ignores the
200. No transactions, no decoding, no store. With `--workers N` (N > 1) the workers share
the port through SO_REUSEPORT and the classic BPF program of smsc/transport/reuseport.py
(SO_ATTACH_REUSEPORT_CBPF) that picks the socket from a hash of payload words, so one generator
socket is spread over the workers and a retransmission (the same octets) always reaches the
same one.

    python bench/wire_ceiling.py [--count 100000] [--concurrency 64] [--workers 1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.mo_throughput import build_loadgen, free_port, run_loadgen
from smsc.transport.reuseport import steer_by_payload


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, port: int) -> None:
        self.port = port
        self.count = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if data.startswith(b"SIP/2.0") or self.transport is None:
            return
        end = data.find(b"\r\n\r\n")
        lines = data[:end].split(b"\r\n")
        vias = [line for line in lines if line.startswith(b"Via:")]
        pick = {line.split(b":", 1)[0]: line for line in lines[1:]}
        call_id = pick[b"Call-ID"][9:]
        self.transport.sendto(
            b"SIP/2.0 202 Accepted\r\n"
            + b"\r\n".join([*vias, pick[b"From"], pick[b"To"] + b";tag=x", pick[b"Call-ID"]])
            + b"\r\n"
            + pick[b"CSeq"]
            + b"\r\nContent-Length: 0\r\n\r\n",
            addr,
        )
        self.count += 1
        asserted = pick[b"P-Asserted-Identity"]
        uri = asserted[asserted.find(b"<") + 1 : asserted.find(b">")]
        body = bytes((3, data[end + 5], 0x41, 2, 1, 0))  # RP-ACK N->MS, the MO's RP-MR
        head = (
            b"MESSAGE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKw%d\r\n"
            b"Max-Forwards: 70\r\nFrom: <sip:smsc@x>;tag=a\r\nTo: <%s>\r\nCall-ID: w%d\r\n"
            b"CSeq: 1 MESSAGE\r\nIn-Reply-To: %s\r\nContent-Type: application/vnd.3gpp.sms\r\n"
            b"Content-Length: %d\r\n\r\n"
        ) % (uri, self.port, self.count, uri, self.count, call_id, len(body))
        self.transport.sendto(head + body, addr)


async def _serve(sock: socket.socket, port: int) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: _Responder(port), sock=sock)
    await asyncio.Event().wait()


def _worker_main(fd: int, port: int) -> None:
    import uvloop

    uvloop.run(_serve(socket.socket(fileno=fd), port))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(count: int, concurrency: int, workers: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="smsc-wire-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        loadgen = build_loadgen(workdir)
        port = free_port()
        sockets = []
        for _ in range(workers):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, 4 << 20)
            sock.bind(("127.0.0.1", port))
            sockets.append(sock)
        if workers > 1:
            steer_by_payload(sockets[0], workers)
        for sock in sockets:
            processes.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--worker", str(sock.fileno()), str(port)],
                    pass_fds=(sock.fileno(),),
                )
            )
        for sock in sockets:
            sock.close()
        time.sleep(1.0)
        before = [_cpu_seconds(p.pid) for p in processes]
        figures = run_loadgen(loadgen, port, count, concurrency)
        figures["workers"] = workers
        figures["worker_cpu_s"] = [
            round(_cpu_seconds(p.pid) - b, 2) for p, b in zip(processes, before, strict=True)
        ]
        return figures
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker_main(*args.worker)
        return 0
    figures = run(args.count, args.concurrency, args.workers)
    if args.json:
        print(json.dumps(figures))
    else:
        for key in ("workers", "completed", "throughput", "lat2xx_ms", "latack_ms"):
            print(f"{key}: {figures[key]}")
        print(f"retransmissions: {figures['retransmissions']}")
        print(f"loadgen_cpu_s: {figures['loadgen_cpu_s']}")
        print(f"worker_cpu_s: {figures['worker_cpu_s']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
