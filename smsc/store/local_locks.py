"""RecipientLocks in process, for a single instance: a dict of leases on an injected clock."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["LocalRecipientLocks"]


def _check_lease(lease_s: float) -> None:
    """ValueError when the lease is not positive (as in Redis)."""
    if not lease_s > 0:
        raise ValueError(f"lease must be positive, not {lease_s!r}")


class LocalRecipientLocks:
    """Recipient -> (owner, lease end); `clock` is monotonic seconds."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._leases: dict[str, tuple[str, float]] = {}
        self._acquired = 0

    def __len__(self) -> int:
        return len(self._leases)

    def _live_owner(self, recipient: str, now: float) -> str | None:
        lease = self._leases.get(recipient)
        if lease is None:
            return None
        if lease[1] <= now:
            del self._leases[recipient]
            return None
        return lease[0]

    async def acquire(self, recipient: str, owner: str, lease_s: float) -> bool:
        """Take the free lock for `lease_s`; False when anyone (the owner too) holds it."""
        _check_lease(lease_s)
        now = self._clock()
        if self._live_owner(recipient, now) is not None:
            return False
        self._leases[recipient] = (owner, now + lease_s)
        self._acquired += 1
        if self._acquired % 1024 == 0:
            self._prune(now)
        return True

    async def renew(self, recipient: str, owner: str, lease_s: float) -> bool:
        """Extend the owner's lease to `lease_s` from now; False when it is not the holder."""
        _check_lease(lease_s)
        now = self._clock()
        if self._live_owner(recipient, now) != owner:
            return False
        self._leases[recipient] = (owner, now + lease_s)
        return True

    async def release(self, recipient: str, owner: str) -> bool:
        """Free the owner's lock; False when it is not the holder (it expired or was taken)."""
        if self._live_owner(recipient, self._clock()) != owner:
            return False
        del self._leases[recipient]
        return True

    async def holder(self, recipient: str) -> str | None:
        """The current holder of the lock, or None."""
        return self._live_owner(recipient, self._clock())

    def _prune(self, now: float) -> None:
        """Drop expired leases nobody released (bounded memory)."""
        for recipient in [r for r, (_, end) in self._leases.items() if end <= now]:
            del self._leases[recipient]
