"""A token bucket per source address (sans-IO: the time is passed in)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class SourceRateLimit:
    """`rate_per_s` requests per second per source, `burst` at once; at most `max_sources`
    sources remembered (the longest idle are forgotten first)."""

    def __init__(self, rate_per_s: float, burst: int, max_sources: int = 10_000) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_sources = max_sources
        self._buckets: dict[str, _Bucket] = {}

    def take(self, source: str, now: float) -> float:
        """0.0 when `source` may go on now; otherwise the seconds until it may."""
        bucket = self._buckets.pop(source, None)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
        else:
            elapsed = max(now - bucket.at, 0.0)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_s)
            bucket.at = now
        self._buckets[source] = bucket  # most recent last: eviction takes the front
        if len(self._buckets) > self.max_sources:
            del self._buckets[next(iter(self._buckets))]
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate_per_s
