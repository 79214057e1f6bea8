"""The figures behind ``/metrics``, kept by prometheus_client in one registry per app.

Two kinds of figures, named after Prometheus' naming guide (``containerpoker_`` prefix, base
units, ``_total`` on counters):

- What this portal process saw, kept in memory (reset when it restarts): the claim latency
  histogram by runtime and start (``warm``: a ready container handed over, ``cold``: started
  for the claim), claims by outcome (including refusals), login attempts by outcome.
- What the platform did, read from the store at each scrape, so the recovery monitor's work
  and the CLI's count too: pool containers by runtime and state, the warm targets, launches,
  releases, expiries and recoveries (counted from the event log).

Each app has its own ``CollectorRegistry`` (not prometheus_client's global one), so several
portals in one process (the tests) never share or clash over a metric.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.process_collector import ProcessCollector

from ..platform import Platform

CLAIM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
POOL_STATES = ("ready", "warming", "assigned", "released", "failed")
#: Counters read from the event log: (metric name, help, {event kind: value of the label}).
EVENT_COUNTERS = (
    (
        "containerpoker_launches",
        "Containers handed to users (any front end), by runtime and start: warm or cold.",
        "start",
        {"claim": "warm", "cold_start": "cold"},
    ),
    (
        "containerpoker_releases",
        "Containers given back by their owner or an admin.",
        None,
        {"release": ""},
    ),
    (
        "containerpoker_expiries",
        "Assignments released because a clock ran out.",
        None,
        {"expired": ""},
    ),
    (
        "containerpoker_recoveries",
        "Assigned containers replaced after a failure.",
        None,
        {"recovered": ""},
    ),
)


class PlatformCollector:
    """Pool sizes and the event-log counters, read from the store when scraped."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def describe(self):
        return []  # collected at scrape time only: registering must not query the store

    def collect(self):
        pools = self.platform.pool.status()
        sizes = GaugeMetricFamily(
            "containerpoker_pool_containers",
            "Pool containers by runtime and state.",
            labels=["runtime", "state"],
        )
        targets = GaugeMetricFamily(
            "containerpoker_pool_warm_target",
            "Ready containers each pool keeps waiting.",
            labels=["runtime"],
        )
        for pool in pools:
            for state in POOL_STATES:
                sizes.add_metric([pool.runtime, state], getattr(pool, state))
            targets.add_metric([pool.runtime], pool.warm_target)
        yield sizes
        yield targets
        runtimes = [pool.runtime for pool in pools]
        for name, documentation, label, kinds in EVENT_COUNTERS:
            family = CounterMetricFamily(
                name, documentation, labels=["runtime"] + ([label] if label else [])
            )
            for kind, value in kinds.items():
                counted = self.platform.store.count_events(kind)
                for runtime in sorted(set(runtimes) | set(counted) - {""}):
                    family.add_metric(
                        [runtime] + ([value] if label else []), counted.get(runtime, 0)
                    )
            yield family


class Metrics:
    """One portal's registry and the figures only the portal sees."""

    def __init__(self, platform: Platform | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.claim_seconds = Histogram(
            "containerpoker_claim_duration_seconds",
            "Time to hand a user a container, by runtime and start (warm or cold).",
            ["runtime", "start"],
            buckets=CLAIM_BUCKETS,
            registry=self.registry,
        )
        self.claims = Counter(
            "containerpoker_claims",
            "Launch requests this portal answered, by runtime and outcome (warm, cold, reused "
            "or the error's code).",
            ["runtime", "outcome"],
            registry=self.registry,
        )
        self.logins = Counter(
            "containerpoker_logins",
            "Login attempts by outcome: success, failure (wrong name or password) or rate_limited.",
            ["outcome"],
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        if platform is not None:
            self.registry.register(PlatformCollector(platform))

    def claim(self, runtime: str | None, outcome: str, seconds: float | None) -> None:
        """Count a launch request; a served warm or cold one also goes into the histogram."""
        runtime = str(runtime or "")
        self.claims.labels(runtime, outcome).inc()
        if seconds is not None and outcome in ("warm", "cold"):
            self.claim_seconds.labels(runtime, outcome).observe(seconds)

    def login(self, outcome: str) -> None:
        self.logins.labels(outcome).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
