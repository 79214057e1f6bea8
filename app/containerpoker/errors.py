"""Errors that teach: each says what happened and what to do next."""

from __future__ import annotations


class ContainerPokerError(Exception):
    """Base of every error the core raises on purpose.

    ``str(err)`` is one sentence fit to show a user; ``code`` is a short
    machine-readable name that front ends map to exit codes or HTTP statuses.
    """

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(ContainerPokerError):
    """The configuration is broken; nothing was changed."""

    code = "config"


class EngineError(ContainerPokerError):
    """The container engine refused or failed an operation (see the message)."""

    code = "engine"


class EngineUnavailable(EngineError):
    """The Docker engine cannot be reached."""

    code = "engine_unavailable"


class ContainerMissing(EngineError):
    """The engine has no such container (removed behind the platform's back, or being replaced)."""

    code = "container_missing"


class ImageMissing(ContainerPokerError):
    """A runtime image has not been built."""

    code = "image_missing"


class InvalidRequest(ContainerPokerError):
    """The caller asked for something that cannot be (unknown runtime, bad count)."""

    code = "invalid"


class NotFound(ContainerPokerError):
    """No such container (or not one of the caller's)."""

    code = "not_found"


class Conflict(ContainerPokerError):
    """The object is not in a state that allows this (already released, ...)."""

    code = "conflict"


class QuotaExceeded(Conflict):
    """The user holds as many containers as one user may: release one first."""

    code = "quota_exceeded"

    @classmethod
    def holding(cls, held: int) -> QuotaExceeded:
        return cls(
            f"You hold {held} containers, the most one user may have at once: release one "
            "(on the dashboard) before launching another."
        )


class PoolExhausted(ContainerPokerError):
    """No container is ready and the pool may not grow: retry later."""

    code = "pool_exhausted"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UploadRejected(ContainerPokerError):
    """An upload was refused before anything was written."""

    code = "upload_rejected"


class UploadTooLarge(UploadRejected):
    """An upload is over the configured size or entry count."""

    code = "upload_too_large"


class Unauthenticated(ContainerPokerError):
    """Not signed in, or the credentials or token are not valid (``code`` says which)."""

    code = "unauthorized"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class Forbidden(ContainerPokerError):
    """Signed in, but not allowed to do this (an admin's task, say)."""

    code = "forbidden"


class RateLimited(ContainerPokerError):
    """Too many attempts in a short time: retry after ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class Busy(ContainerPokerError):
    """A platform-wide limit is reached right now (open terminals, lessons running)."""

    code = "busy"

    def __init__(self, message: str, retry_after: float = 10) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class WrongHost(ContainerPokerError):
    """The portal was reached under the host name of users' containers."""

    code = "wrong_host"
