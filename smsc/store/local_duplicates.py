"""DuplicateFilter in process, for a single instance: keys with expiry, bounded in size."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["LocalDuplicateFilter"]


class LocalDuplicateFilter:
    """Key -> window end, oldest first; beyond `max_entries` the oldest keys are forgotten."""

    def __init__(
        self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.max_entries = max_entries
        self._clock = clock
        self._ends: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ends)

    async def seen(self, key: str, window_s: float) -> bool:
        """True when `key` was recorded within its window; else record it and return False."""
        return self.seen_now(key, window_s)

    def seen_now(self, key: str, window_s: float) -> bool:
        """`seen` without a coroutine (nothing here waits): the MO fast path needs no Task."""
        if not window_s > 0:
            raise ValueError(f"duplicate window must be positive, not {window_s!r}")
        now = self._clock()
        self._expire(now)
        end = self._ends.get(key)
        if end is not None and end > now:
            return True
        self._ends.pop(key, None)
        self._ends[key] = now + window_s
        while len(self._ends) > self.max_entries:
            self._ends.popitem(last=False)
        return False

    async def forget(self, key: str) -> None:
        """Drop a recorded key (the first copy could not be stored, so a resend must pass)."""
        self._ends.pop(key, None)

    def _expire(self, now: float) -> None:
        """Drop expired keys from the oldest end (all of them when windows are uniform)."""
        ends = self._ends
        while ends:
            key = next(iter(ends))
            if ends[key] > now:
                return
            del ends[key]
