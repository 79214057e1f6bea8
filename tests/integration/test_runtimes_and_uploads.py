"""What users do with a container: upload files or archives and see them served."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from containerpoker.errors import UploadRejected

from .helpers import fetch, files_in

pytestmark = pytest.mark.docker


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tgz(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


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


def _evil_tar(kind: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        ok = tarfile.TarInfo("ok.html")
        ok.size = 2
        archive.addfile(ok, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(
            {
                "abs": "/etc/evil",
                "dotdot": "../../evil",
                "symlink": "link",
                "hardlink": "hard",
                "device": "dev",
                "fifo": "fifo",
            }[kind]
        )
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, "ok.html"
        elif kind == "device":
            info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
        elif kind == "fifo":
            info.type = tarfile.FIFOTYPE
        else:
            info.size = 4
            archive.addfile(info, io.BytesIO(b"evil"))
            return buffer.getvalue()
        archive.addfile(info)
    return buffer.getvalue()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.html", b"\0" * (64 * 1024 * 1024))
    return buffer.getvalue()


ATTACKS = {
    "absolute tar path": ("a.tar", lambda: _evil_tar("abs")),
    "dot-dot tar path": ("a.tar", lambda: _evil_tar("dotdot")),
    "symlink in tar": ("a.tar", lambda: _evil_tar("symlink")),
    "hard link in tar": ("a.tar", lambda: _evil_tar("hardlink")),
    "device in tar": ("a.tar", lambda: _evil_tar("device")),
    "fifo in tar": ("a.tar", lambda: _evil_tar("fifo")),
    "dot-dot zip path": ("a.zip", lambda: _zip({"ok.html": b"ok", "../evil": b"x"})),
    "absolute zip path": ("a.zip", lambda: _zip({"ok.html": b"ok", "/etc/evil": b"x"})),
    "zip bomb": ("a.zip", _bomb),
    "too many entries": ("a.zip", lambda: _zip({f"f{i}.txt": b"x" for i in range(600)})),
    "unsafe file name": ("..", lambda: b"x"),
    "hidden file name": (".htaccess", lambda: b"x"),
    "backslash name": ("a\\b.html", lambda: b"x"),
    "not an archive": ("a.zip", lambda: b"this is not a zip"),
}


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
