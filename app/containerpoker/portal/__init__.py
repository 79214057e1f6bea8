"""The portal: a Flask app over the core library (accounts, pools, containers).

``create_app()`` builds it; gunicorn serves ``containerpoker.portal:create_app()``
(see ``containerpoker portal``). Blueprints: ``auth`` (login/register pages), ``pages``
(dashboard, containers), ``admin``, ``api`` (the JSON API), ``lessons``, ``terminal``,
``challenges`` (lessons' challenges and progress), ``editor`` (lessons edited in development
mode), ``metrics`` and ``vendor`` (browser libraries from npm). Every behaviour lives in the core (``containerpoker.platform``, one per app);
these are thin adapters that share only ``context``, ``bodies``, ``errors`` and ``security``.
"""

from __future__ import annotations

from flask import Flask

from ..config import Settings, load_settings
from ..errors import ConfigError
from ..platform import Platform
from .context import portal_state


def create_app(test_config: dict | None = None, settings: Settings | None = None) -> Flask:
    """The portal for ``settings`` (default: the platform's configuration)."""
    settings = settings or load_settings()
    if settings.portal_host == settings.public_host:
        raise ConfigError(
            f"CONTAINERPOKER_PORTAL_HOST and CONTAINERPOKER_PUBLIC_HOST are both "
            f"{settings.portal_host!r}: users' containers would receive the portal's cookies. "
            "Give the portal its own host name (e.g. 127.0.0.1 for the portal and localhost "
            "for containers, or two addresses of the machine)."
        )
    app = Flask(__name__)
    platform = Platform(settings)
    app.extensions["containerpoker"] = platform
    app.extensions["containerpoker.portal"] = portal_state(platform)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.upload_max_bytes + 256 * 1024,  # the form's overhead
        TEMPLATES_AUTO_RELOAD=True,
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)

    from . import (
        admin,
        api,
        auth,
        challenges,
        editor,
        errors,
        lessons,
        metrics,
        pages,
        security,
        terminal,
        vendor,
    )

    security.init_app(app, platform)
    errors.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(lessons.bp)
    terminal.sock.init_app(app)
    app.register_blueprint(terminal.bp)
    app.register_blueprint(vendor.bp)
    app.register_blueprint(challenges.bp)
    app.register_blueprint(editor.bp)
    return app
