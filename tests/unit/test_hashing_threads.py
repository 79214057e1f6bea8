"""The password-hashing threads: every core at work, and a login's check before the hashes
of registrations queued ahead of it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from containerpoker.accounts import CHECK, HASH, HashingThreads, hashing_threads, usable_cores


def test_a_check_overtakes_the_hashes_queued_before_it():
    threads = HashingThreads(1)
    busy, release = threading.Event(), threading.Event()
    order: list[str] = []

    def hold() -> None:
        busy.set()
        release.wait(30)

    with ThreadPoolExecutor(6) as callers:
        callers.submit(threads.run, HASH, hold)
        assert busy.wait(30)
        queued = [callers.submit(threads.run, HASH, order.append, f"hash {i}") for i in range(3)]
        while threads._jobs.qsize() < 3:  # all three are waiting before the check arrives
            threading.Event().wait(0.01)
        check = callers.submit(threads.run, CHECK, order.append, "check")
        while threads._jobs.qsize() < 4:
            threading.Event().wait(0.01)
        release.set()
        for each in [*queued, check]:
            each.result(30)
    assert order == ["check", "hash 0", "hash 1", "hash 2"]


def test_an_error_reaches_the_caller():
    threads = HashingThreads(1)
    try:
        threads.run(HASH, lambda: 1 / 0)
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("the error was lost")
    assert threads.run(CHECK, lambda: "still working") == "still working"


def test_one_thread_per_core_by_default_and_one_set_per_process():
    pool = hashing_threads()
    assert pool is hashing_threads(0)
    assert len(pool.threads) == usable_cores() and all(t.is_alive() for t in pool.threads)
    assert len(hashing_threads(3).threads) == 3
