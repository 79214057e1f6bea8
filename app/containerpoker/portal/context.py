"""What the portal's requests share: the platform, and the portal's own limiter and metrics.

The platform (``containerpoker.platform.Platform``) is the core; the portal keeps beside it only
what is about serving HTTP: the rate limiter, the login throttle and the request metrics. Blueprints reach both
through the accessors here, and nothing private of each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, request

from ..errors import RateLimited
from ..platform import Platform
from .limits import LoginThrottle, RateLimiter
from .metrics_registry import Metrics


@dataclass
class PortalState:
    metrics: Metrics
    limiter: RateLimiter = field(default_factory=RateLimiter)
    logins: LoginThrottle = field(default_factory=LoginThrottle)


def portal_state(platform: Platform) -> PortalState:
    """The portal's own state, its login throttle configured from the platform's settings."""
    settings = platform.settings
    return PortalState(
        metrics=Metrics(platform),
        logins=LoginThrottle(
            free_failures=settings.login_free_failures,
            max_delay=settings.login_max_delay,
            window=settings.login_window,
            address_failures=settings.login_address_failures,
        ),
    )


def get_platform() -> Platform:
    return current_app.extensions["containerpoker"]


def get_state() -> PortalState:
    return current_app.extensions["containerpoker.portal"]


def client_address() -> str:
    """The client's address, as the rate limits count it."""
    return request.remote_addr or "unknown"


def limit(key: str, rule: tuple[int, float], message: str) -> None:
    """Count an attempt against ``rule`` (count, seconds); :class:`RateLimited` when over it.

    ``message`` may name ``{wait}``, the seconds until the next attempt is allowed.
    """
    wait = get_state().limiter.hit(key, *rule)
    if wait:
        raise RateLimited(message.format(wait=int(wait)), wait)


def pools_payload(platform: Platform) -> list[dict]:
    return [p.as_dict() for p in platform.pool.status()]


def dashboard_state(platform: Platform, username: str, is_admin: bool) -> dict:
    """Everything the dashboard shows, as the live stream sends it."""
    return {
        "pools": pools_payload(platform),
        "containers": [v.as_dict() for v in platform.control.list(owner=username)],
        "activity": platform.activity(None if is_admin else username),
        "host": platform.host_load(),
    }
