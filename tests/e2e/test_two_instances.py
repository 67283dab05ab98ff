"""Two `smsc serve` instances on one PostgreSQL + Redis: every message delivered exactly once,
also when one instance is killed (kill -9) in the middle of delivering."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from smsc.sms.constants import RpMessageType
from smsc.sms.rp import RpAck, RpData, decode_rp, encode_rp
from smsc.sms.tp import SmsDeliver, decode_tpdu
from tests.e2e.conftest import free_port
from tests.e2e.peer import UdpPeer, Wire, message_request, response_to, udp_peer

PG_URL = os.environ.get(
    "SMSC_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("SMSC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PSI = "sip:smsc@ims.mnc001.mcc001.3gppnetwork.org"
MESSAGES = 240
RECIPIENTS = 24


async def _reachable() -> str | None:
    try:
        connection = await asyncpg.connect(PG_URL.replace("+asyncpg", ""), timeout=3)
        await connection.close()
        client = aioredis.from_url(REDIS_URL, socket_timeout=3)
        await client.ping()
        await client.aclose()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture
async def shared() -> AsyncIterator[tuple[str, str]]:
    """A fresh PostgreSQL schema and Redis prefix for this test; removed afterwards."""
    problem = await _reachable()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL or Redis unavailable in CI: {problem}")
        pytest.skip(f"PostgreSQL or Redis unavailable: {problem}")
    token = uuid.uuid4().hex[:10]
    schema, prefix = f"e2e_{token}", f"e2e{token}:"
    yield schema, prefix
    connection = await asyncpg.connect(PG_URL.replace("+asyncpg", ""))
    await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await connection.close()
    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def start(workdir: Path, schema: str, prefix: str, next_hop: int) -> tuple[Any, int, int]:
    sip, http = free_port(), free_port()
    env = dict(
        os.environ,
        SMSC__SIP__LISTEN=f'["udp:127.0.0.1:{sip}"]',
        SMSC__SIP__NEXT_HOP=f"sip:127.0.0.1:{next_hop}",
        SMSC__SIP__T1_MS="100",
        SMSC__SMSC__TR1M_S="1",
        SMSC__HTTP__LISTEN=f"127.0.0.1:{http}",
        SMSC__STORAGE__DATABASE_URL=PG_URL,
        SMSC__STORAGE__SCHEMA=schema,
        SMSC__STORAGE__REDIS_URL=REDIS_URL,
        SMSC__STORAGE__REDIS_PREFIX=prefix,
    )
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "serve.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "smsc.cli", "serve"], env=env, stdout=log, stderr=log, cwd=workdir
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=1):
                return process, sip, http
        except OSError:
            assert process.poll() is None, (workdir / "serve.log").read_text()
            assert time.monotonic() < deadline, "smsc serve did not start"
            time.sleep(0.1)


class Ue:
    """Every recipient behind one S-CSCF: 200, then RP-ACK, to the instance that sent it."""

    def __init__(self, peer: UdpPeer) -> None:
        self.peer = peer
        self.seen: Counter[str] = Counter()
        self.by_instance: Counter[int] = Counter()
        self.transactions: set[str] = set()

    def handle(self, wire: Wire) -> None:
        if not wire.is_request:
            return
        self.peer.send(response_to(wire), wire.source)
        call_id = wire.get("Call-ID")
        if call_id in self.transactions:
            return  # a SIP retransmission of the same MESSAGE: answered again, nothing new
        self.transactions.add(call_id)
        data = decode_rp(wire.body)
        if not isinstance(data, RpData):
            return
        deliver = decode_tpdu(data.user_data, data.message_type)
        assert isinstance(deliver, SmsDeliver) and deliver.user_data.text is not None
        self.seen[deliver.user_data.text] += 1
        self.by_instance[wire.source[1]] += 1
        recipient = wire.start.split()[1].removeprefix("tel:")
        ack = encode_rp(RpAck(RpMessageType.RP_ACK_MS_TO_N, data.message_reference))
        request, _ = message_request(
            uri=PSI,
            sender=f"tel:{recipient}",
            body=ack,
            via=f"SIP/2.0/UDP 127.0.0.1:{self.peer.port}",
        )
        self.peer.send(request, wire.source)

    async def pump(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            try:
                self.handle(await self.peer.next(timeout=left))
            except TimeoutError:
                return


def submit(http: int, i: int) -> None:
    body = json.dumps(
        {"to": f"+4917200{i % RECIPIENTS:05d}", "from": "Bank", "text": f"m{i}"}
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{http}/api/v1/messages",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


async def delivered_count(schema: str) -> tuple[int, int]:
    connection = await asyncpg.connect(PG_URL.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            f'SELECT state, count(*) AS n FROM "{schema}".messages GROUP BY state'
        )
    finally:
        await connection.close()
    counts = {row["state"]: row["n"] for row in rows}
    return counts.get("delivered", 0), sum(counts.values())


async def test_two_instances_deliver_every_message_once_even_when_one_is_killed(
    shared: tuple[str, str], tmp_path: Path
) -> None:
    schema, prefix = shared
    peer = await udp_peer()
    ue = Ue(peer)
    first, _, http_a = start(tmp_path / "a", schema, prefix, peer.port)
    second, sip_b, http_b = start(tmp_path / "b", schema, prefix, peer.port)
    try:
        for i in range(MESSAGES):
            submit(http_a if i % 2 else http_b, i)
        await ue.pump(0.4)  # both instances are delivering now
        first.send_signal(signal.SIGKILL)
        first.wait()
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            await ue.pump(0.5)
            done, total = await delivered_count(schema)
            if done == total == MESSAGES:
                break
        await ue.pump(0.5)
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
        peer.close()
    done, total = await delivered_count(schema)
    assert (done, total) == (MESSAGES, MESSAGES)  # each stored once, each delivered
    assert set(ue.seen) == {f"m{i}" for i in range(MESSAGES)}
    twice = [text for text, n in ue.seen.items() if n > 1]
    # Only what the killed instance had in flight (one per recipient at most) is sent again.
    assert len(twice) <= RECIPIENTS, twice
    assert ue.by_instance[sip_b] > 0 and len(ue.by_instance) == 2  # both instances worked
    await asyncio.sleep(0)
