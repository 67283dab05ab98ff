"""Shared state contract (registrations, locks, duplicates): Redis and the in-process twins."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis

from smsc.service.registrations import Registrar
from smsc.service.shared_state import (
    DuplicateFilter,
    RecipientLocks,
    RegistrarStore,
    RegistrationStore,
    duplicate_key,
    new_owner,
)
from smsc.store.errors import StoreError, StoreUnavailable
from smsc.store.local_duplicates import LocalDuplicateFilter
from smsc.store.local_locks import LocalRecipientLocks
from smsc.store.redis_client import check_prefix, connect
from smsc.store.redis_duplicates import RedisDuplicateFilter
from smsc.store.redis_locks import RedisRecipientLocks
from smsc.store.redis_registrations import RedisRegistrationStore

REDIS_URL = os.environ.get("SMSC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"
ALICE = "4917600000001"
BOB = "4917600000002"
SCSCF = "sip:scscf1.ims.example.net:6060"
SCSCF2 = "sip:scscf2.ims.example.net:6060"


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Instance:
    """What one `smsc serve` instance sees of the shared state."""

    registrations: RegistrationStore
    locks: RecipientLocks
    duplicates: DuplicateFilter


@dataclass
class Backend:
    """Two instances on one shared state, their clock, and a way to let time pass."""

    name: str
    a: Instance
    b: Instance
    now: Callable[[], float]
    wait: Callable[[float], Awaitable[None]]
    prefix: str = ""
    clients: list[Redis] = field(default_factory=list)


_redis_problem: list[str] = []
"""Why Redis is unusable, found once per session (empty list: not checked yet)."""


async def _check_redis() -> str:
    """'' when Redis answers, else the reason."""
    if not _redis_problem:
        try:
            client = await connect(REDIS_URL, timeout_s=1.0)
        except StoreUnavailable as exc:
            _redis_problem.append(str(exc).splitlines()[0])
        else:
            await client.aclose()
            _redis_problem.append("")
    return _redis_problem[0]


async def _redis_backend() -> AsyncIterator[Backend]:
    """Two clients (two instances) on a unique key prefix, whose keys are deleted afterwards."""
    problem = await _check_redis()
    if problem:
        message = f"Redis at {REDIS_URL} unusable ({problem}); set SMSC_TEST_REDIS_URL"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    prefix = f"smsc-test:{uuid.uuid4().hex[:12]}:"
    clients = [await connect(REDIS_URL), await connect(REDIS_URL)]

    def instance(client: Redis) -> Instance:
        return Instance(
            RedisRegistrationStore(client, prefix=prefix),
            RedisRecipientLocks(client, prefix=prefix),
            RedisDuplicateFilter(client, prefix=prefix),
        )

    backend = Backend("redis", instance(clients[0]), instance(clients[1]), time.time, asyncio.sleep)
    backend.prefix, backend.clients = prefix, clients
    try:
        yield backend
    finally:
        keys = [key async for key in clients[0].scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await clients[0].delete(*keys)
        for client in clients:
            await client.aclose()


def _local_backend() -> Backend:
    """The in-process twins on a fake clock; both 'instances' share them (one process)."""
    clock = FakeClock()

    async def wait(seconds: float) -> None:
        clock.now += seconds

    shared = Instance(
        RegistrarStore(Registrar(), clock=clock),
        LocalRecipientLocks(clock=clock),
        LocalDuplicateFilter(clock=clock),
    )
    return Backend("local", shared, shared, clock, wait)


@pytest.fixture(params=["redis", "local"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """Each implementation of the shared state in turn."""
    if request.param == "local":
        yield _local_backend()
        return
    async for backend in _redis_backend():
        yield backend


@pytest.fixture
async def redis_backend() -> AsyncIterator[Backend]:
    """Redis only."""
    async for backend in _redis_backend():
        yield backend


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_implementations_satisfy_the_ports() -> None:
    def ports(r: RegistrationStore, lo: RecipientLocks, d: DuplicateFilter) -> None:
        del r, lo, d

    client = Redis.from_url("redis://127.0.0.1:1")
    ports(RedisRegistrationStore(client), RedisRecipientLocks(client), RedisDuplicateFilter(client))
    ports(RegistrarStore(), LocalRecipientLocks(), LocalDuplicateFilter())


# --- registrations -------------------------------------------------------------------------


async def test_registration_round_trip_is_seen_by_every_instance(backend: Backend) -> None:
    now = backend.now()
    granted = await backend.a.registrations.register(
        ALICE, SCSCF, 600, now, sms_over_ip=True, access_network_info="3GPP-E-UTRAN-FDD; x=1"
    )
    assert granted == 600
    for instance in (backend.a, backend.b):
        registration = await instance.registrations.lookup(ALICE)
        assert registration is not None
        assert registration.msisdn == ALICE
        assert registration.scscf_uri == SCSCF
        assert registration.expires_at == pytest.approx(now + 600)
        assert registration.sms_over_ip is True
        assert registration.access_network_info == "3GPP-E-UTRAN-FDD; x=1"
        assert await instance.registrations.lookup(BOB) is None
        assert await instance.registrations.count() == 1


async def test_registration_expiry_is_capped(backend: Backend) -> None:
    granted = await backend.a.registrations.register(ALICE, SCSCF, 10**9, backend.now())
    assert granted == 3600 * 24
    registration = await backend.b.registrations.lookup(ALICE)
    assert registration is not None
    assert registration.sms_over_ip is None
    assert registration.access_network_info is None


async def test_refresh_replaces_the_registration(backend: Backend) -> None:
    await backend.a.registrations.register(ALICE, SCSCF, 600, backend.now(), sms_over_ip=True)
    now = backend.now()
    assert await backend.b.registrations.register(ALICE, SCSCF2, 1200, now) == 1200
    registration = await backend.a.registrations.lookup(ALICE)
    assert registration is not None
    assert (registration.scscf_uri, registration.sms_over_ip) == (SCSCF2, None)
    assert registration.expires_at == pytest.approx(now + 1200)
    assert await backend.a.registrations.count() == 1


async def test_deregister(backend: Backend) -> None:
    await backend.a.registrations.register(ALICE, SCSCF, 600, backend.now())
    await backend.a.registrations.register(BOB, SCSCF, 600, backend.now())
    assert await backend.b.registrations.deregister(ALICE) is True
    assert await backend.a.registrations.lookup(ALICE) is None
    assert await backend.b.registrations.deregister(ALICE) is False
    assert await backend.a.registrations.count() == 1
    assert await backend.a.registrations.register(BOB, SCSCF, 0, backend.now()) == 0
    assert await backend.b.registrations.lookup(BOB) is None
    assert await backend.a.registrations.count() == 0


async def test_registration_expires_with_its_ttl(backend: Backend) -> None:
    await backend.a.registrations.register(ALICE, SCSCF, 1, backend.now())
    await backend.a.registrations.register(BOB, SCSCF, 600, backend.now())
    assert await backend.b.registrations.count() == 2
    await backend.wait(1.1)
    assert await backend.b.registrations.lookup(ALICE) is None
    assert await backend.b.registrations.lookup(BOB) is not None
    assert await backend.b.registrations.count() == 1


async def test_many_refreshes_count_once(backend: Backend) -> None:
    for n in range(3000):
        await backend.a.registrations.register(ALICE, SCSCF, 600 + n % 7, backend.now())
    assert await backend.b.registrations.count() == 1


# --- recipient locks -----------------------------------------------------------------------


async def test_lock_is_exclusive_across_instances(backend: Backend) -> None:
    assert await backend.a.locks.acquire(ALICE, "a", 30) is True
    assert await backend.b.locks.acquire(ALICE, "b", 30) is False
    assert await backend.a.locks.acquire(ALICE, "a", 30) is False
    assert await backend.b.locks.holder(ALICE) == "a"
    assert await backend.b.locks.acquire(BOB, "b", 30) is True
    assert await backend.a.locks.holder(BOB) == "b"
    assert await backend.a.locks.holder("4917600000009") is None


async def test_concurrent_acquires_have_one_winner(backend: Backend) -> None:
    attempts = [
        instance.locks.acquire(ALICE, f"owner-{n}", 30)
        for n in range(20)
        for instance in (backend.a, backend.b)
    ]
    results = await asyncio.gather(*attempts)
    assert results.count(True) == 1
    winner = f"owner-{results.index(True) // 2}"
    assert await backend.a.locks.holder(ALICE) == winner


async def test_wrong_owner_cannot_renew_or_release(backend: Backend) -> None:
    assert await backend.a.locks.acquire(ALICE, "a", 30)
    assert await backend.b.locks.renew(ALICE, "b", 30) is False
    assert await backend.b.locks.release(ALICE, "b") is False
    assert await backend.b.locks.holder(ALICE) == "a"
    assert await backend.a.locks.renew(ALICE, "a", 30) is True
    assert await backend.a.locks.release(ALICE, "a") is True
    assert await backend.b.locks.holder(ALICE) is None
    assert await backend.a.locks.release(ALICE, "a") is False
    assert await backend.a.locks.renew(ALICE, "a", 30) is False
    assert await backend.b.locks.acquire(ALICE, "b", 30) is True


async def test_lease_expiry_lets_another_owner_in(backend: Backend) -> None:
    assert await backend.a.locks.acquire(ALICE, "a", 0.1)
    await backend.wait(0.15)
    assert await backend.b.locks.holder(ALICE) is None
    assert await backend.b.locks.acquire(ALICE, "b", 30) is True
    assert await backend.a.locks.renew(ALICE, "a", 30) is False
    assert await backend.a.locks.release(ALICE, "a") is False
    assert await backend.a.locks.holder(ALICE) == "b"


async def test_renewal_keeps_the_lease(backend: Backend) -> None:
    assert await backend.a.locks.acquire(ALICE, "a", 0.2)
    await backend.wait(0.12)
    assert await backend.a.locks.renew(ALICE, "a", 0.2)
    await backend.wait(0.12)
    assert await backend.b.locks.acquire(ALICE, "b", 30) is False
    assert await backend.b.locks.holder(ALICE) == "a"


async def test_lease_must_be_positive(backend: Backend) -> None:
    with pytest.raises(ValueError):
        await backend.a.locks.acquire(ALICE, "a", 0)
    with pytest.raises(ValueError):
        await backend.a.locks.renew(ALICE, "a", -1)
    with pytest.raises(ValueError):
        await backend.a.duplicates.seen("k", 0)


def test_owner_ids_are_unique() -> None:
    assert new_owner() != new_owner()
    assert str(os.getpid()) in new_owner()


# --- duplicates ----------------------------------------------------------------------------


async def test_first_sighting_is_new_repeats_are_duplicates(backend: Backend) -> None:
    key = duplicate_key(ALICE, 7, b"\x01\x07\x0b\x91")
    assert await backend.a.duplicates.seen(key, 60) is False
    assert await backend.a.duplicates.seen(key, 60) is True
    assert await backend.b.duplicates.seen(key, 60) is True
    other = duplicate_key(ALICE, 8, b"\x01\x07\x0b\x91")
    assert await backend.b.duplicates.seen(other, 60) is False


async def test_duplicate_window_expires(backend: Backend) -> None:
    assert await backend.a.duplicates.seen("k1", 0.1) is False
    await backend.wait(0.05)
    assert await backend.b.duplicates.seen("k1", 0.1) is True
    await backend.wait(0.1)
    assert await backend.b.duplicates.seen("k1", 0.1) is False
    assert await backend.a.duplicates.seen("k1", 0.1) is True


async def test_forget_lets_a_resend_through(backend: Backend) -> None:
    assert await backend.a.duplicates.seen("k3", 60) is False
    await backend.b.duplicates.forget("k3")
    await backend.b.duplicates.forget("never-seen")
    assert await backend.a.duplicates.seen("k3", 60) is False
    assert await backend.b.duplicates.seen("k3", 60) is True


async def test_concurrent_sightings_have_one_first(backend: Backend) -> None:
    checks = [i.duplicates.seen("k2", 60) for _ in range(10) for i in (backend.a, backend.b)]
    assert (await asyncio.gather(*checks)).count(False) == 1


def test_duplicate_key_is_stable_and_distinguishes_fields() -> None:
    tpdu = bytes.fromhex("0107 0b91 9471 0600 0001 f000 0004 d4f2 9c0e".replace(" ", ""))
    key = duplicate_key(ALICE, 7, tpdu)
    assert key == duplicate_key(ALICE, 7, bytes(tpdu))
    assert len(key) == 32
    assert int(key, 16) >= 0
    assert key == "56ba45fcec87c673c5b5dc1e94dc71cc"
    assert duplicate_key(BOB, 7, tpdu) != key
    assert duplicate_key(ALICE, 8, tpdu) != key
    assert duplicate_key(ALICE, 7, tpdu + b"\x00") != key
    assert duplicate_key("491", 7, b"2") != duplicate_key("4912", 7, b"")
    with pytest.raises(ValueError):
        duplicate_key(ALICE, 256, tpdu)


async def test_local_duplicates_are_bounded_oldest_evicted() -> None:
    clock = FakeClock()
    duplicates = LocalDuplicateFilter(max_entries=3, clock=clock)
    for key in ("k1", "k2", "k3", "k4"):
        assert await duplicates.seen(key, 60) is False
    assert len(duplicates) == 3
    assert await duplicates.seen("k4", 60) is True
    assert await duplicates.seen("k1", 60) is False
    clock.now += 61
    assert await duplicates.seen("k5", 60) is False
    assert len(duplicates) == 1


async def test_local_locks_forget_expired_leases() -> None:
    clock = FakeClock()
    locks = LocalRecipientLocks(clock=clock)
    for n in range(2048):
        assert await locks.acquire(f"r{n}", "a", 1)
        clock.now += 0.01
    assert len(locks) < 2048


# --- Redis specifics -----------------------------------------------------------------------


async def test_redis_key_layout(redis_backend: Backend) -> None:
    prefix = redis_backend.prefix
    client = redis_backend.clients[0]
    await redis_backend.a.registrations.register(ALICE, SCSCF, 600, 1000.0, sms_over_ip=False)
    await redis_backend.a.locks.acquire(ALICE, "a", 30)
    await redis_backend.a.duplicates.seen("abc", 60)
    keys = {key async for key in client.scan_iter(match=f"{prefix}*")}
    assert keys == {
        f"{prefix}reg:{ALICE}",
        f"{prefix}reg-index",
        f"{prefix}lock:{ALICE}",
        f"{prefix}dup:abc",
    }
    assert json.loads(await client.get(f"{prefix}reg:{ALICE}")) == {
        "scscf_uri": SCSCF,
        "expires_at": 1600.0,
        "sms_over_ip": False,
        "access_network_info": None,
    }
    assert 599 <= await client.ttl(f"{prefix}reg:{ALICE}") <= 600
    assert 29_000 < await client.pttl(f"{prefix}lock:{ALICE}") <= 30_000
    assert 59_000 < await client.pttl(f"{prefix}dup:abc") <= 60_000
    assert await client.get(f"{prefix}lock:{ALICE}") == "a"


async def test_redis_prefixes_keep_deployments_apart(redis_backend: Backend) -> None:
    client = redis_backend.clients[0]
    other_prefix = f"{redis_backend.prefix}other:"
    other = RedisRegistrationStore(client, prefix=other_prefix)
    other_locks = RedisRecipientLocks(client, prefix=other_prefix)
    try:
        await redis_backend.a.registrations.register(ALICE, SCSCF, 600, 0.0)
        await redis_backend.a.locks.acquire(ALICE, "a", 30)
        assert await other.lookup(ALICE) is None
        assert await other.count() == 0
        assert await other_locks.acquire(ALICE, "b", 30) is True
        assert await redis_backend.a.registrations.count() == 1
    finally:
        keys = [key async for key in client.scan_iter(match=f"{other_prefix}*")]
        if keys:
            await client.delete(*keys)


async def test_redis_malformed_registration_is_a_store_error(redis_backend: Backend) -> None:
    await redis_backend.clients[0].set(f"{redis_backend.prefix}reg:{ALICE}", "not json")
    with pytest.raises(StoreError, match="malformed"):
        await redis_backend.a.registrations.lookup(ALICE)


async def test_redis_survives_a_script_cache_flush(redis_backend: Backend) -> None:
    await redis_backend.clients[0].script_flush()
    assert await redis_backend.a.locks.acquire(ALICE, "a", 30)
    assert await redis_backend.a.locks.release(ALICE, "a") is True
    assert await redis_backend.a.registrations.register(ALICE, SCSCF, 60, 0.0) == 60


def test_prefix_must_be_usable() -> None:
    assert check_prefix("smsc:") == "smsc:"
    for bad in ("", "smsc *", "a b:"):
        with pytest.raises(ValueError):
            check_prefix(bad)


async def test_connect_to_a_closed_port_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="Redis unavailable"):
        await connect(f"redis://127.0.0.1:{closed_port()}/0", timeout_s=0.5)


async def test_operations_on_an_unreachable_redis_are_store_unavailable() -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=0.5)
    try:
        registrations = RedisRegistrationStore(client)
        locks = RedisRecipientLocks(client)
        duplicates = RedisDuplicateFilter(client)
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: registrations.register(ALICE, SCSCF, 60, 0.0),
            lambda: registrations.lookup(ALICE),
            lambda: registrations.deregister(ALICE),
            registrations.count,
            lambda: locks.acquire(ALICE, "a", 1),
            lambda: locks.renew(ALICE, "a", 1),
            lambda: locks.release(ALICE, "a"),
            lambda: locks.holder(ALICE),
            lambda: duplicates.seen("k", 1),
            lambda: duplicates.forget("k"),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable) as caught:
                await call()
            assert caught.value.__cause__ is not None
    finally:
        await client.aclose()


async def test_a_silent_redis_times_out_as_store_unavailable() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await connect(f"redis://127.0.0.1:{port}/0", timeout_s=0.2)
        assert time.monotonic() - started < 5
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_burst_of_registrations_through_one_client_all_succeed() -> None:
    """More concurrent calls than pooled connections wait for a connection, not fail."""
    import asyncio
    import os
    import uuid

    from smsc.store.errors import StoreUnavailable
    from smsc.store.redis_client import connect
    from smsc.store.redis_registrations import RedisRegistrationStore

    url = os.environ.get("SMSC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        client = await connect(url, max_connections=8)
    except StoreUnavailable as exc:
        if os.environ.get("CI") == "true":
            raise
        import pytest

        pytest.skip(f"Redis unavailable: {exc}")
    prefix = f"burst{uuid.uuid4().hex[:8]}:"
    store = RedisRegistrationStore(client, prefix=prefix)
    try:
        granted = await asyncio.gather(
            *(store.register(f"4917{i:07d}", "sip:scscf", 60, 0.0) for i in range(500))
        )
        assert granted == [60] * 500
        assert await store.count() == 500
    finally:
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
