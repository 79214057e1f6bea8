"""The login throttle's rules on an injected clock: delays that double per account and
address, nobody else slowed down, no lock-out, and a per-address ceiling for a classroom."""

from __future__ import annotations

import threading

from containerpoker.portal.limits import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def throttle(clock: Clock, **rules) -> LoginThrottle:
    return LoginThrottle(clock=clock, **rules)


def fail(logins: LoginThrottle, account: str, address: str, times: int) -> None:
    for _ in range(times):
        assert logins.attempt(account, address) is None


def test_the_first_failures_are_free_then_each_wait_doubles_up_to_the_cap():
    clock = Clock()
    logins = throttle(clock, free_failures=5, max_delay=60)
    fail(logins, "alice", "10.0.0.1", 5)
    waits = []
    for _ in range(9):
        refusal = logins.attempt("alice", "10.0.0.1")
        assert refusal is not None and refusal.reason == "account"
        waits.append(refusal.wait)
        clock.advance(refusal.wait)
        assert logins.attempt("alice", "10.0.0.1") is None  # the next guess, also wrong
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_guesser_does_not_slow_down_other_accounts_or_the_owner_elsewhere():
    clock = Clock()
    logins = throttle(clock)
    fail(logins, "alice", "10.0.0.1", 5)
    assert logins.attempt("alice", "10.0.0.1") is not None
    assert logins.attempt("bob", "10.0.0.1") is None  # a classmate behind the same address
    assert logins.attempt("alice", "192.0.2.7") is None  # alice herself, at home


def test_no_number_of_failures_locks_an_account_for_longer_than_the_cap():
    clock = Clock()
    logins = throttle(clock, max_delay=300)
    failures = 0
    while failures < 100:
        refusal = logins.attempt("alice", "10.0.0.1")
        if refusal is None:
            failures += 1
        else:
            assert refusal.wait <= 300
            clock.advance(refusal.wait)
    refusal = logins.attempt("alice", "10.0.0.1")
    assert refusal is not None and refusal.wait == 300
    clock.advance(300)
    assert logins.attempt("alice", "10.0.0.1") is None


def test_a_success_or_a_quiet_window_forgets_the_failures():
    clock = Clock()
    logins = throttle(clock, window=900)
    fail(logins, "alice", "10.0.0.1", 5)
    clock.advance(1)
    assert logins.attempt("alice", "10.0.0.1") is None
    logins.succeeded("alice", "10.0.0.1")
    fail(logins, "alice", "10.0.0.1", 5)  # five free failures again
    assert logins.attempt("alice", "10.0.0.1") is not None
    clock.advance(900)
    fail(logins, "alice", "10.0.0.1", 5)


def test_fifty_guesses_sent_at_once_do_not_all_pass_the_check():
    logins = throttle(Clock(), free_failures=5)
    start = threading.Barrier(50)
    let_through = []

    def guess() -> None:
        start.wait()
        if logins.attempt("alice", "10.0.0.1") is None:
            let_through.append(1)

    threads = [threading.Thread(target=guess) for _ in range(50)]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    assert len(let_through) == 5


def test_the_address_ceiling_leaves_room_for_a_class_of_30_with_typos():
    clock = Clock()
    logins = throttle(clock)  # the defaults
    for student in range(30):
        name = f"student{student}"
        fail(logins, name, "203.0.113.9", 4)  # four typos each
        assert logins.attempt(name, "203.0.113.9") is None
        logins.succeeded(name, "203.0.113.9")
        clock.advance(2)
    assert logins.attempt("latecomer", "203.0.113.9") is None


def test_many_accounts_tried_from_one_address_meet_the_address_ceiling():
    clock = Clock()
    logins = throttle(clock, address_failures=150, window=900)
    for account in range(30):
        fail(logins, f"victim{account}", "198.51.100.4", 5)
    refusal = logins.attempt("someone", "198.51.100.4")
    assert refusal is not None and refusal.reason == "address"
    assert 0 < refusal.wait <= 900
    assert logins.attempt("someone", "198.51.100.5") is None  # another address: unaffected
    clock.advance(refusal.wait)
    assert logins.attempt("someone", "198.51.100.4") is None
