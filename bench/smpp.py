"""SMPP submit_sm throughput: one ESME bound as transmitter against `smsc serve` on SQLite.

Starts this checkout's `smsc serve` on free ports with its data in a temporary folder (as
bench/mo_throughput.py does) and one SMPP account (no max_rate); binds one ESME with a raw
asyncio client written here (its PDUs encoded with the project's smsc.smpp.codec: the bench
measures the server, not a client library), keeps `--window` submit_sm outstanding and reports
submit_sm_resp/s over `--count` messages (each answered ESME_ROK: stored before the answer),
the latency from a submit_sm written to its submit_sm_resp read (p50/p99), and the server's
CPU µs per submit (utime + stime from /proc/PID/stat, before the first submit and after the
last answer).

With `--end-to-end` the bench also plays the S-CSCF and the UEs (bench/mt_drain.py's UeSide:
200 and an RP-ACK for every MT MESSAGE) with `sip.next_hop` pointing at it, and reports MT
delivered/s until every submitted message is delivered (the metric smsc_mt_delivered_total
reaching the count), and the server's CPU per message for the whole run.

    python bench/smpp.py [--count 20000] [--window 64] [--recipients 1000] [--end-to-end]
        [--priority 0-3] [--json]

Prints figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's smsc and bench packages, ahead of bench/

from bench.figures import print_figures  # noqa: E402
from bench.mo_throughput import free_port, smsc_env, start_smsc, wait_ready  # noqa: E402
from bench.mt_drain import (  # noqa: E402
    PSI,
    UeSide,
    metric_sum,
    percentile,
    process_cpu_seconds,
    recipient_of,
)
from smsc.smpp.codec import encode  # noqa: E402
from smsc.smpp.pdu import BindTransmitter, SubmitSm  # noqa: E402

TARGET_SUBMITS_PER_S = 10_000
"""The issue's target for one ESME on this machine."""
SYSTEM_ID = "bench"
PASSWORD = "bench"
TEXT = b"SMPP bench: your code is 123456"
"""GSM 7-bit default alphabet, one septet per octet (data_coding 0): one segment."""

_HEADER = struct.Struct(">IIII")
_SUBMIT_SM_RESP = 0x80000004
_BIND_TRANSMITTER_RESP = 0x80000002
_ENQUIRE_LINK = 0x00000015
_ENQUIRE_LINK_RESP = 0x80000015
_GENERIC_NACK = 0x80000000


def account(window: int) -> str:
    """SMSC__SMPP__ACCOUNTS: one account, transmitter only, any sender, no max_rate."""
    return json.dumps(
        [
            {
                "system_id": SYSTEM_ID,
                "password": PASSWORD,
                "bind_types": ["tx"],
                "allowed_sources": ["*"],
                "window": max(window, 1),
            }
        ]
    )


def submit_pdus(count: int, recipients: int, priority: int = 0) -> list[bytes]:
    """The submit_sm of the run, encoded before the clock starts (sequence numbers 2..)."""
    pdus = []
    for i in range(count):
        pdu = SubmitSm(
            source_addr_ton=5,
            source_addr="MyBank",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=recipient_of(i % recipients),
            data_coding=0,
            short_message=TEXT,
            priority_flag=priority,
        )
        pdus.append(encode(pdu, sequence_number=i + 2))
    return pdus


