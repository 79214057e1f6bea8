"""cgroups.usage on made-up /proc and /sys trees: cgroup v1, cgroup v2, and what it refuses."""

from __future__ import annotations

from pathlib import Path

from containerpoker.engine import cgroups

ID = "d0c4e6" * 4


def _proc(tmp_path: Path, groups: str, mountinfo: str) -> Path:
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "self").mkdir()
    (proc / "42" / "cgroup").write_text(groups)
    (proc / "self" / "mountinfo").write_text(mountinfo)
    return proc


def _write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def test_cgroup_v1_memory_without_page_cache_limit_and_pids(tmp_path):
    sys = tmp_path / "sys"
    memory = sys / "memory" / "docker" / ID
    _write(
        memory,
        {
            "memory.usage_in_bytes": "10000000\n",
            "memory.limit_in_bytes": "67108864\n",
            "memory.stat": "cache 1\ntotal_inactive_file 2000000\n",
        },
    )
    _write(sys / "pids" / "docker" / ID, {"pids.current": "3\n"})
    proc = _proc(
        tmp_path,
        f"9:name=systemd:/\n8:pids:/docker/{ID}\n4:memory:/docker/{ID}\n0::/\n",
        f"30 25 0:27 / {sys}/memory rw,relatime - cgroup cgroup rw,memory\n"
        f"31 25 0:28 / {sys}/pids rw,relatime - cgroup cgroup rw,pids\n"
        f"32 25 0:29 / {sys}/unified rw,relatime - cgroup2 cgroup2 rw\n",
    )
    found = cgroups.usage(42, proc=proc)
    assert found == cgroups.Usage(8000000, 67108864, 3, str(memory))


def test_cgroup_v1_without_a_limit_reports_none(tmp_path):
    sys = tmp_path / "sys"
    _write(
        sys / "memory" / "docker" / ID,
        {
            "memory.usage_in_bytes": "5000\n",
            "memory.limit_in_bytes": "9223372036854771712\n",
            "memory.stat": "total_inactive_file 0\n",
        },
    )
    proc = _proc(
        tmp_path,
        f"4:memory:/docker/{ID}\n",
        f"30 25 0:27 / {sys}/memory rw - cgroup cgroup rw,memory\n",
    )
    found = cgroups.usage(42, proc=proc)
    assert found is not None and found.memory_limit is None and found.pids is None


def test_cgroup_v2_with_a_mount_root_below_the_hierarchy(tmp_path):
    sys = tmp_path / "sys"
    scope = sys / "fs" / "cgroup" / f"docker-{ID}.scope"
    _write(
        scope,
        {
            "memory.current": "4096000\n",
            "memory.max": "max\n",
            "memory.stat": "anon 1\ninactive_file 96000\n",
            "pids.current": "2\n",
        },
    )
    proc = _proc(
        tmp_path,
        f"0::/system.slice/docker-{ID}.scope\n",
        f"40 30 0:26 /system.slice {sys}/fs/cgroup rw - cgroup2 cgroup2 rw\n",
    )
    found = cgroups.usage(42, proc=proc)
    assert found == cgroups.Usage(4000000, None, 2, str(scope))


def test_what_cannot_be_read_is_none_not_a_guess(tmp_path):
    proc = _proc(
        tmp_path, f"4:memory:/docker/{ID}\n", "30 25 0:27 / /nowhere rw - cgroup x rw,cpu\n"
    )
    assert cgroups.usage(42, proc=proc) is None  # no memory hierarchy mounted
    assert cgroups.usage(0, proc=proc) is None  # a stopped container has pid 0
    assert cgroups.usage(7, proc=proc) is None  # no such process
    sys = tmp_path / "sys"
    _write(sys / "memory" / "docker" / ID, {"memory.usage_in_bytes": "garbage"})
    proc = _proc(
        tmp_path / "b",
        f"4:memory:/docker/{ID}\n",
        f"30 25 0:27 / {sys}/memory rw - cgroup cgroup rw,memory\n",
    )
    assert cgroups.usage(42, proc=proc) is None


def test_cpu_time_on_cgroup_v1_and_v2(tmp_path):
    sys = tmp_path / "sys"
    _write(sys / "cpuacct" / "docker" / ID, {"cpuacct.usage": "2500000000\n"})
    v1 = _proc(
        tmp_path / "v1",
        f"2:cpuacct:/docker/{ID}\n1:cpu:/docker/{ID}\n",
        f"33 31 0:30 / {sys}/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n",
    )
    assert cgroups.cpu_seconds(42, proc=v1) == 2.5
    scope = sys / "fs" / "cgroup" / f"docker-{ID}.scope"
    _write(scope, {"cpu.stat": "usage_usec 1500000\nuser_usec 1000000\n"})
    v2 = _proc(
        tmp_path / "v2",
        f"0::/system.slice/docker-{ID}.scope\n",
        f"40 30 0:26 /system.slice {sys}/fs/cgroup rw - cgroup2 cgroup2 rw\n",
    )
    assert cgroups.cpu_seconds(42, proc=v2) == 1.5
    # Over an interval: the counter's growth per second of wall time, in % of one CPU.
    assert cgroups.cpu_percent(42, interval=0.05, proc=v2) == 0.0
    assert cgroups.cpu_seconds(0, proc=v2) is None and cgroups.cpu_percent(0, proc=v2) is None
