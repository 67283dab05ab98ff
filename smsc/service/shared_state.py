"""State several instances share (Redis) or one instance keeps in process: the async ports."""

from __future__ import annotations

import hashlib
import heapq
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from smsc.service.registrations import Registrar, Registration

__all__ = [
    "DuplicateFilter",
    "RecipientLocks",
    "RegistrarStore",
    "RegistrationStore",
    "duplicate_key",
    "new_owner",
]


class RegistrationStore(Protocol):
    """Who is registered through which S-CSCF (Redis, or the in-process Registrar)."""

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

    async def lookup(self, msisdn: str) -> Registration | None:
        """The live registration of an MSISDN, or None once it expired or was removed."""

    async def deregister(self, msisdn: str) -> bool:
        """Remove a registration; False when there was none."""

    async def count(self) -> int:
        """How many registrations are live."""


class RecipientLocks(Protocol):
    """Per-recipient delivery locks with leases, so one instance delivers to a recipient."""

    async def acquire(self, recipient: str, owner: str, lease_s: float) -> bool:
        """Take the free lock for `lease_s`; False when anyone (the owner too) holds it."""

    async def renew(self, recipient: str, owner: str, lease_s: float) -> bool:
        """Extend the owner's lease to `lease_s` from now; False when it is not the holder."""

    async def release(self, recipient: str, owner: str) -> bool:
        """Free the owner's lock; False when it is not the holder (it expired or was taken)."""

    async def holder(self, recipient: str) -> str | None:
        """The current holder of the lock, or None."""


class DuplicateFilter(Protocol):
    """Remembers keys for a window: the first sighting returns False, repeats return True."""

    async def seen(self, key: str, window_s: float) -> bool:
        """True when `key` was recorded within its window; else record it and return False."""

    async def forget(self, key: str) -> None:
        """Drop a recorded key (the first copy could not be stored, so a resend must pass)."""


def duplicate_key(originator: str, rp_mr: int, tpdu: bytes) -> str:
    """Stable digest of an MO SMS-SUBMIT (originator MSISDN, RP-MR, TPDU): 32 hex digits."""
    if not 0 <= rp_mr <= 255:
        raise ValueError(f"RP-MR out of range: {rp_mr}")
    name = originator.encode()
    digest = hashlib.blake2b(digest_size=16, person=b"smsc-mo-dup")
    digest.update(len(name).to_bytes(2, "big") + name + bytes([rp_mr]) + tpdu)
    return digest.hexdigest()


def new_owner() -> str:
    """A lock-owner id unique to this process and call: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class RegistrarStore:
    """RegistrationStore around the in-process Registrar; `clock` is the clock of `now`."""

    def __init__(
        self,
        registrar: Registrar | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registrar = Registrar() if registrar is None else registrar
        self._clock = clock
        self._expiries: list[tuple[float, str]] = []

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
        granted = self.registrar.register(
            msisdn,
            scscf_uri,
            expires_s,
            now,
            sms_over_ip=sms_over_ip,
            access_network_info=access_network_info,
        )
        if granted:
            heapq.heappush(self._expiries, (now + granted, msisdn))
            if len(self._expiries) > 2 * len(self.registrar) + 1024:
                self._compact()
        return granted

    async def lookup(self, msisdn: str) -> Registration | None:
        """The live registration of an MSISDN, or None."""
        return self.registrar.lookup(msisdn, self._clock())

    async def deregister(self, msisdn: str) -> bool:
        """Remove a registration; False when there was none."""
        existed = self.registrar.lookup(msisdn, self._clock()) is not None
        self.registrar.register(msisdn, "", 0, self._clock())
        return existed

    async def count(self) -> int:
        """How many registrations are live (expired ones are dropped first)."""
        now = self._clock()
        while self._expiries and self._expiries[0][0] <= now:
            _, msisdn = heapq.heappop(self._expiries)
            self.registrar.lookup(msisdn, now)
        return len(self.registrar)

    def _compact(self) -> None:
        """Rebuild the expiry heap from the live registrations (refreshes leave stale entries)."""
        now = self._clock()
        live = (self.registrar.lookup(m, now) for m in {m for _, m in self._expiries})
        self._expiries = [(r.expires_at, r.msisdn) for r in live if r is not None]
        heapq.heapify(self._expiries)
