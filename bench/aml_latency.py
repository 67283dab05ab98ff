"""AML latency: MO AML SMS over SIP/UDP -> PSAP 2xx, with the PSAP on loopback.

Starts `smsc serve` (SQLite in a temporary folder) with one PSAP route pointing at an aiohttp
PSAP run by this script, sends AML SMS to 112 from distinct senders at a steady pace (the
S-CSCF side answers the SMSC's RP-ACK MESSAGEs with 200), and prints the latency from
sending the MO MESSAGE to the PSAP receiving the report: p50 / p99 / max.

    python bench/aml_latency.py [--count 500] [--rate 100] [--format json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's smsc, also when run as a script
AML = (
    'A"ML=1;lt=48.82639;lg=-2.36619;rd=52;top=20191112112928;lc=68;pm=G;'
    "si=208201771948415;ei=353472104343540;mcc=208;mnc=20;ml=126"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def aml_body(rp_mr: int) -> bytes:
    """RP-DATA MS->N with an SMS-SUBMIT of the AML text to 112 (built with our codec)."""
    from smsc.sms.address import Address
    from smsc.sms.constants import Alphabet, RpMessageType, TypeOfNumber
    from smsc.sms.rp import RpData, encode_rp
    from smsc.sms.tp import SmsSubmit, encode_tpdu
    from smsc.sms.user_data import make_user_data

    submit = SmsSubmit(
        rp_mr, Address("112", TypeOfNumber.UNKNOWN), 0, 0, make_user_data(AML, Alphabet.GSM7)
    )
    return encode_rp(
        RpData(
            RpMessageType.RP_DATA_MS_TO_N, rp_mr, None, Address("491710760000"), encode_tpdu(submit)
        )
    )


def mo(i: int, via_port: int) -> bytes:
    body = aml_body(i & 0xFF)
    sender = f"+4917{i:08d}"
    head = (
        "MESSAGE sip:smsc@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{via_port};branch=z9hG4bK-aml-{i};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <tel:{sender}>;tag=a{i}\r\nTo: <sip:smsc@ims.mnc001.mcc001.3gppnetwork.org>\r\n"
        f"Call-ID: aml-{i}@bench\r\nCSeq: 1 MESSAGE\r\nP-Asserted-Identity: <tel:{sender}>\r\n"
        "Content-Type: application/vnd.3gpp.sms\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Scscf(asyncio.DatagramProtocol):
    """Answers the SMSC's MESSAGEs (RP-ACK to the UE) with 200."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if data.startswith(b"MESSAGE"):
            head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            keep = [
                h
                for h in head[1:]
                if h.split(b":")[0].lower() in (b"via", b"from", b"to", b"call-id", b"cseq")
            ]
            self.transport.sendto(
                b"SIP/2.0 200 OK\r\n" + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n", addr
            )


async def run(count: int, rate: float, fmt: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="smsc-aml-"))
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def psap(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.perf_counter()
        sender = json.loads(body)["sender_msisdn"] if fmt == "json" else None
        if sender is not None:
            key = sender.removeprefix("+")
            if key in sent:
                latencies.append(now - sent.pop(key))
        if len(latencies) >= count:
            done.set()
        return web.Response(status=204)

    app = web.Application()
    app.add_routes([web.post("/aml", psap)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    psap_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", psap_port).start()
    sip_port, http_port = free_port(), free_port()
    url = f"http://127.0.0.1:{psap_port}/aml"
    route = f'[{{name: bench, numbers: ["112"], url: "{url}", format: {fmt}}}]'
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
        SMSC__SIP__LISTEN=f'["udp:127.0.0.1:{sip_port}"]',
        SMSC__HTTP__LISTEN=f"127.0.0.1:{http_port}",
        SMSC__AML__PSAPS=route,
        SMSC__STORAGE__DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'smsc.db'}",
    )
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "smsc.cli", "serve"], env=env, stdout=log, stderr=log, cwd=workdir
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("smsc serve did not start") from None
                await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(Scscf, local_addr=("127.0.0.1", 0))
        via_port = transport.get_extra_info("sockname")[1]
        for i in range(count):
            sent[f"4917{i:08d}"] = time.perf_counter()
            transport.sendto(mo(i, via_port), ("127.0.0.1", sip_port))
            await asyncio.sleep(1 / rate)
        await asyncio.wait_for(done.wait(), 60)
        transport.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        await runner.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    ordered = sorted(latencies)
    return {
        "reports": len(ordered),
        "rate_per_s": rate,
        "format": fmt,
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "target": "p99 < 100 ms",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--format", default="json", choices=["json"])
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.count, args.rate, args.format))
    for key, value in figures.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
