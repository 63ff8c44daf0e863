"""The API's Prometheus metrics: every request timed, and ``GET /metrics``.

Each request is observed once, when Flask has its response (errors included), by its
URL rule (``/api/v1/chargepoints/<charger:cp_id>``, never the path a client typed:
one series per route, not per charger) and status; an unknown URL counts as route
``none``. The timer starts on Flask's ``request_started`` signal, before any
``before_request`` function (the token check among them) can answer.

``/metrics`` is prometheus-client's own WSGI exposition: under gunicorn it sums every
worker process (multiprocess mode, set up by api/gunicorn_conf.py through
`metrics_export`); elsewhere it is this process's registry. It needs the API token
when one is set, like every route but /health, unless OCPP_METRICS_PUBLIC=1 (a
Prometheus on a network you trust, without the token in its configuration).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, g, request, request_finished, request_started
from prometheus_client import REGISTRY, make_wsgi_app
from werkzeug.wrappers import Response as WsgiResponse

from api.smorest import Blueprint
from ocpp_worker import metrics, metrics_export

_DOC = {
    200: {
        "description": "Prometheus text exposition (or OpenMetrics, by Accept), not the envelope",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


def _started(sender: Flask, **_: Any) -> None:
    g.metrics_started = time.perf_counter()


def _finished(sender: Flask, response: Response, **_: Any) -> None:
    started = g.get("metrics_started")
    if started is None:
        return
    rule = request.url_rule
    route = rule.rule if rule is not None else metrics.NONE
    metrics.api().request(request.method, route, response.status_code, time.perf_counter() - started)


def register(app: Flask) -> None:
    """Time every request of `app` (module-level receivers: blinker keeps weak refs)."""
    request_started.connect(_started, app)
    request_finished.connect(_finished, app)


def blueprint(public: bool) -> Blueprint:
    """``GET /metrics``; `public`: without the token (OCPP_METRICS_PUBLIC)."""
    bp = Blueprint("metrics", __name__, description="Prometheus metrics", public=public)

    @bp.get("/metrics")
    @bp.doc(responses=_DOC)
    def scrape() -> WsgiResponse:
        """The metrics of this API, for Prometheus (README: Metrics)"""
        registry = metrics_export.multiprocess_registry() if metrics_export.multiprocess_dir() else REGISTRY
        return WsgiResponse.from_app(make_wsgi_app(registry), request.environ)

    return bp
