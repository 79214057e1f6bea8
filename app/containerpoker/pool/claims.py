"""Claims: many at once, one transaction (group commit), no thread of its own.

A claim is the platform's hot path. The database serialises claims anyway, so the claims
waiting at one moment are served together in one write transaction (``PoolRows.serve_claims``,
where the SQL lives); 50 simultaneous claimers share a few commits instead of queueing for 50.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import Busy, ContainerPokerError

# The longest a batch's leader waits for claimers still arriving (see _gather).
_GATHER_MAX = 0.002


@dataclass
class ClaimRequest:
    owner: str
    runtime: str
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to serve the queue, not because it was served
    served: bool = False
    outcome: str = ""  # claimed | reused | warming | empty
    row: dict | None = None
    error: BaseException | None = None


class ClaimBatcher:
    """Serves claims in batches, one write transaction per batch.

    Claims are serialised by the database anyway; serving all the claims
    waiting at a moment in one transaction means 50 simultaneous claimers
    share a few commits instead of queueing for 50.  There is no server
    thread: the first caller to find nobody serving serves the queue itself
    (a lone claim costs no thread hand-off), then hands the duty to the first
    caller still waiting, if any.
    """

    def __init__(self, handle: Callable[[list[ClaimRequest]], None]) -> None:
        self._handle = handle
        self._lock = threading.Lock()
        self._pending: list[ClaimRequest] = []
        self._serving = False

    def submit(self, owner: str, runtime: str) -> ClaimRequest:
        request = ClaimRequest(owner, runtime)
        with self._lock:
            self._pending.append(request)
            lead, self._serving = not self._serving, True
        while not request.served:
            if lead:
                self._serve_once()
            else:
                request.wake.wait()
                request.wake.clear()
                lead = request.lead
        if request.error is not None:
            raise request.error
        return request

    def _gather(self) -> None:
        """Let claimers that are arriving right now join the batch (group commit).

        Yield the interpreter while the queue keeps growing, for at most
        ``_GATHER_MAX``.  A lone claim pays one yield (microseconds); a burst
        is served in one transaction instead of a first one for the leader
        alone, slowed down by everyone else arriving, and a second for the rest.
        """
        deadline = time.perf_counter() + _GATHER_MAX
        seen = len(self._pending)
        while True:
            time.sleep(0)  # releases the GIL: threads arriving can enqueue
            now = len(self._pending)
            if now == seen or time.perf_counter() > deadline:
                return
            seen = now

    def _serve_once(self) -> None:
        self._gather()
        with self._lock:
            batch, self._pending = self._pending, []
        try:
            self._handle(batch)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            # A store that cannot take the write (its disk full, its lock held past the busy
            # timeout) is a moment's refusal, 503 with Retry-After: nothing was claimed.
            error = (
                exc
                if isinstance(exc, ContainerPokerError)
                else Busy(
                    "The claim could not be recorded in the store "
                    f"({getattr(exc, 'orig', None) or exc}): nothing was claimed. Retry in a "
                    "few seconds; if it keeps happening, tell an admin (the platform's data "
                    "folder may be full).",
                    retry_after=5,
                )
            )
            for request in batch:
                request.error = error
        finally:
            with self._lock:
                heir = self._pending[0] if self._pending else None
                if heir is None:
                    self._serving = False
                else:
                    heir.lead = True
            for request in batch:
                request.served = True
                request.wake.set()
            if heir is not None:
                heir.wake.set()
