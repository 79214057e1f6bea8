"""Archives for upload tests: good ones and every attack the core must refuse."""

from __future__ import annotations

import io
import tarfile
import zipfile


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
