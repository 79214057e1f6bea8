"""What the portal's requests share: settings, store, accounts, pool, limits, metrics."""

from __future__ import annotations

import logging
import threading

from flask import current_app

from ..accounts import Accounts
from ..config import Settings
from ..containers import ContainerControl
from ..errors import ContainerPokerError
from ..pool import PoolManager
from ..store import Store
from .limits import RateLimiter
from .metrics_registry import Metrics


class Platform:
    """One per app.  The pool (and its Docker client) is created on first use, so
    the portal starts, and says what is wrong, even while the engine is down."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.database_url)
        self.accounts = Accounts(self.store)
        self.limiter = RateLimiter()
        self.metrics = Metrics()
        self._pool: PoolManager | None = None
        self._control: ContainerControl | None = None
        self._lock = threading.Lock()

    @property
    def pool(self) -> PoolManager:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = PoolManager(self.settings, store=self.store)
                    self._control = ContainerControl(self._pool)
        return self._pool

    def warm_up(self) -> None:
        """Connect to Docker now rather than on the first launch (which would pay for it)."""
        try:
            self.pool  # noqa: B018 - creates it
        except ContainerPokerError as exc:  # the engine is down: pages say so, we retry later
            current = logging.getLogger("containerpoker.portal")
            current.warning("Docker is not reachable yet (%s); retrying on first use.", exc)

    @property
    def control(self) -> ContainerControl:
        self.pool  # noqa: B018 - creates both
        assert self._control is not None
        return self._control

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def get_platform() -> Platform:
    return current_app.extensions["containerpoker"]
