"""A small in-process sliding-window rate limiter (the portal runs one process).

Keys are strings such as ``login-user:alice`` or ``spawn:alice``; ``hit``
records an attempt and says whether it is allowed and, if not, in how many
seconds one will be.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float, *, record: bool = True) -> float:
        """0 when allowed (and recorded), else the seconds until the next allowed attempt."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return max(1.0, math.ceil(hits[0] + window - now))
            if record:
                hits.append(now)
            if len(self._hits) > 50_000:  # forget idle keys now and then
                for stale in [k for k, v in self._hits.items() if not v]:
                    del self._hits[stale]
            return 0.0

    def blocked(self, key: str, limit: int, window: float) -> float:
        """Like :meth:`hit` without recording an attempt."""
        return self.hit(key, limit, window, record=False)

    def record(self, key: str) -> None:
        with self._lock:
            self._hits.setdefault(key, deque()).append(time.monotonic())

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
