"""GET /health: is this API able to do its job (Redis, Celery workers, gateways)?"""

from __future__ import annotations

from typing import Any

from api.context import services
from api.schemas.common import envelope
from api.schemas.health import HealthSchema
from api.smorest import Blueprint, Reply
from ocpp_worker import timeutil
from ocpp_worker.state import chargepoints

# Load balancers probe it without credentials.
bp = Blueprint("health", __name__, description="Is the API able to work", public=True)

PING_TIMEOUT = 0.5


def _redis() -> dict[str, Any]:
    try:
        services().store.redis.ping()
    except Exception as exc:  # any failure means "down"; its class name says which
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def _workers() -> dict[str, Any]:
    try:
        replies = services().celery.control.ping(timeout=PING_TIMEOUT) or []
    except Exception as exc:
        return {"ok": False, "count": 0, "error": type(exc).__name__}
    return {"ok": bool(replies), "count": len(replies)}


def _gateways() -> dict[str, Any]:
    try:
        count = len(chargepoints.live_gateways(services().store))
    except Exception as exc:
        return {"ok": False, "count": 0, "error": type(exc).__name__}
    return {"ok": count > 0, "count": count}


@bp.get("/health")
@bp.response(200, HealthSchema)
@bp.alt_response(503, schema=envelope(HealthSchema), description="Redis is unreachable: status down")
def health() -> Reply:
    """Health of the API and what it depends on

    503 when Redis is unreachable; "degraded" (still 200) when no worker answers a
    ping or no gateway is registered: reads work, calls to chargers will not.
    """
    redis, workers, gateways = _redis(), _workers(), _gateways()
    status = "ok" if workers["ok"] and gateways["ok"] else "degraded"
    if not redis["ok"]:
        status = "down"
    data = {
        "status": status,
        "timestamp": timeutil.iso(timeutil.utc_now()),
        "redis": redis,
        "workers": workers,
        "gateways": gateways,
    }
    return Reply(data, 503 if status == "down" else 200, status)
