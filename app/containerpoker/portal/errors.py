"""One error shape, chosen in one place: JSON ``{error, detail}`` for the API, a page otherwise.

Views never build an error body: they raise a core error (``containerpoker.errors``) and
:func:`shape` turns it into the response, with its status and headers (``Retry-After``,
``WWW-Authenticate``). Werkzeug's own HTTP errors (404, 405, 413 ...) get the same shape.
"""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from ..errors import (
    Busy,
    Conflict,
    ContainerPokerError,
    EngineError,
    EngineUnavailable,
    Forbidden,
    ImageMissing,
    InvalidRequest,
    NotFound,
    PoolExhausted,
    RateLimited,
    Unauthenticated,
    UploadRejected,
    UploadTooLarge,
    WrongHost,
)

_STATUS = [
    (PoolExhausted, 503),
    (UploadTooLarge, 413),
    (UploadRejected, 400),
    (InvalidRequest, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (WrongHost, 421),
    (RateLimited, 429),
    (Busy, 503),
    (EngineUnavailable, 503),
    (ImageMissing, 503),
    (EngineError, 502),
]

_HTTP_WORDS = {
    400: ("bad_request", "The request is not valid: check the fields you sent."),
    403: ("forbidden", "You are not allowed to do that."),
    404: ("not_found", "There is nothing here: check the address."),
    405: ("method_not_allowed", "That method is not allowed here."),
    413: ("too_large", "That upload is larger than the limit shown on the page."),
    415: ("unsupported_media_type", "Send JSON (Content-Type: application/json)."),
    429: ("rate_limited", "Too many attempts: wait a moment."),
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/metrics"


def error_response(status: int, error: str, detail: str, headers: dict | None = None):
    if wants_json():
        response = jsonify(error=error, detail=detail)
    else:
        response = make_response(
            render_template("error.html", status=status, error=error, detail=detail)
        )
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def shape(exc: ContainerPokerError):
    """The response for a core error."""
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
    headers = {}
    if isinstance(exc, (PoolExhausted, RateLimited, Busy)):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, EngineUnavailable):
        headers["Retry-After"] = "10"
    elif isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="containerpoker"'
    return error_response(status, exc.code, exc.message, headers)


def init_app(app: Flask) -> None:
    app.register_error_handler(ContainerPokerError, shape)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        error, detail = _HTTP_WORDS.get(code, ("error", exc.description or "Something went wrong."))
        headers = {}
        if code == 413:  # refused on its announced size: do not wait for the rest of it
            limit = app.extensions["containerpoker"].settings.upload_max_bytes
            detail = f"That upload is larger than the limit of {limit // (1024 * 1024)} MB."
            headers["Connection"] = "close"
        return error_response(code, error, detail, headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(
            500,
            "internal",
            "Something went wrong on our side; it has been logged. Try again, and tell an "
            "admin if it keeps happening.",
        )
