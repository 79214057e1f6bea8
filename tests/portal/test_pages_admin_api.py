"""Pages render (and escape), the admin API works, the OpenAPI file lists the routes."""

from __future__ import annotations

import re

import pytest

from containerpoker.portal.openapi import operations, spec

from .conftest import csrf

pytestmark = pytest.mark.docker


def test_pages_need_a_login_and_render_for_a_user(app, client, auth):
    assert client.get("/dashboard").status_code == 302
    assert client.get("/dashboard").headers["Location"].startswith("/login?next=")
    assert client.get("/login").status_code == 200
    assert client.get("/register").status_code == 200
    name = auth.register()
    auth.login(client, name)
    for path in ("/dashboard", "/containers"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert name in page.get_data(as_text=True)
    assert client.get("/admin").status_code == 403
    assert "Content-Security-Policy" in client.get("/dashboard").headers


def test_the_login_page_only_redirects_within_the_site(client):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        page = client.get("/login", query_string={"next": target}).get_data(as_text=True)
        assert 'data-next="/dashboard"' in page, target


def test_html_from_users_is_shown_escaped(app, client, auth):
    platform = app.extensions["containerpoker"]
    platform.pool.init(["nginx"])
    name = auth.register(admin=True)
    auth.login(client, name)
    box = client.post(
        "/api/containers/spawn", json={"runtime": "nginx"}, headers=csrf(client)
    ).json["container"]
    # Text a user controls, written where the pages show it: the activity log
    # (file names, details) and a user's e-mail.
    with platform.store.write() as conn:
        platform.store.add_event(
            conn,
            "upload",
            container=box["name"],
            owner=name,
            detail='<script>alert("x")</script><img src=x onerror=alert(1)>',
        )
    platform.accounts.create("mallory", "m@example.org", "a long enough passphrase")
    for path in ("/dashboard", "/containers", "/admin"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, path
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in client.get("/dashboard").get_data(
        as_text=True
    )
    # Usernames and e-mail addresses cannot carry markup at all.
    bad = client.post(
        "/api/auth/register",
        json={"username": "<script>", "email": "<b>@x.org", "password": "a long enough passphrase"},
    )
    assert bad.status_code == 400


def test_admin_manages_users_and_pools(app, client, auth):
    platform = app.extensions["containerpoker"]
    platform.pool.init(["nginx"])
    admin = auth.register(admin=True)
    headers = auth.headers(admin)
    created = client.post(
        "/api/admin/users",
        json={
            "username": "zoe",
            "email": "zoe@example.org",
            "password": "a long enough passphrase",
        },
        headers=headers,
    )
    assert created.status_code == 201 and created.json["user"]["is_admin"] is False
    users = client.get("/api/admin/users", headers=headers).json["users"]
    assert {u["username"] for u in users} == {admin, "zoe"}

    promoted = client.post("/api/admin/users/zoe/promote", headers=headers)
    assert promoted.status_code == 200 and promoted.json["user"]["is_admin"] is True

    zoe = auth.headers("zoe")
    client.post("/api/containers/spawn", json={"runtime": "nginx"}, headers=zoe)
    released = client.post("/api/admin/users/zoe/release", headers=headers).json
    assert len(released["released"]) == 1
    assert platform.pool.containers(owner="zoe") == []

    resized = client.post(
        "/api/admin/pools/nginx", json={"action": "resize", "count": 3}, headers=headers
    )
    assert resized.status_code == 200
    platform.pool.wait_idle()
    assert resized.json["pool"]["warm_target"] == 3
    added = client.post(
        "/api/admin/pools/nginx", json={"action": "add", "count": 1}, headers=headers
    )
    assert added.json["pool"]["warm_target"] == 4
    before = {c.name for c in platform.pool.containers(runtime="nginx")}
    reinit = client.post("/api/admin/pools/nginx", json={"action": "reinit"}, headers=headers)
    assert reinit.status_code == 200 and set(reinit.json["replaced"]) == before
    for bad in (
        {"action": "explode"},
        {"action": "resize", "count": -1},
        {"action": "resize", "count": "3"},
        {"action": "resize", "count": 10_000},
    ):
        assert client.post("/api/admin/pools/nginx", json=bad, headers=headers).status_code == 400
    assert (
        client.post(
            "/api/admin/pools/mysql", json={"action": "reinit"}, headers=headers
        ).status_code
        == 400
    )
    assert client.delete("/api/admin/users/zoe", headers=headers).status_code == 200
    assert client.delete("/api/admin/users/zoe", headers=headers).status_code == 404
    assert client.get("/admin", headers=headers).status_code in (200, 302)


def test_every_api_route_is_in_the_openapi_file_and_nothing_else(app, client):
    undeclared = [(m, p) for p, m, _, op in operations(app) if op is None]
    assert undeclared == [], "declare these views with openapi.operation(...)"
    documented = set()
    for path, methods in spec(app)["paths"].items():
        for method in methods:
            documented.add((method.upper(), re.sub(r"\{(\w+)\}", r"<\1>", path)))
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                served.add((method, rule.rule))
    assert served == documented
    assert client.get("/api/openapi.json").json["openapi"].startswith("3.")


def test_errors_have_one_shape(client, auth):
    _, headers = auth.user()
    for response in (
        client.get("/api/nothing-here", headers=headers),
        client.get("/api/me"),
        client.post(
            "/api/containers/x/action", data="{", headers=headers, content_type="application/json"
        ),
        client.delete("/api/me", headers=headers),
    ):
        assert set(response.json) == {"error", "detail"}, response.status_code
        assert response.json["detail"].endswith((".", ")")), response.json
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "text/html" in page.content_type


def test_admin_sees_containers_per_node_and_one_host_cannot_be_drained(app, client, auth):
    platform = app.extensions["containerpoker"]
    platform.pool.init(["nginx"])
    user = auth.register()
    assert client.get("/api/admin/nodes", headers=auth.headers(user)).status_code == 403
    admin = auth.register(admin=True)
    headers = auth.headers(admin)
    [node] = client.get("/api/admin/nodes", headers=headers).json["nodes"]
    ready = platform.pool.status()[0].ready
    assert node["name"] == "local" and node["state"] == "ready"
    assert node["containers"] == {"nginx": ready} and ready >= 1
    auth.login(client, admin)
    page = client.get("/admin").get_data(as_text=True)
    assert 'id="admin-nodes"' in page and f"{ready} nginx" in page
    refused = client.post("/api/admin/nodes/local", json={"action": "drain"}, headers=headers)
    assert refused.status_code == 400
    assert "CONTAINERPOKER_ENGINE=swarm" in refused.json["detail"]
    unknown = client.post("/api/admin/nodes/elsewhere", json={"action": "drain"}, headers=headers)
    assert unknown.status_code == 400 and "There is no node 'elsewhere'" in unknown.json["detail"]
