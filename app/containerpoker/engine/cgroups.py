"""Read a container's memory, process count and CPU time straight from the kernel's cgroup files.

`docker stats` gets its numbers from these same files, through containerd. On some hosts that
path breaks while the containers run fine: on a cgroup v1 host whose cgroup mounts changed after
the engine started, containerd answers "cannot find cgroup mount destination" and Docker returns
empty stats. The engine runs on this machine (a local socket), so the platform can read the files
itself: find the container's cgroup in /proc/<pid>/cgroup, find where that hierarchy is mounted in
/proc/self/mountinfo, and read the counters. Both cgroup v1 and v2 are understood.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_UNLIMITED = 1 << 62  # cgroup v1 writes a page-rounded 2^63 for "no limit"


@dataclass(frozen=True)
class Usage:
    memory_bytes: int  # without the reclaimable page cache, as `docker stats` shows it
    memory_limit: int | None
    pids: int | None
    source: str  # the directory the numbers were read from


def usage(pid: int, proc: Path = _PROC) -> Usage | None:
    """The memory use of the cgroup of process `pid`, or None when it cannot be read."""
    if pid <= 0:
        return None
    try:
        groups = (proc / str(pid) / "cgroup").read_text()
        mounts = (proc / "self" / "mountinfo").read_text()
    except OSError:
        return None
    memory_dir = _directory(groups, mounts, "memory")
    if memory_dir is None:
        return None
    pids_dir = _directory(groups, mounts, "pids")
    try:
        if (memory_dir / "memory.current").exists():  # cgroup v2
            used = int((memory_dir / "memory.current").read_text())
            limit_text = (memory_dir / "memory.max").read_text().strip()
            limit = None if limit_text == "max" else int(limit_text)
            inactive = _stat(memory_dir / "memory.stat", "inactive_file")
        else:
            used = int((memory_dir / "memory.usage_in_bytes").read_text())
            limit = int((memory_dir / "memory.limit_in_bytes").read_text())
            limit = None if limit >= _UNLIMITED else limit
            inactive = _stat(memory_dir / "memory.stat", "total_inactive_file")
    except (OSError, ValueError):
        return None
    pids = None
    if pids_dir is not None:
        try:
            pids = int((pids_dir / "pids.current").read_text())
        except (OSError, ValueError):
            pids = None
    return Usage(max(0, used - inactive), limit, pids, str(memory_dir))


def cpu_seconds(pid: int, proc: Path = _PROC) -> float | None:
    """CPU time the cgroup of process `pid` has used so far, or None when it cannot be read."""
    if pid <= 0:
        return None
    try:
        groups = (proc / str(pid) / "cgroup").read_text()
        mounts = (proc / "self" / "mountinfo").read_text()
    except OSError:
        return None
    directory = _directory(groups, mounts, "cpuacct", v2_file="cpu.stat")
    if directory is None:
        return None
    try:
        if (directory / "cpuacct.usage").exists():  # cgroup v1: nanoseconds
            return int((directory / "cpuacct.usage").read_text()) / 1e9
        return _stat(directory / "cpu.stat", "usage_usec") / 1e6  # cgroup v2
    except (OSError, ValueError):
        return None


def cpu_percent(pid: int, interval: float = 0.5, proc: Path = _PROC) -> float | None:
    """The CPU use of the cgroup of `pid` over `interval` seconds, in % of one CPU (as
    `docker stats` counts it), or None when it cannot be read."""
    first, started = cpu_seconds(pid, proc), time.monotonic()
    if first is None:
        return None
    time.sleep(interval)
    second = cpu_seconds(pid, proc)
    if second is None:
        return None
    return round(max(0.0, second - first) / (time.monotonic() - started) * 100, 2)


def _directory(
    groups: str, mounts: str, controller: str, v2_file: str | None = None
) -> Path | None:
    """Where the cgroup of `controller` for these /proc/<pid>/cgroup lines lives on disk
    (on cgroup v2: the directory holding `v2_file`, by default `<controller>.current`)."""
    v1_path = v2_path = None
    for line in groups.splitlines():
        number, _, rest = line.partition(":")
        names, _, path = rest.partition(":")
        if number == "0" and names == "":
            v2_path = path
        elif controller in names.split(","):
            v1_path = path
    for line in mounts.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, mountpoint, fstype, options = fields[3], fields[4], tail[0], tail[2]
        if v1_path is not None and fstype == "cgroup" and controller in options.split(","):
            return _join(mountpoint, root, v1_path)
        if v1_path is None and v2_path is not None and fstype == "cgroup2":
            candidate = _join(mountpoint, root, v2_path)
            if (
                candidate is not None
                and (candidate / (v2_file or f"{controller}.current")).exists()
            ):
                return candidate
    return None


def _join(mountpoint: str, root: str, path: str) -> Path | None:
    """The directory of cgroup `path` in a hierarchy whose `root` is mounted at `mountpoint`."""
    if root != "/" and not (path == root or path.startswith(root.rstrip("/") + "/")):
        return None
    relative = path[len(root) :] if root != "/" else path
    directory = Path(mountpoint) / relative.lstrip("/")
    return directory if directory.is_dir() else None


def _stat(path: Path, key: str) -> int:
    for line in path.read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def tcp_accepts(pid: int, container_id: str, proc: Path = _PROC) -> int | None:
    """TCP connections the network namespace of process ``pid`` has accepted so far (the
    kernel's ``Tcp: PassiveOpens``); None when it cannot be read or ``pid`` is no longer a
    process of container ``container_id``."""
    try:
        if container_id not in (proc / str(pid) / "cgroup").read_text():
            return None  # the process ended and its number was reused
        return parse_tcp_accepts((proc / str(pid) / "net" / "snmp").read_text())
    except OSError:
        return None


def parse_tcp_accepts(snmp: str) -> int | None:
    """``PassiveOpens`` from the text of ``/proc/net/snmp`` (a header line, then values)."""
    lines = [line.split() for line in snmp.splitlines() if line.startswith("Tcp:")]
    if len(lines) < 2 or "PassiveOpens" not in lines[0]:
        return None
    return int(lines[1][lines[0].index("PassiveOpens")])
