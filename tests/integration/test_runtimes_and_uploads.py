"""What users do with a container: upload files or archives and see them served."""

from __future__ import annotations

import pytest

from containerpoker.errors import UploadRejected

from ..archives import ATTACKS, _tgz, _zip
from .helpers import fetch, files_in

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("runtime", ["nginx", "apache"])
def test_static_runtimes_serve_an_uploaded_zip(manager, runtime):
    manager.init([runtime])
    claimed = manager.claim("alice", runtime)
    archive = _zip({"index.html": b"<h1>zip home</h1>", "css/site.css": b"body{}"})

    result = manager.upload(claimed.name, "site.zip", archive, owner="alice")

    assert result["files"] == ["css/site.css", "index.html"]
    assert "zip home" in fetch(claimed.url, expect="zip home")
    assert fetch(claimed.url + "css/site.css") == "body{}"


def test_python_runs_the_users_app_py(manager):
    manager.init(["python"])
    claimed = manager.claim("alice", "python")
    assert "Your python container is ready" in fetch(claimed.url)
    app = (
        b"import os\nfrom http.server import BaseHTTPRequestHandler, HTTPServer\n"
        b"class H(BaseHTTPRequestHandler):\n"
        b"    def do_GET(self):\n"
        b"        self.send_response(200); self.end_headers(); self.wfile.write(b'from app.py')\n"
        b"HTTPServer(('', int(os.environ['PORT'])), H).serve_forever()\n"
    )
    manager.upload(claimed.name, "app.py", app, owner="alice")
    assert fetch(claimed.url, timeout=20, expect="from app.py")


def test_node_runs_the_users_server_js(manager):
    manager.init(["node"])
    claimed = manager.claim("alice", "node")
    assert "Your node container is ready" in fetch(claimed.url)
    server = (
        b"require('http').createServer((q, s) => s.end('from server.js'))"
        b".listen(process.env.PORT);\n"
    )
    manager.upload(claimed.name, "app.tar.gz", _tgz({"server.js": server}), owner="alice")
    assert fetch(claimed.url, timeout=20, expect="from server.js")


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_upload_attacks_are_rejected_and_nothing_is_written(manager, docker_client, attack):
    manager.init(["nginx"])
    claimed = manager.claim("alice", "nginx")
    before = files_in(docker_client, claimed.name)
    filename, build = ATTACKS[attack]

    with pytest.raises(UploadRejected) as caught:
        manager.upload(claimed.name, filename, build(), owner="alice")

    assert caught.value.message.endswith((".", ")")), caught.value.message
    assert files_in(docker_client, claimed.name) == before
    root = docker_client.containers.get(claimed.name).exec_run(["ls", "/etc/evil", "/evil"])
    assert root.exit_code != 0


def test_upload_into_someone_elses_container_is_not_found(manager):
    from containerpoker.errors import NotFound

    manager.init(["nginx"])
    claimed = manager.claim("alice", "nginx")
    with pytest.raises(NotFound):
        manager.upload(claimed.name, "index.html", b"x", owner="mallory")
