"""The portal's in-process limits (it runs one process): a sliding-window rate limiter,
and the login throttle.

The limiter's keys are strings such as ``register:10.0.0.7`` or ``spawn:alice``; ``hit``
records an attempt and says whether it is allowed and, if not, in how many seconds one will
be. :class:`LoginThrottle` decides who may try a password (see its docstring).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float) -> float:
        """0 when allowed (and recorded), else the seconds until the next allowed attempt."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return max(1.0, math.ceil(hits[0] + window - now))
            hits.append(now)
            if len(self._hits) > 50_000:  # forget idle keys now and then
                for stale in [k for k, v in self._hits.items() if not v]:
                    del self._hits[stale]
            return 0.0


@dataclass(frozen=True)
class Refusal:
    """A login attempt refused before its password is checked: why, and for how long."""

    reason: str  # "account": this account from this address; "address": this address
    wait: float  # seconds until the next attempt is allowed


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


class LoginThrottle:
    """Who may try a password now, so that guessing is slow and no one else pays for it.

    Two rules, after OWASP's authentication cheat sheet (throttle rather than lock out):

    * per account *and* address, a progressive delay: the first ``free_failures`` failures
      cost nothing; from then on each attempt must wait 1 s, 2 s, 4 s ... after the previous
      one, up to ``max_delay``. A success from that address, or ``window`` without an
      attempt, forgets them. A guesser of one account stalls within seconds, while the
      account's owner at another address, and everyone else behind the guesser's address,
      log in as usual: nobody can lock an account they do not share an address with.
    * per address, a ceiling of ``address_failures`` failures per ``window`` (any accounts),
      against one address trying a few passwords on many accounts. Its default leaves room
      for a classroom of 30 behind one NAT address, typos included.

    An attempt counts against its account and address as soon as it is let through (a
    success takes it back), so fifty guesses sent at once do not all pass the check before
    the first has failed. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        *,
        free_failures: int = 5,
        max_delay: float = 300.0,
        window: float = 900.0,
        address_failures: int = 150,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.max_delay = max_delay
        self.window = window
        self.address_failures = address_failures
        self.clock = clock  # replaceable: tests freeze or advance it
        self._pairs: dict[tuple[str, str], _Failures] = {}
        self._addresses: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def delay(self, failures: int) -> float:
        """The wait imposed after ``failures`` failures in a row (0 while they are free)."""
        if failures < self.free_failures:
            return 0.0
        return min(self.max_delay, 2.0 ** (failures - self.free_failures))

    def attempt(self, account: str, address: str) -> Refusal | None:
        """Let an attempt through (and count it) or say why not; call :meth:`succeeded`
        when its password was right."""
        now = self.clock()
        with self._lock:
            self._forget_stale(now)
            failures = self._addresses.get(address)
            if failures is not None:
                while failures and failures[0] <= now - self.window:
                    failures.popleft()
                if len(failures) >= self.address_failures:
                    return Refusal("address", failures[0] + self.window - now)
            pair = self._pairs.get((account, address))
            if pair is not None and now - pair.last >= self.window:
                pair = None
            if pair is not None:
                ready = pair.last + self.delay(pair.count)
                if now < ready:
                    return Refusal("account", ready - now)
            else:
                pair = self._pairs[(account, address)] = _Failures()
            pair.count += 1
            pair.last = now
            self._addresses.setdefault(address, deque()).append(now)
            return None

    def succeeded(self, account: str, address: str) -> None:
        """The attempt's password was right: its failures are forgotten."""
        with self._lock:
            pair = self._pairs.pop((account, address), None)
            failures = self._addresses.get(address)
            if pair is not None and failures:
                failures.pop()  # the attempt counted when it was let through
                if not failures:
                    del self._addresses[address]

    def _forget_stale(self, now: float) -> None:
        # Called under the lock; bounds memory when many names or addresses are tried.
        if len(self._pairs) + len(self._addresses) < 50_000:
            return
        horizon = now - self.window
        self._pairs = {k: p for k, p in self._pairs.items() if p.last > horizon}
        self._addresses = {a: d for a, d in self._addresses.items() if d and d[-1] > horizon}
