"""Upload checks (pure logic): names, types, sizes and counts, all before any write."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from containerpoker.errors import UploadRejected, UploadTooLarge
from containerpoker.uploads import check_name, prepare_upload

LIMITS = {"max_bytes": 1024 * 1024, "max_entries": 50}


@pytest.mark.parametrize(
    "name",
    [
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a\\b",
        ".hidden",
        "-rf",
        "a\x00b",
        "",
        "a/\x07b",
        "a/" * 40 + "x",
        "x" * 2000,
        ".",
        "<script>.html",
    ],
)
def test_unsafe_names_are_rejected(name):
    with pytest.raises(UploadRejected):
        check_name(name)


@pytest.mark.parametrize("name", ["index.html", "css/site.css", "a b.txt", "./x/y.js", "v1.2+x@y"])
def test_safe_names_pass(name):
    assert check_name(name) == name.removeprefix("./")


def test_a_zip_whose_header_lies_about_its_size_is_rejected():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.html", b"A" * 200_000)
    data = bytearray(buffer.getvalue())
    # Patch the declared uncompressed size (local header and central directory) to 10 bytes.
    for offset in (22, data.rfind(b"PK\x01\x02") + 24):
        data[offset : offset + 4] = (10).to_bytes(4, "little")
    with pytest.raises(UploadRejected):
        prepare_upload("x.zip", bytes(data), **LIMITS)


def test_a_tar_entry_over_the_limit_is_refused_before_it_is_read():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("huge.bin")
        info.size = 2 * 1024 * 1024
        archive.addfile(info, io.BytesIO(b"\0" * info.size))
    with pytest.raises(UploadTooLarge, match="unpacks to more than"):
        prepare_upload("x.tgz", buffer.getvalue(), **LIMITS)


def test_a_raw_upload_over_the_limit_is_too_large():
    with pytest.raises(UploadTooLarge):
        prepare_upload("a.bin", b"x" * (LIMITS["max_bytes"] + 1), **LIMITS)


def test_clean_tar_has_only_files_and_dirs_owned_by_the_runtime_user():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("site/index.html", b"hi")
        archive.writestr("site/js/app.js", b"x")
    clean = prepare_upload("site.zip", buffer.getvalue(), dest="public", **LIMITS)
    with tarfile.open(fileobj=io.BytesIO(clean.to_tar())) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == [
        "public",
        "public/site",
        "public/site/index.html",
        "public/site/js",
        "public/site/js/app.js",
    ]
    assert all(m.uid == 10001 and (m.isfile() or m.isdir()) for m in members.values())
    assert members["public/site/index.html"].mode == 0o644


def test_a_name_that_is_both_file_and_folder_is_rejected():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in ("a", "a/b"):
            info = tarfile.TarInfo(name)
            info.size = 1
            archive.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(UploadRejected, match="both as a file and a folder"):
        prepare_upload("x.tar", buffer.getvalue(), **LIMITS)
