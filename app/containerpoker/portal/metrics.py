"""``/metrics`` in Prometheus' text format: pool sizes by state, claims, claim latency,
recoveries (counted from the event log, so the monitor's recoveries are included)."""

from __future__ import annotations

from flask import Blueprint, Response

from .context import get_platform, get_state

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    platform = get_platform()
    lines = [
        "# HELP containerpoker_pool_containers Pool containers by runtime and state.",
        "# TYPE containerpoker_pool_containers gauge",
    ]
    for pool in platform.pool.status():
        for state in ("ready", "warming", "assigned", "released", "failed"):
            lines.append(
                f'containerpoker_pool_containers{{runtime="{pool.runtime}",state="{state}"}} '
                f"{getattr(pool, state)}"
            )
        lines.append(
            f'containerpoker_pool_warm_target{{runtime="{pool.runtime}"}} {pool.warm_target}'
        )
    lines += get_state().metrics.render_claims()
    recovered = platform.store.count_events("recovered")
    lines += [
        "# HELP containerpoker_recoveries_total Assigned containers replaced after a failure.",
        "# TYPE containerpoker_recoveries_total counter",
    ]
    for runtime, count in recovered.items():
        lines.append(f'containerpoker_recoveries_total{{runtime="{runtime}"}} {count}')
    lines += [
        "# HELP containerpoker_expiries_total Assignments released because a clock ran out.",
        "# TYPE containerpoker_expiries_total counter",
    ]
    for runtime, count in platform.store.count_events("expired").items():
        lines.append(f'containerpoker_expiries_total{{runtime="{runtime}"}} {count}')
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
