"""The dashboard and the containers page (server-rendered; app.js keeps them live)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from .context import get_platform
from .security import page_login_required, page_user

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return redirect(url_for("pages.dashboard"))


@bp.get("/dashboard")
@page_login_required()
def dashboard():
    platform = get_platform()
    user = page_user()
    return render_template(
        "dashboard.html",
        user=user,
        pools=platform.pool.status(),
        containers=platform.control.list(owner=user.username),
        activity=platform.activity(None if user.is_admin else user.username),
        host=platform.host_load(),
        upload_max_bytes=platform.settings.upload_max_bytes,
    )


@bp.get("/containers")
@page_login_required()
def containers():
    platform = get_platform()
    user = page_user()
    views = platform.control.list(owner=None if user.is_admin else user.username)
    return render_template("containers.html", user=user, containers=views)
