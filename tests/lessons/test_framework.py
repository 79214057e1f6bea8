"""The lesson framework's waiting and workaround helpers, without the engine."""

from __future__ import annotations

import os
import queue
import socket
import time

import pytest

from containerpoker.engine import cgroups
from containerpoker.lessons import LessonFailed
from containerpoker.lessons.framework import (
    docker_time,
    items_until,
    read_until,
    resource_use,
    wait_until,
)


def test_wait_until_returns_once_the_check_holds():
    answers = iter([False, False, True])
    assert wait_until(lambda: next(answers), timeout=5, interval=0, what="the third try") >= 0


def test_wait_until_fails_with_a_sentence_naming_what_it_waited_for():
    with pytest.raises(LessonFailed, match=r"Waited 0.1 s for the db to answer; it did not"):
        wait_until(lambda: False, timeout=0.1, interval=0.02, what="the db to answer")


def test_items_until_gives_what_arrived_then_stops_at_the_deadline():
    lines: queue.Queue[str] = queue.Queue()
    lines.put("first")
    lines.put("second")
    assert list(items_until(lines, deadline=0)) == []  # a deadline in the past: nothing
    assert list(items_until(lines, deadline=time.monotonic() + 0.1)) == ["first", "second"]


def test_read_until_stops_at_the_marker_or_fails_saying_what_came():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"LAB-SHELL> ")
        assert read_until(ours, b"> ", timeout=5) == b"LAB-SHELL> "
        theirs.sendall(b"still typing")
        with pytest.raises(LessonFailed, match=r"did not print b'end-42' in time.*still typing"):
            read_until(ours, b"end-42", timeout=0.2)


def test_docker_time_reads_nanoseconds_and_whole_seconds():
    assert docker_time("2024-05-01T12:00:00Z") == 1714564800
    assert docker_time("2024-05-01T12:00:00.25Z") == 1714564800.25
    # Go trims trailing zeros: a string comparison would put .1234Z after .12345Z.
    assert docker_time("2024-05-01T12:00:00.1234Z") < docker_time("2024-05-01T12:00:00.12345Z")


class EmptyStats:
    """A container whose `docker stats` comes back empty, as on some cgroup v1 hosts."""

    name = "cp-lesson6-test-app"
    attrs = {"State": {"Pid": os.getpid()}}  # our own process: its cgroup can be read

    def stats(self, stream: bool) -> dict:
        return {"memory_stats": {}, "pids_stats": {}}

    def reload(self) -> None:
        pass


def test_resource_use_reads_the_cgroup_files_when_docker_stats_are_empty():
    if cgroups.usage(os.getpid()) is None:
        pytest.skip("this host's cgroup files cannot be read from here")
    use = resource_use(EmptyStats())
    assert use.memory_bytes > 0
    assert use.call.startswith("cat /") and "(docker stats came back empty)" in use.call
    assert "read from the cgroup" in use.note
