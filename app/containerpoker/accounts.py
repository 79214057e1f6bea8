"""User accounts: registration, password checks, admin role, revoked tokens.

No Flask here: the portal, the CLI and the Ansible modules share it.
Passwords are hashed with Argon2id at the parameters OWASP recommends
(19 MiB, 2 passes, 1 lane).  Every hash and check runs on a few dedicated
threads, one per core (``hash_threads``): argon2-cffi releases the GIL, so
50 people logging in at once are served by every core, and queue there
instead of taking the cores from everyone else.  A check (a login) goes
before a hash (a registration, a new password) in that queue, so a class
that logs in while others register is not kept waiting behind them.  The
threads stay that few because the 19 MiB that each hash allocates stays in
its thread's malloc arena (glibc keeps freed blocks per arena, so hashing on
50 request threads would keep up to 16 arenas x 19 MiB resident).
"""

from __future__ import annotations

import itertools
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from .errors import Conflict, InvalidRequest, NotFound
from .store import Prepared, Store, revoked_tokens, users

USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{2,31}$")
EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
PASSWORD_MIN, PASSWORD_MAX = 10, 256

PASSWORD_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the user does not exist, so that "unknown user" costs the same time.
_DUMMY_HASH = PASSWORD_HASHER.hash("not a password anyone has")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str
    is_admin: bool
    created_at: float

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "is_admin": self.is_admin,
            "created_at": self.created_at,
        }


def _user(row) -> User:
    return User(row.id, row.username, row.email, bool(row.is_admin), row.created_at)


def check_username(username: object) -> str:
    name = str(username or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise InvalidRequest(
            "A username is 3 to 32 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter."
        )
    return name


def check_email(email: object) -> str:
    address = str(email or "").strip()
    if len(address) > 254 or not EMAIL_RE.match(address):
        raise InvalidRequest(f"{address[:80]!r} is not an e-mail address like ada@example.org.")
    return address


def check_password(password: object, username: str = "") -> str:
    text = password if isinstance(password, str) else ""
    if not PASSWORD_MIN <= len(text) <= PASSWORD_MAX:
        raise InvalidRequest(
            f"A password is {PASSWORD_MIN} to {PASSWORD_MAX} characters long; "
            "a short sentence works well."
        )
    if username and text.lower() == username.lower():
        raise InvalidRequest("The password must not be the username.")
    return text


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under taskset or in a
    container with cpusets), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


T = TypeVar("T")
CHECK, HASH = 0, 1  # priorities on the hashing threads: logins first


