"""Sign-in plumbing: the signing key, JWTs in cookies or Bearer headers, CSRF, host checks.

- Browsers get the JWT in an HttpOnly cookie; every state-changing request
  made with that cookie must carry the ``X-CSRF-TOKEN`` header (the
  double-submit value from the readable ``csrf_access_token`` cookie).
  Scripts send ``Authorization: Bearer``; a token in the URL is refused.
- Only HS256 is accepted; tokens expire; logout revokes the token's ``jti``.
- The user (and so the admin role) is read from the database on every
  request: a token names a user, it never grants a role.
- Cookies are host-only and the portal is reached at ``portal_host``, a
  different host name from ``public_host`` where users' containers are
  published: browsers never send the portal's cookies to those containers.
"""

from __future__ import annotations

import functools
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, redirect, request, url_for
from flask_jwt_extended import (
    JWTManager,
    current_user,
    get_jwt,
    verify_jwt_in_request,
)
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError

from ..config import SECRET_MIN, Settings
from ..errors import ConfigError, Forbidden, Unauthenticated, WrongHost
from ..platform import Platform, User
from .errors import shape

jwt = JWTManager()
KEY_FILE = "portal-secret.key"
_URL_TOKEN_NAMES = ("jwt", "token", "access_token", "auth", "authorization")


def signing_key(settings: Settings) -> str:
    """The configured key, else the one generated on first run into ``data_dir``."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
    key = path.read_text().strip()
    if len(key) < SECRET_MIN:
        raise ConfigError(
            f"The signing key in {path} is {len(key)} characters long (at least {SECRET_MIN} "
            "needed): delete the file to have a strong one generated, or set "
            "CONTAINERPOKER_SECRET_KEY."
        )
    return key


def init_app(app: Flask, platform: Platform) -> None:
    settings = platform.settings
    app.config.update(
        JWT_SECRET_KEY=signing_key(settings),
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers", "cookies"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=settings.token_minutes),
        JWT_COOKIE_CSRF_PROTECT=True,
        JWT_CSRF_CHECK_FORM=False,  # the header only
        JWT_COOKIE_SAMESITE="Strict",
        JWT_COOKIE_SECURE=settings.cookie_secure,
        JWT_SESSION_COOKIE=True,
        JWT_ERROR_MESSAGE_KEY="detail",
    )
    jwt.init_app(app)

    # flask-jwt-extended asks "revoked?" and then "which user?": one query answers
    # both (kept on g for the second question).
    @jwt.token_in_blocklist_loader
    def revoked(_header, payload) -> bool:
        user, is_revoked = platform.accounts.token_owner(str(payload["sub"]), payload["jti"])
        g.token_owner = (payload["jti"], user)
        return is_revoked

    @jwt.user_lookup_loader
    def load_user(_header, payload) -> User | None:
        jti, user = g.get("token_owner", (None, None))
        if jti != payload["jti"]:
            user = platform.accounts.find(payload["sub"])
        if user is None or user.id != payload.get("uid"):
            return None  # deleted (or deleted and re-created under the same name)
        return user

    def unauthorized(error: str, detail: str):
        return shape(Unauthenticated(detail, code=error))

    jwt.unauthorized_loader(lambda why: unauthorized("unauthorized", _explain(why)))
    jwt.invalid_token_loader(
        lambda why: unauthorized("invalid_token", f"The token is not valid ({why}): log in again.")
    )
    jwt.expired_token_loader(
        lambda _h, _p: unauthorized("token_expired", "The token has expired: log in again.")
    )
    jwt.revoked_token_loader(
        lambda _h, _p: unauthorized(
            "token_revoked", "You logged out with this token: log in again."
        )
    )
    jwt.user_lookup_error_loader(
        lambda _h, _p: unauthorized("unauthorized", "That account no longer exists.")
    )

    @app.before_request
    def guard_host_and_url_tokens():
        host = request.host.rsplit(":", 1)[0].strip("[]").lower()
        if host == settings.public_host.lower() and host != settings.portal_host.lower():
            url = portal_url(settings)
            if request.method == "GET" and not request.path.startswith("/api/"):
                return redirect(url + request.full_path.lstrip("/").rstrip("?"), code=302)
            raise WrongHost(
                f"{host} is where users' containers are published; the portal is at {url}."
            )
        if any(name in request.args for name in _URL_TOKEN_NAMES):
            raise Unauthenticated(
                "Tokens are never accepted in the URL (they end up in logs and histories): "
                "send an Authorization: Bearer header.",
                code="token_in_url",
            )
        return None

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def portal_url(settings: Settings) -> str:
    port = "" if settings.portal_port == 80 else f":{settings.portal_port}"
    return f"http://{settings.portal_host}{port}/"


def _explain(why: str) -> str:
    if "CSRF" in why:
        return (
            "Missing or wrong X-CSRF-TOKEN header: a browser request made with the login cookie "
            "must send the csrf_access_token cookie's value in that header."
        )
    return "Log in first: send Authorization: Bearer <token> (from POST /api/auth/login)."


def api_user() -> User:
    """Inside an API view: the signed-in user (401 was already sent otherwise)."""
    return current_user


def login_required(view):
    """API views: a valid, unrevoked token of an existing user."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        return view(*args, **kwargs)

    return wrapper


def admin_required(view):
    """API views: as :func:`login_required`, and the user is an admin *in the database*."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        if not current_user.is_admin:
            raise Forbidden("This needs an admin account.")
        return view(*args, **kwargs)

    return wrapper


def page_user() -> User | None:
    """Pages: the user signed in by cookie, or None (pages redirect to the login page)."""
    try:
        verify_jwt_in_request(optional=True, locations=["cookies"])
    except (JWTExtendedException, PyJWTError):
        return None
    return current_user if get_jwt() else None


def page_login_required(admin: bool = False):
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = page_user()
            if user is None:
                return redirect(url_for("auth.login_page", next=request.path))
            if admin and not user.is_admin:
                raise Forbidden("This page is for admins.")
            return view(*args, **kwargs)

        return wrapper

    return decorate


__all__ = [
    "admin_required",
    "api_user",
    "init_app",
    "login_required",
    "page_login_required",
    "page_user",
    "portal_url",
    "signing_key",
]
