"""DuplicateFilter in Redis: SET NX PX records a key for its window, across instances."""

from __future__ import annotations

from smsc.store.redis_client import DEFAULT_PREFIX, Redis, check_prefix, translate_errors

__all__ = ["RedisDuplicateFilter", "window_ms"]


def window_ms(window_s: float) -> int:
    """A window in whole milliseconds (at least 1); ValueError when not positive."""
    if not window_s > 0:
        raise ValueError(f"duplicate window must be positive, not {window_s!r}")
    return max(1, round(window_s * 1000))


class RedisDuplicateFilter:
    """`{prefix}dup:{key}` = "1", expiring after the window; its existence means "seen"."""

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = check_prefix(prefix)

    async def seen(self, key: str, window_s: float) -> bool:
        """True when `key` was recorded within its window; else record it and return False."""
        ms = window_ms(window_s)
        with translate_errors("duplicate check"):
            recorded = await self._client.set(f"{self._prefix}dup:{key}", "1", nx=True, px=ms)
        return not recorded

    async def forget(self, key: str) -> None:
        """Drop a recorded key (the first copy could not be stored, so a resend must pass)."""
        with translate_errors("duplicate forget"):
            await self._client.delete(f"{self._prefix}dup:{key}")
