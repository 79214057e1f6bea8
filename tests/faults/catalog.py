"""The faults, each injected for real into a served platform (``served.py``), and what must hold
afterwards: the user's files are where the platform promised (kept by a replacement, deleted by
a release), no container has two owners, and the platform serves again (a new user launches,
uploads and is served; the pool is back at its target).

Each fault returns an :class:`Outcome`; the test suite asserts on it (invariants, never
timings), and ``bench/faults.py`` prints the outcomes as one table with the times. A fault
leaves the platform as it found it (its users' containers released, the pool settled), so the
faults can run one after another on one platform.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from .engine import restart_engine
from .served import ServedPlatform, User, serves, wait_for

SETTLE_S = 120  # generous: under load, a refill and a removal take seconds each
SERVE_S = 120


@dataclass
class Outcome:
    fault: str
    serve_again_s: float  # from the fault to the platform serving again (see each fault)
    files: str  # "kept", "deleted as promised", "n/a", or what went wrong
    double_owners: int
    serving: bool  # a new user was served afterwards and the pool settled at its target
    notes: list[str] = field(default_factory=list)

    @property
    def files_ok(self) -> bool:
        return self.files in ("kept", "deleted as promised", "n/a")


@dataclass
class Fault:
    name: str
    run: Callable[[ServedPlatform], Outcome]
    disruptive: bool = False  # disturbs everyone on the engine: opt-in only


# -- shared steps ---------------------------------------------------------------------------


def victim(sp: ServedPlatform) -> tuple[User, str, str]:
    """A user holding a container with a file in it: (user, url of the file, its content)."""
    (user,) = sp.users(1)
    response = user.claim()
    assert response.status_code in (200, 201), response.text
    token = secrets.token_hex(8)
    uploaded = user.upload("proof.html", token)
    assert uploaded.status_code == 201, uploaded.text
    url = user.url + "proof.html"
    wait_for(lambda: serves(url, token), 15, "the uploaded file served")
    return user, url, token


def time_until(check: Callable[[], object], start: float, timeout: float, what: str) -> float:
    """Seconds from ``start`` (a ``time.monotonic()``) until ``check`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, requests.RequestException):
            if check():
                return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


def finish(
    sp: ServedPlatform,
    name: str,
    serve_again_s: float,
    files: str,
    *,
    release: list[User] = (),
    handed: dict[str, set[str]] | None = None,
    notes: list[str] | None = None,
) -> Outcome:
    """The invariants, then tidy up: double owners counted now, the users' containers
    released, a new user served, the pool back at its target."""
    doubles = sp.double_owners(handed)
    for user in release:
        if user.box is not None:
            user.release()
    serving = sp.fresh_claim_serves()
    try:
        wait_for(sp.settled, SETTLE_S, "the pool settling at its target")
    except AssertionError as exc:
        serving = False
        notes = [*(notes or []), f"{exc}: {sp.ready_and_live()} (ready, live)"]
    return Outcome(name, serve_again_s, files, doubles, serving, notes or [])


def events(sp: ServedPlatform, kind: str, container: str | None = None) -> int:
    return sum(
        1
        for e in sp.platform.store.recent_events(limit=5000)
        if e["kind"] == kind and (container is None or e.get("container") == container)
    )


# -- the faults -------------------------------------------------------------------------------


def container_killed(sp: ServedPlatform) -> Outcome:
    """`docker kill` of an assigned container: the monitor replaces it, files and port kept."""
    user, url, token = victim(sp)
    sp.docker.api.kill(user.box["name"])
    start = time.monotonic()
    took = time_until(lambda: serves(url, token), start, SERVE_S, "the killed site served")
    return finish(sp, "assigned container killed", took, "kept", release=[user])


def container_removed(sp: ServedPlatform) -> Outcome:
    """`docker rm -f` of an assigned container (its volume stays): replaced, files kept."""
    user, url, token = victim(sp)
    sp.docker.api.remove_container(user.box["name"], force=True)
    start = time.monotonic()
    took = time_until(lambda: serves(url, token), start, SERVE_S, "the removed site served")
    return finish(sp, "assigned container removed", took, "kept", release=[user])


def engine_restarted(sp: ServedPlatform) -> Outcome:
    """The Docker daemon restarted: every container stops with it. Docker restarts the pool's
    (restart policy), the monitor reconnects and resynchronises, the portal's next call
    reconnects."""
    user, url, token = victim(sp)
    start = time.monotonic()
    restart_engine()
    sp.reconnect()
    took = time_until(
        lambda: serves(url, token) and sp.fresh_claim_serves(),
        start,
        SERVE_S * 2,
        "the site and a new claim served after the restart",
    )
    return finish(sp, "Docker daemon restarted", took, "kept", release=[user])


def portal_killed_mid_burst(sp: ServedPlatform, burst: int = 16) -> Outcome:
    """SIGKILL of the portal (gunicorn and its monitor) while a burst of claims is served:
    claims answered before the kill keep their container; warm-ups the dead process left are
    removed by the restarted monitor; a retry gives each user one container."""
    user, url, token = victim(sp)
    people = sp.users(burst)
    answers: dict[str, object] = {}

    def claim(person: User) -> None:
        try:
            answers[person.name] = person.claim().status_code
        except requests.RequestException as exc:
            answers[person.name] = type(exc).__name__

    threads = [threading.Thread(target=claim, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    wait_for(lambda: answers, 30, "a first answer of the burst")
    sp.kill()  # the fault: in the middle of the burst (cold starts under way)
    start = time.monotonic()
    for thread in threads:
        thread.join(120)
    won = [p for p in people if answers.get(p.name) in (200, 201)]
    cut = [p for p in people if p.name not in {w.name for w in won}]
    # On a busy host the dead portal's pid is soon another program's: its pid file must not
    # keep the portal from starting again.
    stranger = subprocess.Popen(["sleep", "600"])
    (sp.data / "portal.pid").write_text(f"{stranger.pid}\n")
    try:
        sp.start()
    finally:
        stranger.kill()
        stranger.wait()
    took = time_until(sp.fresh_claim_serves, start, SERVE_S, "a claim served after the restart")
    notes = [f"{len(won)} claims answered before the kill, {len(cut)} cut or refused"]
    kept = [serves(url, token)]
    for person in won:  # what the API said is still true
        response = requests.get(
            f"{sp.url}/api/containers/{person.box['name']}", headers=person.headers, timeout=30
        )
        kept.append(response.status_code == 200 and response.json()["container"]["owner"])
    handed: dict[str, set[str]] = {}
    for person in people:  # everyone cut off retries: one container each, or a clear 503
        if person not in won:
            person.box = None
            status = person.claim().status_code
            if status not in (200, 201, 503):
                notes.append(f"a retry after the kill got {status}")
        if person.box is not None:
            handed.setdefault(person.box["name"], set()).add(person.name)
    files = "kept" if all(kept) else "LOST"
    return finish(
        sp,
        "portal SIGKILLed mid claim burst",
        took,
        files,
        release=[user, *people],
        handed=handed,
        notes=notes,
    )


def database_busy(sp: ServedPlatform, hold: float = 5.0) -> Outcome:
    """Another process holds the SQLite write lock for ``hold`` s: claims and the monitor wait
    for it (busy timeout) instead of failing; nothing half-written is left."""
    user, url, token = victim(sp)
    people = sp.users(3)  # before: making users writes to the store
    database = sp.data / "containerpoker.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "db.execute('BEGIN IMMEDIATE')\n"
            'db.execute("UPDATE pools SET seq = seq WHERE 0")\n'
            "print('LOCKED', flush=True)\n"
            "time.sleep(float(sys.argv[2]))\n"
            "db.execute('ROLLBACK')\n"
            "print(time.time(), flush=True)\n",
            str(database),
            str(hold),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "LOCKED"
    statuses = sp.claim_all(people)  # they wait for the lock
    answered = time.time()
    released = float(holder.stdout.readline())
    holder.wait(30)
    codes = sorted(r.status_code for r in statuses)
    notes = [f"claims made during the lock: {codes}"]
    took = max(0.0, answered - released)  # from the lock's release to the claims answered
    handed: dict[str, set[str]] = {}
    for person in people:
        if person.box is not None:
            handed.setdefault(person.box["name"], set()).add(person.name)
    files = "kept" if serves(url, token) else "LOST"
    outcome = finish(
        sp,
        "database busy (write lock held)",
        took,
        files,
        release=[user, *people],
        handed=handed,
        notes=notes,
    )
    if any(code >= 500 and code != 503 for code in codes):
        outcome.serving = False
    return outcome


def disk_full(sp: ServedPlatform) -> Outcome:
    """The data folder (a small tmpfs) fills up: what was uploaded stays served; an upload or a
    launch is refused with a message, never a crash; once space is freed, all serves again."""
    if not sp.tmpfs:
        raise AssertionError(
            "the disk-full fault needs the data folder on a tmpfs: run the suite as root, "
            "where `mount -t tmpfs` is allowed"
        )
    user, url, token = victim(sp)
    (other,) = sp.users(1)  # before: making a user writes to the store
    filler = sp.data / "filler"
    try:
        with open(filler, "wb") as handle, contextlib.suppress(OSError):
            while True:  # until ENOSPC
                handle.write(b"\0" * (1 << 20))
                handle.flush()
        notes = []
        launch = other.claim()
        notes.append(f"launch on a full disk: {launch.status_code} {launch.text[:200]}")
        refused = user.upload("more.html", "more")
        notes.append(f"upload on a full disk: {refused.status_code} {refused.text[:200]}")
        crashes = [r for r in (launch, refused) if r.status_code >= 500 and r.status_code != 503]
        alive = sp.process is not None and sp.process.poll() is None
    finally:
        filler.unlink(missing_ok=True)
    start = time.monotonic()
    took = time_until(sp.fresh_claim_serves, start, SERVE_S, "a claim after freeing space")
    kept = serves(url, token) and any((sp.data / "files" / user.box["name"]).glob("*.tar"))
    outcome = finish(
        sp,
        "data folder's disk full",
        took,
        "kept" if kept else "LOST",
        release=[user, other],
        notes=notes,
    )
    if crashes or not alive:
        outcome.serving = False
        outcome.notes.append("a 5xx other than 503, or the portal died, on a full disk")
    return outcome


def port_taken(sp: ServedPlatform, count: int = 3) -> Outcome:
    """A foreign process listens on the next free host ports of the pool's range: warm-ups and
    cold starts skip them; no container is given a taken port."""
    start_port, end_port = sp.port_range
    held = {r.host_port for r in sp.platform.pool.rows.listed()}
    wanted = [p for p in range(start_port, end_port + 1) if p not in held][:count]
    squatter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "socks = []\n"
            "for port in sys.argv[1:]:\n"
            "    s = socket.socket(); s.bind(('127.0.0.1', int(port))); s.listen(); socks.append(s)\n"
            "print('BOUND', flush=True)\n"
            "time.sleep(3600)\n",
            *map(str, wanted),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert squatter.stdout.readline().strip() == "BOUND"
        start = time.monotonic()
        people = sp.users(sp.warm + 2)  # the warm ones, then cold starts and refills
        responses = sp.claim_all(people)
        codes = sorted(r.status_code for r in responses)
        served = all(
            wait_for(lambda p=p: serves_nginx(p.url), 30, "a claimed container answering")
            for p in people
            if p.box is not None
        )
        took = time.monotonic() - start
        wait_for(sp.settled, SETTLE_S, "the refill after the claims")
        on_taken = [r.name for r in sp.platform.pool.rows.listed() if r.host_port in wanted]
        notes = [f"claims: {codes}", f"containers on a taken port: {on_taken or 'none'}"]
        handed: dict[str, set[str]] = {}
        for person in people:
            if person.box is not None:
                handed.setdefault(person.box["name"], set()).add(person.name)
        outcome = finish(
            sp,
            "host port taken by a foreign process",
            took,
            "n/a",
            release=people,
            handed=handed,
            notes=notes,
        )
        if on_taken or not served or codes != [201] * len(people):
            outcome.serving = False
    finally:
        squatter.kill()
        squatter.wait(10)
    return outcome


def serves_nginx(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def releases_racing(sp: ServedPlatform) -> Outcome:
    """Releases of one container racing: two through the portal (two of its threads), then two
    through the CLI (two processes, which start as slowly as each other), then all four at
    once. Each time exactly one wins; the container and its files go once; the pool refills."""
    notes, files_gone, worst = [], True, 0.0
    for contenders in (("api1", "api2"), ("cli1", "cli2"), ("api1", "api2", "cli1", "cli2")):
        user, url, token = victim(sp)
        name = user.box["name"]
        gate = threading.Barrier(len(contenders))
        results: dict[str, object] = {}

        def release(key: str, user=user, name=name, gate=gate, results=results) -> None:
            gate.wait()
            if key.startswith("api"):
                results[key] = user.release().status_code
            else:
                results[key] = sp.cli("pool", "release", name).returncode

        threads = [threading.Thread(target=release, args=(key,)) for key in contenders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        start = time.monotonic()  # from the race's end to the pool at its target
        wins = sum(results.get(k) == 200 for k in ("api1", "api2"))
        wins += sum(results.get(k) == 0 for k in ("cli1", "cli2"))
        notes.append(", ".join(f"{k} {v}" for k, v in sorted(results.items())))
        if wins != 1 or events(sp, "release", name) != 1:
            worst = float("inf")
            notes.append(f"{name}: {wins} releases won, {events(sp, 'release', name)} recorded")
        wait_for(
            lambda n=name: not sp.docker.containers.list(all=True, filters={"name": n}),
            SETTLE_S,
            "the released container removed",
        )
        files_gone &= not (sp.data / "files" / name).exists() and not serves(url, token)
        wait_for(sp.settled, SETTLE_S, "the pool refilled")
        worst = max(worst, time.monotonic() - start)
        user.box = None
    files = "deleted as promised" if files_gone else "KEPT after a release"
    outcome = finish(sp, "two releases racing", worst, files, notes=notes)
    if worst == float("inf"):
        outcome.serving = False
    return outcome


def empty_pool_burst(sp: ServedPlatform, claims: int = 200) -> Outcome:
    """``claims`` users at once against a pool with nothing ready: cold starts up to the pool's
    maximum, every other answer a 503 with Retry-After; afterwards the pool returns to its
    target."""
    drain = sp.users(sp.warm)
    for person in drain:  # take the warm ones: nothing is ready when the burst comes
        assert person.claim().status_code in (200, 201)
    people = sp.users(claims)
    start = time.monotonic()
    responses = sp.claim_all(people, workers=100)
    burst_s = time.monotonic() - start
    codes: dict[int, int] = {}
    for response in responses:
        codes[response.status_code] = codes.get(response.status_code, 0) + 1
    refusals = [r for r in responses if r.status_code == 503]
    retry_after = all(r.headers.get("Retry-After", "").isdigit() for r in refusals)
    claimed = [p for p in people if p.box is not None]
    cold = sum(bool(p.box.get("cold_start")) for p in claimed)
    live = sp.ready_and_live()[1]
    notes = [
        f"answers {dict(sorted(codes.items()))} in {burst_s:.1f} s; {cold} cold starts; "
        f"{live} live of at most {sp.maximum}",
    ]
    handed: dict[str, set[str]] = {}
    for person in [*drain, *claimed]:
        handed.setdefault(person.box["name"], set()).add(person.name)
    start = time.monotonic()
    for person in [*drain, *claimed]:
        person.release()
        person.box = None
    took = time_until(sp.settled, start, SETTLE_S, "the pool back at its target")
    outcome = finish(
        sp, f"{claims} claims on an empty pool", took, "n/a", handed=handed, notes=notes
    )
    ok = (
        set(codes) <= {201, 503}
        and retry_after
        and refusals
        and len(drain) + len(claimed) <= sp.maximum
        and cold >= 1
        and live == sp.maximum  # cold starts up to the maximum, never past it
    )
    if not ok:
        outcome.serving = False
    return outcome


def timer_races_watcher(sp: ServedPlatform, rounds: int = 3) -> Outcome:
    """A container killed while the timer's pass (`monitor --once`, another process) and the
    portal's event watcher both recover it: it is replaced once per kill, files kept."""
    user, url, token = victim(sp)
    name = user.box["name"]
    before = events(sp, "recovered", name)
    worst, timer_won = 0.0, 0
    for _ in range(rounds):
        # The timer's pass (what `monitor --once` runs) in a process of its own, connected
        # and waiting, so that it starts the moment the container dies, as the watcher does.
        timer = subprocess.Popen(
            [sys.executable, "-c", TIMER_PASS],
            env=sp.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert timer.stdout.readline().strip() == "READY", timer.stdout.read()
        sp.docker.api.kill(name)
        start = time.monotonic()
        timer.stdin.write("go\n")
        timer.stdin.flush()
        worst = max(worst, time_until(lambda: serves(url, token), start, SERVE_S, "recovery"))
        output, _ = timer.communicate(timeout=SERVE_S)
        assert timer.returncode == 0, output
        timer_won += name in output  # else the watcher replaced it first
        time.sleep(1.0)  # the watcher's own pass for the same death comes now, if it comes
    row = sp.platform.pool.rows.find(name)
    recovered = events(sp, "recovered", name) - before
    notes = [
        f"{rounds} kills, {recovered} recoveries, {row.replacements} replacements "
        f"({timer_won} by the timer's pass, the others by the watcher)"
    ]
    outcome = finish(
        sp,
        "timer pass racing the event watcher",
        worst,
        "kept" if serves(url, token) else "LOST",
        release=[user],
        notes=notes,
    )
    if recovered != rounds or row.replacements != rounds:
        outcome.serving = False
    return outcome


TIMER_PASS = """
import sys
from containerpoker.config import load_settings
from containerpoker.monitor import Monitor
from containerpoker.platform import Platform

monitor = Monitor(Platform(load_settings()), say=lambda line: None)
monitor.pool.rows.listed()  # connected to the engine and the store
print("READY", flush=True)
sys.stdin.readline()
print(monitor.once(source="timer").replaced, flush=True)
"""


def lesson_killed(sp: ServedPlatform) -> Outcome:
    """The portal running a lesson (its containers, network) is SIGKILLed mid-run: after the
    restarted platform's next reconcile, nothing of the lesson is left."""
    (user,) = sp.users(1)
    response = requests.post(
        f"{sp.url}/api/lessons/4",
        json={},
        headers=user.headers | {"Accept": "text/event-stream"},
        stream=True,
        timeout=120,
    )
    assert response.status_code == 200, response.text
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("data: ") and json.loads(line[6:]).get("title") == "Start the db":
            break
    sp.kill()  # the fault: the lesson's process dies mid-run, its clean-up never runs
    start = time.monotonic()
    response.close()
    left = lesson_objects(sp)
    assert left, "the lesson had created nothing when it was killed"
    sp.start()
    took = time_until(lambda: not lesson_objects(sp), start, SERVE_S, "the lesson's objects gone")
    notes = [f"{len(left)} lesson objects left by the kill, none after the next reconcile"]
    return finish(sp, "lesson killed mid-run", took, "n/a", notes=notes)


def lesson_objects(sp: ServedPlatform) -> list[str]:
    selector = {"label": ["containerpoker.lesson", f"containerpoker.instance={sp.instance}"]}
    found = [c.name for c in sp.docker.containers.list(all=True, filters=selector)]
    found += [n.name for n in sp.docker.networks.list(filters=selector)]
    return found


FAULTS = [
    Fault("killed", container_killed),
    Fault("removed", container_removed),
    Fault("engine_restart", engine_restarted, disruptive=True),
    Fault("portal_sigkill", portal_killed_mid_burst),
    Fault("db_busy", database_busy),
    Fault("disk_full", disk_full),
    Fault("port_taken", port_taken),
    Fault("release_race", releases_racing),
    Fault("empty_pool", empty_pool_burst),
    Fault("timer_vs_watcher", timer_races_watcher),
    Fault("lesson_killed", lesson_killed),
]
