"""RecipientLocks in Redis: SET NX PX leases; renew and release only by the holder (Lua)."""

from __future__ import annotations

from smsc.store.redis_client import DEFAULT_PREFIX, Redis, check_prefix, text_of, translate_errors

__all__ = ["RedisRecipientLocks", "lease_ms"]

# KEYS: lock. ARGV: owner, lease ms.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lock. ARGV: owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def lease_ms(lease_s: float) -> int:
    """A lease in whole milliseconds (at least 1); ValueError when not positive."""
    if not lease_s > 0:
        raise ValueError(f"lease must be positive, not {lease_s!r}")
    return max(1, round(lease_s * 1000))


class RedisRecipientLocks:
    """`{prefix}lock:{recipient}` = owner id, expiring after the lease unless renewed."""

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = check_prefix(prefix)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def _key(self, recipient: str) -> str:
        return f"{self._prefix}lock:{recipient}"

    async def acquire(self, recipient: str, owner: str, lease_s: float) -> bool:
        """Take the free lock for `lease_s`; False when anyone (the owner too) holds it."""
        ms = lease_ms(lease_s)
        with translate_errors("lock acquire"):
            return bool(await self._client.set(self._key(recipient), owner, nx=True, px=ms))

    async def renew(self, recipient: str, owner: str, lease_s: float) -> bool:
        """Extend the owner's lease to `lease_s` from now; False when it is not the holder."""
        ms = lease_ms(lease_s)
        with translate_errors("lock renew"):
            return bool(await self._renew(keys=[self._key(recipient)], args=[owner, ms]))

    async def release(self, recipient: str, owner: str) -> bool:
        """Free the owner's lock; False when it is not the holder (it expired or was taken)."""
        with translate_errors("lock release"):
            return bool(await self._release(keys=[self._key(recipient)], args=[owner]))

    async def holder(self, recipient: str) -> str | None:
        """The current holder of the lock, or None."""
        with translate_errors("lock holder"):
            return text_of(await self._client.get(self._key(recipient)))
