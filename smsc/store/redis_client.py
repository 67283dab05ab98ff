"""Redis connection for the shared state of several instances; redis errors become store errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from smsc.store.errors import StoreError, StoreUnavailable

__all__ = [
    "DEFAULT_PREFIX",
    "Redis",
    "check_prefix",
    "connect",
    "text_of",
    "translate_errors",
]

DEFAULT_PREFIX = "smsc:"
"""Prepended to every key, so several deployments can share one Redis."""


def check_prefix(prefix: str) -> str:
    """The prefix itself, when it is usable as the head of a key."""
    if not prefix or any(c.isspace() for c in prefix) or any(c in prefix for c in "*?[]"):
        raise ValueError(f"unusable Redis key prefix {prefix!r}")
    return prefix


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Raise StoreUnavailable (unreachable, timeout) or StoreError (other) for redis errors."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StoreUnavailable(f"Redis unavailable during {what}: {exc}") from exc
    except RedisError as exc:
        raise StoreError(f"Redis refused {what}: {exc}") from exc


def text_of(value: object) -> str | None:
    """A reply as text, whether or not the client decodes responses."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode()
    return str(value)


async def connect(url: str, *, timeout_s: float = 2.0, max_connections: int = 64) -> Redis:
    """A client for `storage.redis_url`, checked with PING; StoreUnavailable when unreachable."""
    # A bounded pool that waits for a free connection: a burst (thousands of REGISTERs at
    # once) queues instead of failing with "Too many connections".
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        decode_responses=True,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
    )
    client = Redis.from_pool(pool)  # the client owns the pool: aclose() disconnects it
    try:
        with translate_errors("PING"):
            await client.ping()
    except BaseException:
        await client.aclose()
        raise
    return client
