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


class EngineUnavailable(ContainerPokerError):
    """The Docker engine cannot be reached."""

    code = "engine_unavailable"


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
