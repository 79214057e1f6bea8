"""Counters and a latency histogram for ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import bisect
import threading
from collections import Counter

CLAIM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.claims: Counter[tuple[str, str]] = Counter()  # (runtime, outcome)
        self.claim_buckets: dict[str, list[int]] = {}
        self.claim_sum: Counter[str] = Counter()
        self.claim_count: Counter[str] = Counter()

    def claim(self, runtime: str, outcome: str, seconds: float | None) -> None:
        with self._lock:
            self.claims[(runtime, outcome)] += 1
            if seconds is None:
                return
            buckets = self.claim_buckets.setdefault(runtime, [0] * len(CLAIM_BUCKETS))
            index = bisect.bisect_left(CLAIM_BUCKETS, seconds)
            for i in range(index, len(CLAIM_BUCKETS)):
                buckets[i] += 1
            self.claim_sum[runtime] += seconds
            self.claim_count[runtime] += 1

    def render_claims(self) -> list[str]:
        lines = [
            "# HELP containerpoker_claims_total Claims handled by this portal, by outcome.",
            "# TYPE containerpoker_claims_total counter",
        ]
        with self._lock:
            for (runtime, outcome), count in sorted(self.claims.items()):
                lines.append(
                    f'containerpoker_claims_total{{runtime="{runtime}",outcome="{outcome}"}} {count}'
                )
            lines += [
                "# HELP containerpoker_claim_seconds Time to hand a user a container.",
                "# TYPE containerpoker_claim_seconds histogram",
            ]
            for runtime, buckets in sorted(self.claim_buckets.items()):
                for bound, count in zip(CLAIM_BUCKETS, buckets, strict=True):
                    lines.append(
                        f'containerpoker_claim_seconds_bucket{{runtime="{runtime}",le="{bound}"}} {count}'
                    )
                total = self.claim_count[runtime]
                lines += [
                    f'containerpoker_claim_seconds_bucket{{runtime="{runtime}",le="+Inf"}} {total}',
                    f'containerpoker_claim_seconds_sum{{runtime="{runtime}"}} {self.claim_sum[runtime]:.6f}',
                    f'containerpoker_claim_seconds_count{{runtime="{runtime}"}} {total}',
                ]
        return lines
