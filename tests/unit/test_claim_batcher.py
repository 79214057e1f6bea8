"""The claim batcher's hand-off logic (pure threading; the store is not involved)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from containerpoker.errors import Busy
from containerpoker.pool.claims import ClaimBatcher


def test_every_request_is_served_exactly_once_under_a_burst():
    served: list[str] = []
    batches: list[int] = []

    def handle(batch):
        batches.append(len(batch))
        for request in batch:
            served.append(request.owner)
            request.outcome = f"done-{request.owner}"

    batcher = ClaimBatcher(handle)
    owners = [f"u{i}" for i in range(60)]
    barrier = threading.Barrier(len(owners))

    def one(owner):
        barrier.wait()
        return batcher.submit(owner, "nginx").outcome

    with ThreadPoolExecutor(len(owners)) as pool:
        outcomes = list(pool.map(one, owners))

    assert outcomes == [f"done-{o}" for o in owners]
    assert sorted(served) == sorted(owners)
    assert sum(batches) == len(owners)
    assert not batcher._serving and not batcher._pending  # the duty was handed back


def test_a_lone_claim_is_served_alone_and_at_once():
    batches: list[list[str]] = []

    def handle(batch):
        batches.append([r.owner for r in batch])
        for request in batch:
            request.outcome = "claimed"

    batcher = ClaimBatcher(handle)
    assert batcher.submit("solo", "nginx").outcome == "claimed"
    assert batcher.submit("again", "nginx").outcome == "claimed"
    assert batches == [["solo"], ["again"]]


def test_a_failing_batch_fails_each_of_its_claims_with_a_clear_error():
    calls = 0

    def handle(batch):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("disk I/O error")
        for request in batch:
            request.outcome = "claimed"

    batcher = ClaimBatcher(handle)
    with pytest.raises(Busy, match="disk I/O error.*Retry in a few seconds") as refused:
        batcher.submit("first", "nginx")
    assert refused.value.retry_after == 5  # the portal's 503 says when to retry
    # The batcher is usable again: the failure did not leave it "serving".
    assert batcher.submit("second", "nginx").outcome == "claimed"
