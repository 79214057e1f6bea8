"""Login, registration and logout pages (the forms post to the JSON API from app.js)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from ..platform import PASSWORD_MIN
from .security import page_user

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an absolute or scheme-relative URL.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.dashboard")


@bp.get("/login")
def login_page():
    if page_user() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", next=_safe_next(request.args.get("next")))


@bp.get("/register")
def register_page():
    return render_template("register.html", password_min=PASSWORD_MIN)
