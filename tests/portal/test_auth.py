"""Accounts and tokens: registration, login, logout, CSRF, forged and expired tokens,
rate limits, the signing key, and the portal's own host name."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token

from containerpoker.config import load_settings
from containerpoker.errors import ConfigError
from containerpoker.portal import create_app

from .conftest import PASSWORD, csrf, portal_env


def test_register_validates_every_field(client):
    cases = [
        ({"username": "ab", "email": "a@example.org", "password": PASSWORD}, "username"),
        ({"username": "Al ice", "email": "a@example.org", "password": PASSWORD}, "username"),
        ({"username": "alice", "email": "not-an-address", "password": PASSWORD}, "e-mail"),
        ({"username": "alice", "email": "a@example.org", "password": "short"}, "password"),
        ({"username": "alice", "email": "a@example.org"}, "password"),
        ({"username": ["alice"], "email": "a@example.org", "password": PASSWORD}, "username"),
    ]
    for body, word in cases:
        response = client.post("/api/auth/register", json=body)
        assert response.status_code == 400, body
        assert set(response.json) == {"error", "detail"}
        assert word in response.json["detail"].lower(), response.json
    assert client.post("/api/auth/register", data="not json").status_code == 400


def test_register_login_me_logout_and_the_token_is_revoked(client):
    body = {"username": "alice", "email": "alice@example.org", "password": PASSWORD}
    assert client.post("/api/auth/register", json=body).status_code == 201
    again = client.post("/api/auth/register", json=body | {"email": "other@example.org"})
    assert again.status_code == 409

    login = client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 200
    token = login.json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=bearer).json["user"]["username"] == "alice"
    # The browser got an HttpOnly cookie with the token, and a readable CSRF cookie.
    cookies = login.headers.getlist("Set-Cookie")
    access = next(c for c in cookies if c.startswith("access_token_cookie="))
    assert "HttpOnly" in access and "SameSite=Strict" in access and "Domain" not in access
    assert any(c.startswith("csrf_access_token=") and "HttpOnly" not in c for c in cookies)
    # The stored password is an Argon2id hash, not the password.
    stored = client.application.extensions["containerpoker"].accounts.store
    with stored.read() as conn:
        hashed = conn.exec_driver_sql("SELECT password_hash FROM users").scalar_one()
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed

    assert client.post("/api/auth/logout", headers=bearer).status_code == 200
    after = client.get("/api/me", headers=bearer)
    assert after.status_code == 401 and after.json["error"] == "token_revoked"


def test_unknown_user_and_wrong_password_get_the_same_answer(client, auth):
    auth.register("bob")
    wrong = client.post("/api/auth/login", json={"username": "bob", "password": "wrong password!"})
    unknown = client.post("/api/auth/login", json={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json


def login_from(client, address: str, username: str, password: str = PASSWORD):
    return client.post(
        "/api/auth/login",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


class FrozenClock:
    """The login throttle's clock, moved only by the test (a hash may take seconds under
    load, which would otherwise let a delay run out between two tries)."""

    def __init__(self, app) -> None:
        self.now = 1000.0
        app.extensions["containerpoker.portal"].logins.clock = lambda: self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_guessing_one_account_meets_429_quickly_and_slows_down_nobody_else(app, client, auth):
    FrozenClock(app)
    auth.register("carol")
    auth.register("dave")
    for _ in range(5):
        assert login_from(client, "10.0.0.5", "carol", "wrong password!").status_code == 401
    # The sixth try from that address, even with the right password, waits.
    refused = login_from(client, "10.0.0.5", "carol")
    assert refused.status_code == 429
    assert refused.json["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) == 1
    assert "wait 1 s" in refused.json["detail"] and "admin" in refused.json["detail"]
    # A classmate behind the same address, and carol from home, log in as usual.
    assert login_from(client, "10.0.0.5", "dave").status_code == 200
    assert login_from(client, "192.0.2.7", "carol").status_code == 200


def test_the_delay_doubles_and_then_lets_the_owner_in(app, client, auth):
    clock = FrozenClock(app)
    auth.register("frank")
    for _ in range(5):
        assert login_from(client, "10.0.0.6", "frank", "wrong password!").status_code == 401
    waits = []
    for _ in range(3):  # wait out the delay, then fail once more
        refused = login_from(client, "10.0.0.6", "frank", "wrong password!")
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(waits[-1])
        assert login_from(client, "10.0.0.6", "frank", "wrong password!").status_code == 401
    assert waits == [1, 2, 4]
    refused = login_from(client, "10.0.0.6", "frank")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "8"
    clock.advance(8)
    assert login_from(client, "10.0.0.6", "frank").status_code == 200  # a delay, never a lock
    assert login_from(client, "10.0.0.6", "frank", "wrong password!").status_code == 401


def test_guessers_at_many_addresses_cannot_lock_an_account(app, client, auth):
    FrozenClock(app)
    auth.register("grace")
    for address in range(6):
        codes = [
            login_from(client, f"198.51.100.{address}", "grace", "wrong password!").status_code
            for _ in range(6)
        ]
        assert codes == [401] * 5 + [429]
    assert login_from(client, "192.0.2.50", "grace").status_code == 200


def test_a_class_of_30_behind_one_address_logs_in_despite_typos(app, auth):
    def student(number: int) -> list[int]:
        name = auth.register(f"student{number:02d}")
        client = app.test_client()
        typo = login_from(client, "203.0.113.9", name, "a typo in it").status_code
        return [typo, login_from(client, "203.0.113.9", name).status_code]

    with ThreadPoolExecutor(4) as students:  # several at once, as in a classroom
        assert list(students.map(student, range(30))) == [[401, 200]] * 30


def test_many_accounts_tried_from_one_address_meet_the_address_ceiling(auth_factory):
    app, client, auth = auth_factory(CONTAINERPOKER_LOGIN_ADDRESS_FAILURES="10")
    auth.register("heidi")
    for i in range(10):
        assert login_from(client, "198.51.100.9", f"guess{i}", "x" * 12).status_code == 401
    refused = login_from(client, "198.51.100.9", "heidi")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "from your address" in refused.json["detail"]
    assert "CONTAINERPOKER_LOGIN_ADDRESS_FAILURES" in refused.json["detail"]
    assert login_from(client, "198.51.100.10", "heidi").status_code == 200


def test_a_cookie_login_needs_the_csrf_header_to_change_anything(client, auth):
    auth.register("erin")
    auth.login(client, "erin")
    without = client.post("/api/containers/spawn", json={"runtime": "nginx"})
    assert without.status_code == 401 and "CSRF" in without.json["detail"]
    wrong = client.post(
        "/api/containers/spawn", json={"runtime": "nope"}, headers={"X-CSRF-TOKEN": "forged"}
    )
    assert wrong.status_code == 401
    # With the header the request goes through (here: to validation, which refuses the runtime).
    right = client.post("/api/containers/spawn", json={"runtime": "nope"}, headers=csrf(client))
    assert right.status_code == 400
    # Reading needs no CSRF header; logging out (a write) does.
    assert client.get("/api/me").status_code == 200
    assert client.post("/api/auth/logout").status_code == 401
    assert client.post("/api/auth/logout", headers=csrf(client)).status_code == 200


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_expired_none_and_other_algorithm_tokens_are_refused(app, client, auth):
    name = auth.register("frank")
    uid = app.extensions["containerpoker"].accounts.get(name).id
    key = app.config["JWT_SECRET_KEY"]
    now = int(time.time())
    claims = {
        "sub": name,
        "uid": uid,
        "jti": "x1",
        "type": "access",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "fresh": False,
    }
    with app.app_context():
        expired = create_access_token(
            identity=name, additional_claims={"uid": uid}, expires_delta=timedelta(seconds=-5)
        )
    tokens = {
        "wrong key": pyjwt.encode(claims, "another key of the right length 0123456789", "HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "HS512 with the right key": pyjwt.encode(claims, key, "HS512"),
        "tampered payload": (
            lambda t: (
                t.split(".")[0] + "." + _b64(claims | {"sub": "admin"}) + "." + t.split(".")[2]
            )
        )(pyjwt.encode(claims, key, "HS256")),
        "expired": expired,
        "garbage": "not.a.token",
    }
    for label, token in tokens.items():
        response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, label
        assert set(response.json) == {"error", "detail"}, label
    genuine = pyjwt.encode(claims, key, "HS256")
    assert client.get("/api/me", headers={"Authorization": f"Bearer {genuine}"}).status_code == 200


def test_a_token_in_the_query_string_is_refused(client, auth):
    name, headers = auth.user()
    token = headers["Authorization"].split()[1]
    for param in ("jwt", "access_token", "token"):
        response = client.get(f"/api/me?{param}={token}")
        assert response.status_code == 401, param
        assert response.json["error"] == "token_in_url"


def test_admin_routes_need_an_admin_in_the_database(app, client, auth):
    name, headers = auth.user()
    assert client.get("/api/admin/users", headers=headers).status_code == 403
    assert client.post("/api/admin/users/x/promote", headers=headers).status_code == 403
    assert client.get("/admin", headers=headers).status_code in (302, 403)
    # A validly signed token that claims to be an admin changes nothing.
    uid = app.extensions["containerpoker"].accounts.get(name).id
    with app.app_context():
        boastful = create_access_token(
            identity=name, additional_claims={"uid": uid, "is_admin": True, "role": "admin"}
        )
    assert (
        client.get("/api/admin/users", headers={"Authorization": f"Bearer {boastful}"}).status_code
        == 403
    )
    # Promoted in the database: the same token is now an admin's.
    app.extensions["containerpoker"].accounts.set_admin(name, True)
    assert client.get("/api/admin/users", headers=headers).status_code == 200


def test_a_deleted_users_token_stops_working(app, client, auth):
    admin = auth.register("root", admin=True)
    name, headers = auth.user()
    assert client.get("/api/me", headers=headers).status_code == 200
    assert client.delete(f"/api/admin/users/{name}", headers=auth.headers(admin)).status_code == 200
    assert client.get("/api/me", headers=headers).status_code == 401
    # Re-created under the same name: the old token is still not theirs.
    auth.register(name)
    assert client.get("/api/me", headers=headers).status_code == 401


def test_signing_key_generated_once_into_a_private_file(tmp_path, instance):
    settings = load_settings(env=portal_env(tmp_path, instance))
    first = create_app(settings=settings)
    key_file = settings.data_dir / "portal-secret.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(first.config["JWT_SECRET_KEY"]) >= 32
    second = create_app(settings=settings)
    assert second.config["JWT_SECRET_KEY"] == first.config["JWT_SECRET_KEY"]
    key_file.write_text("short\n")
    with pytest.raises(ConfigError, match="at least 32"):
        create_app(settings=settings)


@pytest.mark.parametrize("value, words", [("", "empty"), ("too-short-key", "at least 32")])
def test_a_short_or_empty_configured_key_is_refused(tmp_path, instance, value, words):
    env = portal_env(tmp_path, instance, CONTAINERPOKER_SECRET_KEY=value)
    with pytest.raises(ConfigError, match=words):
        create_app(settings=load_settings(env=env))


def test_the_portal_refuses_to_share_its_host_name_with_the_containers(tmp_path, instance):
    env = portal_env(tmp_path, instance, CONTAINERPOKER_PORTAL_HOST="127.0.0.1")
    with pytest.raises(ConfigError, match="cookies"):
        create_app(settings=load_settings(env=env))


def test_the_containers_host_name_never_gets_the_portals_cookies(client, auth):
    # Reached under the containers' host name, the portal sets no cookie: it sends
    # pages to its own host name and refuses API calls there.
    page = client.get("/login", base_url="http://127.0.0.1:5000")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("http://localhost:5000/login")
    auth.register("gina")
    login = client.post(
        "/api/auth/login",
        json={"username": "gina", "password": PASSWORD},
        base_url="http://127.0.0.1:5000",
    )
    assert login.status_code == 421
    assert "Set-Cookie" not in login.headers
