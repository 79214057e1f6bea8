"""Portal fixtures: the Flask app on a test instance, a client, and an ``auth`` helper.

The portal is reached as ``localhost`` (Flask's test client default) and the
users' containers as ``127.0.0.1``: two host names, as in a real setup.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from containerpoker.config import load_settings
from containerpoker.portal import create_app

from ..conftest import make_env

PASSWORD = "a long enough passphrase"
_counter = itertools.count()


def portal_env(tmp_path, instance, **overrides: str) -> dict[str, str]:
    env = make_env(
        tmp_path,
        instance,
        CONTAINERPOKER_PORTAL_HOST="localhost",
        CONTAINERPOKER_RUNTIMES="nginx,python",
        CONTAINERPOKER_NGINX_WARM="2",
        CONTAINERPOKER_PYTHON_WARM="0",
    )
    env.update(overrides)
    return env


@pytest.fixture
def app(tmp_path, instance) -> Iterator[Flask]:
    app = create_app({"TESTING": True}, settings=load_settings(env=portal_env(tmp_path, instance)))
    yield app
    app.extensions["containerpoker"].close()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


class Auth:
    """Registers users and logs them in; ``headers(name)`` is a Bearer header."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.tokens: dict[str, str] = {}

    def register(self, name: str | None = None, *, admin: bool = False) -> str:
        name = name or f"user{next(_counter)}"
        accounts = self.app.extensions["containerpoker"].accounts
        accounts.create(name, f"{name}@example.org", PASSWORD, admin=admin)
        return name

    def login(self, client: FlaskClient, name: str) -> dict:
        response = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert response.status_code == 200, response.json
        self.tokens[name] = response.json["access_token"]
        return response.json

    def headers(self, name: str) -> dict[str, str]:
        if name not in self.tokens:
            self.login(self.app.test_client(), name)
        return {"Authorization": "Bearer " + self.tokens[name]}

    def user(self, *, admin: bool = False) -> tuple[str, dict[str, str]]:
        name = self.register(admin=admin)
        return name, self.headers(name)


@pytest.fixture
def auth(app) -> Auth:
    return Auth(app)


def csrf(client: FlaskClient) -> dict[str, str]:
    cookie = client.get_cookie("csrf_access_token")
    assert cookie is not None, "log in with this client first"
    return {"X-CSRF-TOKEN": cookie.value}


@pytest.fixture
def auth_factory(tmp_path, instance):
    """Apps with extra configuration: ``auth_factory(**env) -> (app, client, auth)``."""
    made = []

    def build(**overrides: str):
        env = portal_env(tmp_path, instance, **overrides)
        built = create_app({"TESTING": True}, settings=load_settings(env=env))
        made.append(built)
        return built, built.test_client(), Auth(built)

    yield build
    for built in made:
        built.extensions["containerpoker"].close()
