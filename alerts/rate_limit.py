"""A token bucket per key (PagerDuty allows about 120 events a minute per routing key). In memory:
after a restart the bucket starts full, which at worst sends one extra burst that PagerDuty answers
with 429s, and those are retried."""

from __future__ import annotations

from datetime import datetime


class TokenBuckets:
    def __init__(self, per_minute: float = 120.0, burst: float | None = None) -> None:
        self._rate = per_minute / 60.0
        self._capacity = burst if burst is not None else per_minute
        self._state: dict[str, tuple[float, datetime]] = {}

    def take(self, key: str, now: datetime) -> float:
        """Take one token for ``key``: 0.0 when granted, else the seconds until one is available."""
        tokens, last = self._state.get(key, (self._capacity, now))
        elapsed = max(0.0, (now - last).total_seconds())
        tokens = min(self._capacity, tokens + elapsed * self._rate)
        if tokens >= 1.0:
            self._state[key] = (tokens - 1.0, now)
            return 0.0
        self._state[key] = (tokens, now)
        return (1.0 - tokens) / self._rate
