"""RegistrationStore in Redis: one JSON key per MSISDN that expires with the registration."""

from __future__ import annotations

import json

from smsc.service.registrations import Registration
from smsc.store.errors import StoreError
from smsc.store.redis_client import DEFAULT_PREFIX, Redis, check_prefix, text_of, translate_errors

__all__ = ["RedisRegistrationStore"]

# KEYS: registration, index. ARGV: msisdn, JSON value, granted seconds.
_REGISTER = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now_ms)
redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[3]) * 1000, ARGV[1])
return 1
"""

# KEYS: registration, index. ARGV: msisdn.
_DEREGISTER = """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
"""

# KEYS: index.
_COUNT = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now_ms)
return redis.call('ZCARD', KEYS[1])
"""


class RedisRegistrationStore:
    """`{prefix}reg:{msisdn}` = JSON with TTL = granted expiry; `{prefix}reg-index` for count()."""

    def __init__(
        self, client: Redis, *, prefix: str = DEFAULT_PREFIX, max_expires: int = 3600 * 24
    ) -> None:
        self._client = client
        self._prefix = check_prefix(prefix)
        self._index = f"{prefix}reg-index"
        self.max_expires = max_expires
        self._register = client.register_script(_REGISTER)
        self._deregister = client.register_script(_DEREGISTER)
        self._count = client.register_script(_COUNT)

    def _key(self, msisdn: str) -> str:
        return f"{self._prefix}reg:{msisdn}"

    async def register(
        self,
        msisdn: str,
        scscf_uri: str,
        expires_s: int,
        now: float,
        *,
        sms_over_ip: bool | None = None,
        access_network_info: str | None = None,
    ) -> int:
        """Store or refresh (expires_s > 0) or remove (<= 0); returns the granted expiry."""
        if expires_s <= 0:
            await self.deregister(msisdn)
            return 0
        granted = min(expires_s, self.max_expires)
        value = json.dumps(
            {
                "scscf_uri": scscf_uri,
                "expires_at": now + granted,
                "sms_over_ip": sms_over_ip,
                "access_network_info": access_network_info,
            },
            separators=(",", ":"),
        )
        with translate_errors("register"):
            await self._register(
                keys=[self._key(msisdn), self._index], args=[msisdn, value, granted]
            )
        return granted

    async def lookup(self, msisdn: str) -> Registration | None:
        """The live registration of an MSISDN, or None once its key expired or was deleted."""
        with translate_errors("registration lookup"):
            raw = text_of(await self._client.get(self._key(msisdn)))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return Registration(
                msisdn,
                str(data["scscf_uri"]),
                float(data["expires_at"]),
                data.get("sms_over_ip"),
                data.get("access_network_info"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"malformed registration in Redis for {msisdn}: {raw!r}") from exc

    async def deregister(self, msisdn: str) -> bool:
        """Remove a registration; False when there was none."""
        with translate_errors("deregister"):
            removed = await self._deregister(keys=[self._key(msisdn), self._index], args=[msisdn])
        return bool(removed)

    async def count(self) -> int:
        """How many registrations are live (by Redis server time)."""
        with translate_errors("registration count"):
            return int(await self._count(keys=[self._index]))