class Esme:
    """A raw SMPP 3.4 transmitter over asyncio streams: a window of requests outstanding."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.sent_at: dict[int, float] = {}
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.answered = 0
        self.last_answer = 0.0
        self._room = asyncio.Event()
        self._buffer = b""

    @classmethod
    async def bind(cls, port: int) -> Esme:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            encode(BindTransmitter(system_id=SYSTEM_ID, password=PASSWORD), sequence_number=1)
        )
        header = await asyncio.wait_for(reader.readexactly(16), 10)
        length, command, status, _ = _HEADER.unpack(header)
        await reader.readexactly(length - 16)
        if command != _BIND_TRANSMITTER_RESP or status != 0:
            raise SystemExit(f"bind_transmitter refused: command {command:#x} status {status:#x}")
        return cls(reader, writer)

    async def run(self, pdus: list[bytes], window: int) -> None:
        """Write the PDUs keeping at most `window` unanswered; return once all are answered."""
        reading = asyncio.get_running_loop().create_task(self._read(len(pdus)))
        sequence = 2
        total = len(pdus)
        sent = 0
        clock = time.perf_counter
        while sent < total:
            room = window - (sent - self.answered)
            if room <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            now = clock()
            batch = pdus[sent : sent + room]
            for _ in batch:
                self.sent_at[sequence] = now
                sequence += 1
            self.writer.write(b"".join(batch))
            sent += len(batch)
            await self.writer.drain()
        await reading

    async def _read(self, expected: int) -> None:
        clock = time.perf_counter
        unpack = _HEADER.unpack_from
        while self.answered < expected:
            data = await self.reader.read(1 << 16)
            if not data:
                raise SystemExit(f"the SMSC closed the session after {self.answered} answers")
            now = clock()
            buffer = self._buffer + data
            position = 0
            while len(buffer) - position >= 16:
                length, command, status, sequence = unpack(buffer, position)
                if len(buffer) - position < length:
                    break
                position += length
                if command in (_SUBMIT_SM_RESP, _GENERIC_NACK):
                    sent = self.sent_at.pop(sequence, None)
                    if sent is not None:
                        self.latencies.append(now - sent)
                    self.statuses[status] += 1
                    self.answered += 1
                elif command == _ENQUIRE_LINK:
                    self.writer.write(_HEADER.pack(16, _ENQUIRE_LINK_RESP, 0, sequence))
            self._buffer = buffer[position:]
            self.last_answer = now
            self._room.set()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="smsc-bench-smpp-"))
    sip_port, http_port, smpp_port = free_port(), free_port(), free_port()
    http = f"http://127.0.0.1:{http_port}"
    loop = asyncio.get_running_loop()
    ue: UeSide | None = None
    ue_transport: asyncio.DatagramTransport | None = None
    resender: asyncio.Task[None] | None = None
    settings = {
        "SMSC__SMPP__LISTEN": f'["127.0.0.1:{smpp_port}"]',
        "SMSC__SMPP__ACCOUNTS": account(args.window),
        "SMSC__SIP__PSI": PSI,
    }
    if args.end_to_end:
        ue_transport, ue = await loop.create_datagram_endpoint(
            lambda: UeSide(args.count), local_addr=("127.0.0.1", 0)
        )
        resender = loop.create_task(ue.resend())
        settings["SMSC__SIP__NEXT_HOP"] = f"sip:127.0.0.1:{ue.port}"
    env = smsc_env(workdir, sip_port, http_port, **settings)
    pdus = submit_pdus(args.count, args.recipients, args.priority)
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115
    server = start_smsc(env, workdir, log)
    figures: dict[str, Any] = {}
    try:
        await asyncio.to_thread(wait_ready, http, time.monotonic() + 60)
        esme = await Esme.bind(smpp_port)
        cpu_start = process_cpu_seconds(server.pid)
        client_cpu_start = time.process_time()
        started = time.perf_counter()
        await esme.run(pdus, args.window)
        submit_s = esme.last_answer - started
        cpu_submit = process_cpu_seconds(server.pid) - cpu_start
        client_cpu = time.process_time() - client_cpu_start
        accepted = esme.statuses.get(0, 0)
        rate = args.count / submit_s if submit_s > 0 else float("nan")
        figures = {
            "count": args.count,
            "window": args.window,
            "submit_sm_resp_per_s": round(rate),
            "submit_s": round(submit_s, 3),
            "esme_rok": accepted,
            "other_statuses": {f"{k:#x}": v for k, v in esme.statuses.items() if k != 0},
            "latency_p50_ms": round(percentile(esme.latencies, 0.5) * 1000, 2),
            "latency_p99_ms": round(percentile(esme.latencies, 0.99) * 1000, 2),
            "server_cpu_us_per_submit": round(cpu_submit / max(args.count, 1) * 1e6, 1),
            "server_cpu_share": round(cpu_submit / submit_s, 2) if submit_s > 0 else None,
            "client_cpu_us_per_submit": round(client_cpu / max(args.count, 1) * 1e6, 1),
            "submits_metric": int(metric_sum(http, "smsc_smpp_submits_total")),
        }
        if ue is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(ue.done), args.timeout)
            delivered = 0.0
            for _ in range(100):  # outcomes are recorded after the 200 to the RP-ACK
                delivered = metric_sum(http, "smsc_mt_delivered_total")
                if delivered >= args.count:
                    break
                await asyncio.sleep(0.1)
            finished = ue.last_ack or time.perf_counter()
            cpu_total = process_cpu_seconds(server.pid) - cpu_start
            first_mt = ue.first_mt or started
            drain_s = finished - first_mt
            figures.update(
                {
                    "route": "SMSC__SIP__NEXT_HOP = the bench UE peer (RP-ACK for every MT)",
                    "recipients": args.recipients,
                    "mt_delivered_per_s": round(ue.acks_confirmed / drain_s)
                    if drain_s > 0
                    else None,
                    "first_submit_to_last_delivery_s": round(finished - started, 2),
                    "mt_delivered_metric": int(delivered),
                    "rp_acks_confirmed": ue.acks_confirmed,
                    "rp_ack_resends": ue.ack_resends,
                    "server_cpu_us_per_message_end_to_end": round(
                        cpu_total / max(args.count, 1) * 1e6, 1
                    ),
                    "all_delivered": delivered >= args.count,
                }
            )
        await esme.close()
    finally:
        if resender is not None:
            resender.cancel()
        if ue_transport is not None:
            ue_transport.close()
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    rate = figures.get("submit_sm_resp_per_s", 0)
    complete = figures.get("esme_rok") == args.count
    figures["target"] = f">= {TARGET_SUBMITS_PER_S:,} submit_sm_resp/s (all ESME_ROK), one ESME"
    figures["verdict"] = (
        "INCOMPLETE" if not complete else "PASS" if rate >= TARGET_SUBMITS_PER_S else "MISS"
    )
    figures["database"] = "sqlite"
    figures["machine"] = (
        f"{os.cpu_count()} cpus, {platform.python_implementation()} {platform.python_version()}"
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=64, help="submit_sm outstanding")
    parser.add_argument(
        "--recipients", type=int, default=1_000, help="distinct destination numbers"
    )
    parser.add_argument(
        "--end-to-end", action="store_true", help="also deliver every MT to a UE peer"
    )
    parser.add_argument(
        "--priority", type=int, default=0, choices=range(4), help="priority_flag of every submit"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for the MT drain")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        figures = asyncio.run(run(args))
    else:
        figures = uvloop.run(run(args))
    print_figures(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
