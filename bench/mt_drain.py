"""MT drain: N queued messages to R registered recipients, the UE side answering RP-ACK.

1. Migrates a fresh database (`smsc db upgrade`; SQLite in a temporary folder, or a dedicated
   PostgreSQL database `smsc_bench` that is dropped afterwards) and inserts the N messages
   directly with `SqlMessageStore.add_many` (one reused SMS-SUBMIT TPDU, recipient
   `49170{i % R:07d}`, so every recipient has N / R messages waiting, interleaved).
2. Plays the S-CSCF and the UEs behind it in this process (asyncio UDP, uvloop if installed):
   every MT MESSAGE gets a 200 at once and then a MESSAGE with RP-ACK (MS->N, same RP-MR, from
   the recipient's P-Asserted-Identity) back to the instance that sent it; RP-ACK MESSAGEs
   are resent on T1 until the SMSC's 200 arrives.
3. Starts `smsc serve` (one instance, or `--instances 2` sharing PostgreSQL + Redis). Routing
   is by third-party REGISTER of every recipient with this peer as Contact (default), or by
   `SMSC__SIP__NEXT_HOP` pointing at it (`--route next-hop`).
4. Measures from the first MT MESSAGE to the last RP-ACK answered with 200 (and checks
   `smsc_mt_delivered_total` on /metrics reaches N), the overall and steady-state (10 %-90 %)
   MT/s, the servers' RSS every second (start/peak/end), the SMSC's 200 latency to an
   RP-ACK MESSAGE and the per-recipient cycle (RP-ACK sent -> that recipient's next MT).

    python bench/mt_drain.py [--messages 100000] [--recipients 10000]
        [--database sqlite|postgresql] [--instances 1|2] [--route register|next-hop]
        [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.figures import print_figures  # noqa: E402

PSI = "sip:smsc@ims.mnc001.mcc001.3gppnetwork.org"
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c"]
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/smsc_bench"
REDIS_URL = "redis://127.0.0.1:6379/11"
RESEND_S = 0.5
UDP_BUFFER = 8 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def recipient_of(i: int) -> str:
    return f"49170{i:07d}"


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# ---------------------------------------------------------------------------------------------
# Queue preparation


def prepare_database(database: str, workdir: Path) -> str:
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'smsc.db'}"
    else:
        subprocess.run([*PG_ADMIN, "drop database if exists smsc_bench"], check=True)
        subprocess.run([*PG_ADMIN, "create database smsc_bench"], check=True)
        url = PG_URL
    # this checkout's migrations, as for the servers (not an installed copy's)
    env = dict(os.environ, SMSC__STORAGE__DATABASE_URL=url, PYTHONPATH=str(ROOT))
    subprocess.run(
        [sys.executable, "-m", "smsc.cli", "db", "upgrade"],
        env=env,
        cwd=workdir,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return url


def drop_database(database: str) -> None:
    if database == "postgresql":
        subprocess.run([*PG_ADMIN, "drop database if exists smsc_bench with (force)"], check=False)


def clean_redis() -> None:
    """Delete the SMSC's keys in the bench's own Redis database (number 11)."""
    from redis import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter("smsc:*", count=10_000))
        for start in range(0, len(keys), 10_000):
            client.delete(*keys[start : start + 10_000])
    finally:
        client.close()


async def fill_queue(url: str, messages: int, recipients: int) -> float:
    """Insert the messages with the store API; returns the seconds it took."""
    from smsc.service.model import MessageOrigin, NewMessage
    from smsc.sms.address import Address
    from smsc.sms.constants import Alphabet
    from smsc.sms.tp import SmsSubmit, encode_tpdu
    from smsc.sms.user_data import make_user_data
    from smsc.store.sql import SqlMessageStore

    text = "MT drain benchmark: hello from the SMSC"
    tpdu = encode_tpdu(
        SmsSubmit(0, Address("491700000000"), 0, 0, make_user_data(text, Alphabet.GSM7))
    )
    now = datetime.now(UTC)
    expires = now + timedelta(days=1)
    store = SqlMessageStore(url, migrate=False)
    await store.start()
    started = time.perf_counter()
    try:
        batch = 5_000
        for first in range(0, messages, batch):
            rows = [
                NewMessage(
                    submission_id=f"bench-{i}",
                    origin=MessageOrigin.API,
                    originator="491710769999",
                    originator_ton=1,
                    recipient=recipient_of(i % recipients),
                    submit_tpdu=tpdu,
                    received_at=now,
                    expires_at=expires,
                    text=text,
                )
                for i in range(first, min(messages, first + batch))
            ]
            await store.add_many(rows)
    finally:
        await store.close()
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------
# The S-CSCF / UE side


class UeSide(asyncio.DatagramProtocol):
    """Answers MT MESSAGEs with 200 and an RP-ACK MESSAGE; takes the SMSC's 200s."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.done = asyncio.get_event_loop().create_future()
        self.first_mt: float | None = None
        self.last_ack: float | None = None
        self.mt_received = 0
        self.mt_duplicates = 0
        self.acks_confirmed = 0
        self.ack_resends = 0
        self.other = 0
        self.register_ok = 0
        self.registered = asyncio.Event()
        self.register_target = 0
        self.ack_times: list[float] = []
        """Clock time of each confirmed RP-ACK (for the rate over time)."""
        self.ack_rtt: list[float] = []
        """RP-ACK MESSAGE sent -> the SMSC's 200, seconds (first sends only)."""
        self.cycle: list[float] = []
        """RP-ACK sent -> the same recipient's next MT MESSAGE arrives, seconds."""
        self._seen: set[bytes] = set()
        self._pending: dict[bytes, tuple[bytes, tuple[str, int], float, int]] = {}
        self._last_ack_of: dict[bytes, float] = {}
        self._numbers = itertools.count(1)
        self._head = b""
        self._middle = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, UDP_BUFFER)
        self.port = transport.get_extra_info("sockname")[1]
        via = f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};rport;branch=z9hG4bK-ue"
        # The RP-ACK MESSAGE template: {n} and the recipient are patched in per message.
        self._head = f"MESSAGE {PSI} SIP/2.0\r\n{via}".encode()
        self._middle = (
            f"\r\nMax-Forwards: 69\r\nTo: <{PSI}>\r\nCSeq: 1 MESSAGE\r\n"
            "Content-Type: application/vnd.3gpp.sms\r\nContent-Length: 2\r\n"
        ).encode()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, ...]) -> None:
        now = time.perf_counter()
        if data.startswith(b"MESSAGE "):
            self._mt(data, (addr[0], addr[1]), now)
        elif data.startswith(b"SIP/2.0 200"):
            self._ok(data, now)
        else:
            self.other += 1

    def _mt(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        keep = []
        call_id = b""
        for line in lines[1:]:
            name = line[: line.find(b":")].lower()
            if name in (b"via", b"from", b"cseq"):
                keep.append(line)
            elif name == b"call-id":
                keep.append(line)
                call_id = line
            elif name == b"to":
                keep.append(line + b";tag=ue")
        assert self.transport is not None
        self.transport.sendto(
            b"SIP/2.0 200 OK\r\n" + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n", addr
        )
        if call_id in self._seen:
            self.mt_duplicates += 1
            return
        self._seen.add(call_id)
        self.mt_received += 1
        if self.first_mt is None:
            self.first_mt = now
        # Request-URI "tel:+49170..." names the recipient; body[1] is the RP-MR
        uri = lines[0].split(b" ", 2)[1]
        number = uri[5:] if uri.startswith(b"tel:+") else uri
        previous = self._last_ack_of.get(number)
        if previous is not None:
            self.cycle.append(now - previous)
        n = next(self._numbers)
        tag = str(n).encode()
        ack_call_id = b"ack-" + tag + b"@ue"
        identity = b"tel:+" + number
        request = b"".join(
            (
                self._head,
                tag,
                b"\r\nFrom: <",
                identity,
                b">;tag=u",
                tag,
                b"\r\nCall-ID: ",
                ack_call_id,
                b"\r\nP-Asserted-Identity: <",
                identity,
                b">",
                self._middle,
                b"\r\n\x02",
                body[1:2],
            )
        )
        self.transport.sendto(request, addr)
        self._pending[ack_call_id] = (request, addr, now, 0)
        self._last_ack_of[number] = now

    def _ok(self, data: bytes, now: float) -> None:
        start = data.find(b"\r\nCall-ID: ")
        if start < 0:
            start = data.find(b"\r\ni: ")
            if start < 0:
                return
            start += 5
        else:
            start += 11
        call_id = data[start : data.find(b"\r\n", start)].strip()
        if not call_id.startswith(b"ack-"):
            if call_id.startswith(b"reg-"):
                self.register_ok += 1
                if self.register_ok >= self.register_target:
                    self.registered.set()
            return
        pending = self._pending.pop(call_id, None)
        if pending is None:
            return  # a 200 to a resent RP-ACK
        if pending[3] == 0:
            self.ack_rtt.append(now - pending[2])
        self.acks_confirmed += 1
        self.ack_times.append(now)
        self.last_ack = now
        if self.acks_confirmed >= self.expected and not self.done.done():
            self.done.set_result(None)

    async def resend(self) -> None:
        """T1 retransmission of RP-ACK MESSAGEs without a 200 (the MT's outcome hangs on it)."""
        while True:
            await asyncio.sleep(RESEND_S / 2)
            now = time.perf_counter()
            assert self.transport is not None
            for call_id, (request, addr, sent, resends) in list(self._pending.items()):
                if now - sent >= RESEND_S * (resends + 1):
                    self.transport.sendto(request, addr)
                    self._pending[call_id] = (request, addr, sent, resends + 1)
                    self.ack_resends += 1

    async def register_all(self, recipients: int, sip_port: int, window: int = 500) -> None:
        """Third-party REGISTER of every recipient with this socket as the S-CSCF contact."""
        assert self.transport is not None
        self.register_target = recipients
        sent = 0
        destination = ("127.0.0.1", sip_port)
        while sent < recipients:
            while sent < recipients and sent - self.register_ok < window:
                number = recipient_of(sent)
                request = (
                    f"REGISTER {PSI} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK-reg{sent};rport\r\n"
                    "Max-Forwards: 70\r\n"
                    f"From: <sip:scscf.ims.example.net>;tag=s{sent}\r\n"
                    f"To: <sip:+{number}@ims.example.net;user=phone>\r\n"
                    f"Call-ID: reg-{sent}@scscf\r\nCSeq: 1 REGISTER\r\n"
                    f"Contact: <sip:127.0.0.1:{self.port}>\r\nExpires: 3600\r\n"
                    "Content-Length: 0\r\n\r\n"
                ).encode()
                self.transport.sendto(request, destination)
                sent += 1
            await asyncio.sleep(0.001)
        await asyncio.wait_for(self.registered.wait(), 120)


# ---------------------------------------------------------------------------------------------
# Servers and sampling


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (its threads included), seconds; OSError once it is gone."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric_sum(http: str, name: str, labels: tuple[str, ...] = ("",)) -> float:
    """Sum of a metric's samples on `http`/metrics whose label text contains one of `labels`."""
    with urllib.request.urlopen(f"{http}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if (
            line.startswith(name)
            and line[len(name)] in " {"
            and any(label in line for label in labels)
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Server:
    def __init__(self, workdir: Path, env: dict[str, str], index: int) -> None:
        self.sip_port, self.http_port = free_port(), free_port()
        self.env = dict(
            env,
            SMSC__SIP__LISTEN=f'["udp:127.0.0.1:{self.sip_port}"]',
            SMSC__HTTP__LISTEN=f"127.0.0.1:{self.http_port}",
        )
        self.log_path = workdir / f"serve-{index}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        command = [sys.executable, "-m", "smsc.cli", "serve"]
        profile = os.environ.get("MT_DRAIN_PROFILE")
        if profile:
            command = [sys.executable, "-m", "cProfile", "-o", f"{profile}.{index}", *command[1:]]
        self.process = subprocess.Popen(
            command, env=self.env, stdout=self.log, stderr=self.log, cwd=workdir
        )
        self.rss: list[tuple[float, int]] = []

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def rss_kib(self) -> int | None:
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def cpu_seconds(self) -> float:
        try:
            return process_cpu_seconds(self.process.pid)
        except OSError:
            return float("nan")

    def metric(self, name: str, labels: tuple[str, ...] = ("",)) -> float:
        """Sum of a metric's samples whose label text contains one of `labels`."""
        return metric_sum(self.http, name, labels)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(2 if os.environ.get("MT_DRAIN_PROFILE") else 15)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


async def wait_ready(servers: list[Server]) -> None:
    deadline = time.monotonic() + 60
    for server in servers:
        while True:
            try:
                with urllib.request.urlopen(f"{server.http}/readyz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"smsc serve did not start; see {server.log_path}")
            await asyncio.sleep(0.1)


async def sample_rss(servers: list[Server], started: float) -> None:
    while True:
        now = time.perf_counter() - started
        for server in servers:
            rss = server.rss_kib()
            if rss:
                server.rss.append((now, rss))
        await asyncio.sleep(1.0)


# ---------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    messages, recipients = args.messages, args.recipients
    workdir = Path(tempfile.mkdtemp(prefix="smsc-mt-drain-"))
    servers: list[Server] = []
    redis = args.instances > 1 or args.redis
    try:
        if redis:
            clean_redis()
        url = prepare_database(args.database, workdir)
        fill_s = await fill_queue(url, messages, recipients)

        loop = asyncio.get_running_loop()
        transport, ue = await loop.create_datagram_endpoint(
            lambda: UeSide(messages), local_addr=("127.0.0.1", 0)
        )
        resender = loop.create_task(ue.resend())
        env = dict(
            os.environ,
            SMSC__STORAGE__DATABASE_URL=url,
            SMSC__SIP__PSI=PSI,
            PYTHONPATH=str(ROOT),
        )
        if redis:
            env["SMSC__STORAGE__REDIS_URL"] = REDIS_URL
        if args.route == "next-hop":
            env["SMSC__SIP__NEXT_HOP"] = f"sip:127.0.0.1:{ue.port}"
        started = time.perf_counter()
        servers = [Server(workdir, env, index) for index in range(args.instances)]
        sampler = loop.create_task(sample_rss(servers, started))
        await wait_ready(servers)
        ready = time.perf_counter()
        cpu_start = [server.cpu_seconds() for server in servers]
        registered_s = 0.0
        if args.route == "register":
            await ue.register_all(recipients, servers[0].sip_port)
            registered_s = time.perf_counter() - ready
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ue.done, args.timeout)
        finished = ue.last_ack or time.perf_counter()
        cpu_end = [server.cpu_seconds() for server in servers]
        by_instance: list[int] = []
        for _ in range(100):  # the outcomes are recorded after the 200 to the RP-ACK
            by_instance = [int(server.metric("smsc_mt_delivered_total")) for server in servers]
            if sum(by_instance) >= messages:
                break
            await asyncio.sleep(0.1)
        delivered = sum(by_instance)
        confirmed = time.perf_counter()
        await asyncio.sleep(1.1)  # one more RSS sample after the drain
        sampler.cancel()
        resender.cancel()
        queued = sum(
            server.metric("smsc_queue_depth", ('"queued"', '"delivering"')) for server in servers
        )
        transport.close()
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        drop_database(args.database)
        if redis:
            clean_redis()

    first = ue.first_mt or ready
    drain_s = finished - first
    times = ue.ack_times
    steady = None
    if len(times) >= 10:
        lo, hi = times[len(times) // 10], times[len(times) * 9 // 10 - 1]
        steady = round((len(times) * 8 // 10) / (hi - lo)) if hi > lo else None
    per_second: list[int] = []
    for stamp in times:
        second = int(stamp - first)
        while len(per_second) <= second:
            per_second.append(0)
        per_second[second] += 1
    rss = [
        {
            "after_ready_mib": round(
                next((kib for at, kib in server.rss if at >= ready - started), 0) / 1024, 1
            ),
            "peak_mib": round(max(kib for _, kib in server.rss) / 1024, 1) if server.rss else None,
            "end_mib": round(server.rss[-1][1] / 1024, 1) if server.rss else None,
            "samples_mib": [round(kib / 1024) for _, kib in server.rss],
        }
        for server in servers
    ]
    cpu = sum(end - start for start, end in zip(cpu_start, cpu_end, strict=True))
    return {
        "messages": messages,
        "recipients": recipients,
        "database": args.database + (" + redis" if redis else ""),
        "instances": args.instances,
        "route": "third-party REGISTER to the bench peer"
        if args.route == "register"
        else "SMSC__SIP__NEXT_HOP = the bench peer",
        "queue_fill_s": round(fill_s, 2),
        "startup_s": round(ready - started, 2),
        "register_s": round(registered_s, 2),
        "drain_s": round(drain_s, 2),
        "mt_per_s": round(ue.acks_confirmed / drain_s) if drain_s > 0 else None,
        "mt_per_s_steady": steady,
        "mt_per_s_by_second": per_second,
        "delivered_metric": int(delivered),
        "delivered_by_instance": by_instance,
        "confirm_after_last_ack_s": round(confirmed - finished, 2),
        "queued_or_delivering_after": int(queued),
        "mt_received": ue.mt_received,
        "mt_retransmissions_seen": ue.mt_duplicates,
        "rp_acks_confirmed": ue.acks_confirmed,
        "rp_ack_resends": ue.ack_resends,
        "rp_ack_200_p50_ms": round(percentile(ue.ack_rtt, 0.5) * 1000, 2),
        "rp_ack_200_p99_ms": round(percentile(ue.ack_rtt, 0.99) * 1000, 2),
        "recipient_cycle_p50_ms": round(percentile(ue.cycle, 0.5) * 1000, 2),
        "recipient_cycle_p99_ms": round(percentile(ue.cycle, 0.99) * 1000, 2),
        "server_cpu_us_per_mt": round(cpu / max(ue.acks_confirmed, 1) * 1e6, 1),
        "rss": rss,
        "target": "≥ 10,000 MT/s on SQLite; PostgreSQL + Redis is reported only",
        "verdict": "n/a"
        if args.database != "sqlite"
        else "PASS"
        if drain_s > 0 and ue.acks_confirmed / drain_s >= 10_000
        else "MISS",
        "complete": ue.acks_confirmed >= messages and delivered >= messages,
        "machine": f"{os.cpu_count()} cpus, {platform.python_implementation()} "
        f"{platform.python_version()}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--instances", type=int, default=1, help="> 1 needs PostgreSQL")
    parser.add_argument("--redis", action="store_true", help="use Redis with one instance too")
    parser.add_argument("--route", choices=["register", "next-hop"], default="register")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for the drain")
    parser.add_argument("--quick", action="store_true", help="5,000 messages, 500 recipients")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.recipients = 5_000, 500
    if args.instances > 1 and args.database != "postgresql":
        parser.error("several instances need --database postgresql")
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
