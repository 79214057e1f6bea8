"""Turn an uploaded file or archive into a clean tar, or refuse it.

Nothing from the user's archive reaches Docker as it came: every entry is
checked first (names, types, sizes, counts), and only if *all* pass is a new
tar written with regular files and directories only, fixed modes and the
runtime user's ownership.  A refused upload writes nothing anywhere.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .errors import UploadRejected, UploadTooLarge

#: uid/gid of the user "web" in the runtime images (infrastructure/images).
RUNTIME_UID = 10001
MAX_DEPTH = 16
MAX_PATH = 1024
_SAFE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._ +@-]{0,254}$")
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


@dataclass
class CleanUpload:
    """The checked content: relative path → bytes, and the directories to make."""

    files: dict[str, bytes] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)

    @property
    def total_bytes(self) -> int:
        return sum(len(data) for data in self.files.values())

    def to_tar(self, uid: int = RUNTIME_UID) -> bytes:
        """A tar with just these files, owned by ``uid``, modes 0644/0755."""
        buffer = io.BytesIO()
        now = time.time()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(self.dirs):
                info = tarfile.TarInfo(name)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, now
                info.uid = info.gid = uid
                tar.addfile(info)
            for name, data in sorted(self.files.items()):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, now
                info.uid = info.gid = uid
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()


def check_name(name: str, what: str = "name") -> str:
    """Return ``name`` as a safe relative POSIX path, or raise :class:`UploadRejected`."""
    if not name or "\x00" in name:
        raise UploadRejected(f"The {what} is empty or contains a NUL byte.")
    if "\\" in name:
        raise UploadRejected(f"The {what} {name!r} contains a backslash: use '/' between folders.")
    if name.startswith("/"):
        raise UploadRejected(
            f"The {what} {name!r} is an absolute path: use a path relative to the site."
        )
    if len(name) > MAX_PATH:
        raise UploadRejected(f"The {what} is longer than {MAX_PATH} characters.")
    parts = [p for p in name.split("/") if p not in ("",)]
    if any(p == ".." for p in parts):
        raise UploadRejected(f"The {what} {name!r} contains '..': paths may not leave the site.")
    parts = [p for p in parts if p != "."]
    if not parts:
        raise UploadRejected(f"The {what} {name!r} names no file.")
    if len(parts) > MAX_DEPTH:
        raise UploadRejected(f"The {what} {name!r} is nested deeper than {MAX_DEPTH} folders.")
    for part in parts:
        if not _SAFE_PART.match(part):
            raise UploadRejected(
                f"The {what} {name!r} has an unsafe part {part!r}: use letters, digits, "
                "'.', '_', '-', '+', '@' and spaces, not starting with '.' or '-'."
            )
    return str(PurePosixPath(*parts))


def is_archive(filename: str) -> bool:
    return filename.lower().endswith(_ARCHIVE_SUFFIXES)


def prepare_upload(
    filename: str, data: bytes, *, max_bytes: int, max_entries: int, dest: str = ""
) -> CleanUpload:
    """Check an uploaded file (or archive, by its name) and return its clean content.

    ``dest`` is a folder inside the site to put everything under.
    """
    if len(data) > max_bytes:
        raise UploadTooLarge(
            f"The upload is {len(data):,} bytes, over the limit of {max_bytes:,} bytes."
        )
    prefix = check_name(dest, "destination folder") if dest.strip("/. ") else ""
    safe_filename = check_name(filename, "file name")
    limits = _Limits(max_bytes, max_entries)
    if is_archive(safe_filename):
        if safe_filename.lower().endswith(".zip"):
            upload = _from_zip(data, limits)
        else:
            upload = _from_tar(data, limits)
    else:
        upload = CleanUpload(files={safe_filename: data})
        limits.add_file(safe_filename, len(data))
    if prefix:
        upload = CleanUpload(
            files={f"{prefix}/{k}": v for k, v in upload.files.items()},
            dirs={f"{prefix}/{d}" for d in upload.dirs},
        )
    # Make every parent folder explicit so ownership and modes are ours.
    for path in list(upload.files):
        parent = PurePosixPath(path).parent
        while str(parent) not in (".", ""):
            upload.dirs.add(str(parent))
            parent = parent.parent
    clash = upload.dirs & set(upload.files)
    if clash:
        raise UploadRejected(f"The archive has {sorted(clash)[0]!r} both as a file and a folder.")
    return upload


class _Limits:
    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self.bytes = self.entries = 0

    def add_entry(self) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise UploadTooLarge(
                f"The archive has more than {self.max_entries} entries, the limit per upload."
            )

    def add_file(self, name: str, size: int) -> None:
        self.bytes += size
        if self.bytes > self.max_bytes:
            raise UploadTooLarge(
                f"The archive unpacks to more than {self.max_bytes:,} bytes (at {name!r}), "
                "over the limit per upload."
            )


def _from_zip(data: bytes, limits: _Limits) -> CleanUpload:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UploadRejected(f"The file is not a readable zip archive ({exc}).") from None
    upload = CleanUpload()
    with archive:
        infos = archive.infolist()
        # Check every header before decompressing a single byte.
        declared = 0
        for info in infos:
            limits.add_entry()
            name = check_name(info.filename.rstrip("/") or info.filename, "archive entry")
            mode = (info.external_attr >> 16) & 0o170000
            if mode and mode not in (0o100000, 0o040000):
                kind = "a link" if mode == 0o120000 else "a special file"
                raise UploadRejected(
                    f"The archive entry {info.filename!r} is {kind}: only files and folders are accepted."
                )
            if info.flag_bits & 0x1:
                raise UploadRejected(f"The archive entry {info.filename!r} is encrypted.")
            if not info.is_dir():
                declared += info.file_size
                if declared > limits.max_bytes:
                    raise UploadTooLarge(
                        f"The archive unpacks to more than {limits.max_bytes:,} bytes, over the limit per upload."
                    )
            if info.is_dir():
                upload.dirs.add(name)
        for info in infos:
            if info.is_dir():
                continue
            name = check_name(info.filename, "archive entry")
            # Read at most the declared size + 1: a lying header cannot inflate past the limit.
            try:
                with archive.open(info) as member:
                    content = member.read(info.file_size + 1)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                raise UploadRejected(
                    f"The archive entry {info.filename!r} cannot be read ({exc})."
                ) from None
            if len(content) != info.file_size:
                raise UploadRejected(
                    f"The archive entry {info.filename!r} is not the size its header says."
                )
            limits.add_file(name, len(content))
            upload.files[name] = content
    return upload


def _from_tar(data: bytes, limits: _Limits) -> CleanUpload:
    upload = CleanUpload()
    try:
        # Streaming mode: a header over the limit is refused before its data is inflated.
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as tar:
            for member in tar:
                limits.add_entry()
                name = check_name(member.name, "archive entry")
                if member.isdir():
                    upload.dirs.add(name)
                    continue
                if member.issym() or member.islnk():
                    raise UploadRejected(
                        f"The archive entry {member.name!r} is a link: only files and folders are accepted."
                    )
                if not member.isreg():
                    raise UploadRejected(
                        f"The archive entry {member.name!r} is a device or special file: only files and folders are accepted."
                    )
                limits.add_file(name, member.size)
                handle = tar.extractfile(member)
                upload.files[name] = handle.read() if handle else b""
    except tarfile.TarError as exc:
        raise UploadRejected(f"The file is not a readable tar archive ({exc}).") from None
    except (EOFError, OSError, ValueError) as exc:
        raise UploadRejected(f"The archive is damaged or truncated ({exc}).") from None
    return upload
