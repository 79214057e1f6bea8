"""``/metrics``: Prometheus' exposition of the app's registry (see ``metrics_registry``)."""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST

from .context import get_state

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    return Response(get_state().metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