class HashingThreads:
    """``count`` threads that run password hashes and checks, a check before a hash."""

    def __init__(self, count: int) -> None:
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()  # first come, first served within a priority
        self.threads = [
            threading.Thread(target=self._work, name=f"cp-argon2-{number}", daemon=True)
            for number in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def run(self, priority: int, work: Callable[..., T], *args: object) -> T:
        """Run ``work(*args)`` on a hashing thread and wait for its result."""
        future: Future = Future()
        self._jobs.put((priority, next(self._order), future, work, args))
        return future.result()

    def _work(self) -> None:
        while True:
            _, _, future, work, args = self._jobs.get()
            try:
                future.set_result(work(*args))
            except BaseException as exc:  # handed to the waiting caller
                future.set_exception(exc)


_hashing: dict[int, HashingThreads] = {}
_hashing_lock = threading.Lock()


def _after_fork() -> None:
    # Threads do not survive a fork (gunicorn forks its worker): the child starts its own.
    global _hashing_lock
    _hashing.clear()
    _hashing_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def hashing_threads(threads: int = 0) -> HashingThreads:
    """The process's password-hashing threads: ``threads``, or one per core when 0."""
    count = threads or usable_cores()
    with _hashing_lock:
        found = _hashing.get(count)
        if found is None:
            found = _hashing[count] = HashingThreads(count)
        return found


def hash_password(password: str, threads: int = 0) -> str:
    return hashing_threads(threads).run(HASH, PASSWORD_HASHER.hash, password)


def _check(stored: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


class Accounts:
    """Users and revoked tokens in the platform's store."""

    def __init__(self, store: Store, *, hash_threads: int = 0) -> None:
        self.store = store
        self.hash_threads = hash_threads  # 0: one per core
        revoked = (
            select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == bindparam("p_jti")).exists()
        )
        # Every authenticated request asks both questions: one statement, compiled once.
        self._sql_token_owner = Prepared(
            select(users, revoked.label("revoked")).where(users.c.username == bindparam("p_name")),
            store.engine.dialect,
        )

    def _verify(self, stored: str, password: str) -> bool:
        return hashing_threads(self.hash_threads).run(CHECK, _check, stored, password)

    def token_owner(self, username: str, jti: str) -> tuple[User | None, bool]:
        """The user a token names (None if gone) and whether the token was revoked."""
        with self.store.raw_read() as cursor:
            rows = Prepared.rows(self._sql_token_owner.execute(cursor, p_name=username, p_jti=jti))
        if not rows:
            return None, False  # refused anyway: the account is gone
        row = rows[0]
        user = User(
            row["id"], row["username"], row["email"], bool(row["is_admin"]), row["created_at"]
        )
        return user, bool(row["revoked"])

    def create(self, username: str, email: str, password: str, *, admin: bool = False) -> User:
        """Register a user; every field is validated, duplicates are a :class:`Conflict`."""
        name = check_username(username)
        address = check_email(email)
        secret = check_password(password, name)
        hashed = hash_password(secret, self.hash_threads)
        try:
            with self.store.write() as conn:
                taken = conn.execute(
                    select(users.c.username, users.c.email).where(
                        (users.c.username == name) | (func.lower(users.c.email) == address.lower())
                    )
                ).first()
                if taken is not None:
                    what = "username" if taken.username == name else "e-mail address"
                    raise Conflict(f"That {what} is already registered: choose another or log in.")
                conn.execute(
                    insert(users).values(
                        username=name,
                        email=address,
                        password_hash=hashed,
                        is_admin=1 if admin else 0,
                        created_at=time.time(),
                    )
                )
                self.store.add_event(
                    conn, "user_created", owner=name, detail="admin" if admin else None
                )
        except IntegrityError:
            raise Conflict("That username or e-mail address is already registered.") from None
        return self.get(name)

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password is right; ``None`` otherwise (same cost either way)."""
        name = str(username or "").strip().lower()
        with self.store.read() as conn:
            row = conn.execute(select(users).where(users.c.username == name)).first()
        secret = password if isinstance(password, str) else ""
        if row is None:
            self._verify(_DUMMY_HASH, secret)
            return None
        return _user(row) if self._verify(row.password_hash, secret) else None

    def get(self, username: str) -> User:
        with self.store.read() as conn:
            row = conn.execute(
                select(users).where(users.c.username == str(username).strip().lower())
            ).first()
        if row is None:
            raise NotFound(f"No user {username!r}.")
        return _user(row)

    def find(self, username: str) -> User | None:
        try:
            return self.get(username)
        except NotFound:
            return None

    def list(self) -> list[User]:
        with self.store.read() as conn:
            return [_user(r) for r in conn.execute(select(users).order_by(users.c.username))]

    def count_admins(self) -> int:
        with self.store.read() as conn:
            return conn.execute(select(func.count()).where(users.c.is_admin == 1)).scalar_one()

    def set_admin(
        self, username: str, admin: bool = True, *, apply: bool = True
    ) -> tuple[User, bool]:
        """Promote (or demote) a user; returns the user and whether anything changed."""
        user = self.get(username)
        if user.is_admin == admin:
            return user, False
        if not admin and self.count_admins() <= 1:
            raise Conflict("That is the last admin: promote someone else first.")
        if not apply:
            return user, True
        with self.store.write() as conn:
            conn.execute(
                update(users).where(users.c.id == user.id).values(is_admin=1 if admin else 0)
            )
            self.store.add_event(
                conn, "user_promoted" if admin else "user_demoted", owner=user.username
            )
        return self.get(username), True

    def check_deletable(self, user: User) -> None:
        """Refuse (:class:`Conflict`) to delete the last admin; checked before anything else."""
        if user.is_admin and self.count_admins() <= 1:
            raise Conflict(
                f"{user.username} is the last admin: promote someone else before deleting it."
            )

    def delete(self, username: str) -> User:
        """Delete an account (``Platform.delete_user`` releases its containers first)."""
        user = self.get(username)
        self.check_deletable(user)
        with self.store.write() as conn:
            conn.execute(delete(users).where(users.c.id == user.id))
            self.store.add_event(conn, "user_deleted", owner=user.username)
        return user

    def set_password(self, username: str, password: str, *, apply: bool = True) -> bool:
        """Set a user's password (validated); False when it already was that one."""
        user = self.get(username)
        secret = check_password(password, user.username)
        with self.store.read() as conn:
            stored = conn.execute(
                select(users.c.password_hash).where(users.c.id == user.id)
            ).scalar_one()
        if self._verify(stored, secret):
            return False
        if apply:
            hashed = hash_password(secret, self.hash_threads)
            with self.store.write() as conn:
                conn.execute(
                    update(users).where(users.c.id == user.id).values(password_hash=hashed)
                )
                self.store.add_event(conn, "password_set", owner=user.username)
        return True

    def set_email(self, username: str, email: str, *, apply: bool = True) -> bool:
        """Change a user's e-mail address (validated, unique); False when it already was."""
        user = self.get(username)
        address = check_email(email)
        if address == user.email:
            return False
        if apply:
            try:
                with self.store.write() as conn:
                    taken = conn.execute(
                        select(users.c.id).where(
                            func.lower(users.c.email) == address.lower(), users.c.id != user.id
                        )
                    ).first()
                    if taken is not None:
                        raise Conflict("That e-mail address is already registered: choose another.")
                    conn.execute(update(users).where(users.c.id == user.id).values(email=address))
                    self.store.add_event(conn, "email_set", owner=user.username)
            except IntegrityError:
                raise Conflict("That e-mail address is already registered.") from None
        return True

    # -- revoked tokens ------------------------------------------------------------

    def revoke(self, jti: str, expires_at: float) -> None:
        now = time.time()
        with self.store.write() as conn:
            conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at < now))
            exists = conn.execute(
                select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti)
            ).first()
            if exists is None:
                conn.execute(insert(revoked_tokens).values(jti=jti, expires_at=expires_at))

    def is_revoked(self, jti: str) -> bool:
        with self.store.read() as conn:
            return (
                conn.execute(
                    select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti)
                ).first()
                is not None
            )
