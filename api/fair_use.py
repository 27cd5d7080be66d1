"""Fair use: a token bucket per token name on ``/v1/score`` and on every write (429 with Retry-After).

The buckets live in process memory (``alerts.rate_limit.TokenBuckets``): each replica and each worker
process keeps its own, so the allowance is per process, and a restart starts every bucket full. That is
enough to keep one client from starving the others of a process's scoring threads; it is not a quota.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime

from alerts.rate_limit import TokenBuckets


class FairUse:
    """``take(name)``: 0 when the request may go on, else the seconds to wait (for Retry-After)."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.enabled = per_minute > 0
        self._buckets = (
            TokenBuckets(per_minute=per_minute, burst=float(max(burst, 1))) if self.enabled else None
        )
        # The guard runs on the event loop for settings tokens and in the thread pool otherwise.
        self._lock = threading.Lock()

    def take(self, name: str) -> int:
        if self._buckets is None:
            return 0
        # Monotonic time: a wall-clock step must not refill (or drain) every bucket at once.
        now = datetime.fromtimestamp(time.monotonic(), UTC)
        with self._lock:
            wait = self._buckets.take(name, now)
        return math.ceil(wait) if wait > 0 else 0


def is_limited(method: str, path: str) -> bool:
    """Scoring and every write count against the bucket; reads do not."""
    return method not in ("GET", "HEAD", "OPTIONS") or path.startswith("/v1/score")
