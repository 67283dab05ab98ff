"""Exactly once across restarts: an MO stored before a restart and re-sent by the UE after
it (its RP-ACK was lost with the process) is acknowledged again and stored once, on SQLite
and on PostgreSQL without Redis (measured before: 32, 1 and 30 such rows in three crashes)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from smsc.app import Application
from smsc.sms.rp import RpAck, decode_rp
from tests.e2e.conftest import PG_URL, make_settings, sip_port
from tests.e2e.peer import message_request, response_to, udp_peer
from tests.e2e.test_mo_mt import MO_BODY, PSI, UE


async def send_mo(app: Application) -> RpAck:
    """The same SMS-SUBMIT (same RP-MR and TPDU), each time in a new SIP transaction."""
    peer = await udp_peer()
    try:
        request, _ = message_request(
            uri=PSI, sender=UE, body=MO_BODY, via=f"SIP/2.0/UDP 127.0.0.1:{peer.port}"
        )
        peer.send(request, ("127.0.0.1", sip_port(app)))
        assert (await peer.next()).status == 202
        answer = await peer.next_request()
        peer.send(response_to(answer), answer.source)
        message = decode_rp(answer.body)
        assert isinstance(message, RpAck)
        return message
    finally:
        peer.close()


async def test_a_resend_after_a_restart_is_acknowledged_and_stored_once(
    tmp_path: Path, storage: dict[str, str]
) -> None:
    settings = make_settings(tmp_path, storage=storage)
    first = Application(settings)
    await first.start()
    try:
        await send_mo(first)
    finally:
        await first.stop()
    second = Application(settings)  # a new process: its in-memory filter starts empty
    await second.start()
    try:
        ack = await send_mo(second)
        assert ack.message_reference == 2
        counts = await second.store.count_by_state()
        assert sum(counts.values()) == 1
    finally:
        await second.stop()


async def test_a_resend_to_another_instance_is_stored_once(
    tmp_path: Path, postgres_schema: str
) -> None:
    """Two instances on one PostgreSQL, no Redis: the S-CSCF sends the resend to the other
    instance, whose filter in memory never saw the first copy; the database's unique key
    answers (before: two rows)."""
    storage = {"database_url": PG_URL, "schema": postgres_schema}
    one = Application(make_settings(tmp_path / "one", storage=storage))
    two = Application(make_settings(tmp_path / "two", storage=storage))
    await one.start()
    try:
        await two.start()
        try:
            await send_mo(one)
            ack = await send_mo(two)
            assert ack.message_reference == 2
            assert sum((await one.store.count_by_state()).values()) == 1
            assert two.metrics.mo_received.labels("DUPLICATE")._value.get() == 1
        finally:
            await two.stop()
    finally:
        await one.stop()


async def test_a_resend_the_redis_filter_forgot_is_stored_once(
    tmp_path: Path, postgres_schema: str
) -> None:
    """Redis is a cache in front, not the truth: with its keys gone (a flush, an eviction, a
    Redis restart) a resend is still acknowledged and stored once."""
    redis_url = os.environ.get("SMSC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = aioredis.from_url(redis_url, socket_timeout=3)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        await client.aclose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis unavailable in CI: {exc}")
        pytest.skip(f"Redis unavailable: {exc}")
    prefix = f"dup{uuid.uuid4().hex[:10]}:"
    storage = {
        "database_url": PG_URL,
        "schema": postgres_schema,
        "redis_url": redis_url,
        "redis_prefix": prefix,
    }
    app = Application(make_settings(tmp_path, storage=storage))
    await app.start()
    try:
        await send_mo(app)
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        assert keys, "the first copy left no key in Redis"
        await client.delete(*keys)
        ack = await send_mo(app)
        assert ack.message_reference == 2
        assert sum((await app.store.count_by_state()).values()) == 1
    finally:
        await app.stop()
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
