"""Charge points and connectors, read from Redis."""

from __future__ import annotations

from typing import Any

from api.context import known_charger, store
from api.errors import not_found
from api.schemas.chargepoints import (
    ChargePointListArgs,
    ChargePointSchema,
    ChargePointSummarySchema,
    ConnectorSchema,
)
from api.schemas.common import page
from api.smorest import Blueprint
from ocpp_worker.state import chargepoints

bp = Blueprint(
    "chargepoints", __name__, url_prefix="/api/v1/chargepoints", description="Chargers and connectors"
)


def summary(cp_id: str, info: dict[str, str], connected: bool, charger: dict[str, str]) -> dict[str, Any]:
    """The API's view of a charger hash (BootNotification names → short names)."""
    return {
        "id": cp_id,
        "connected": connected,
        "vendor": info.get("chargePointVendor"),
        "model": info.get("chargePointModel"),
        "serialNumber": info.get("chargePointSerialNumber"),
        "chargeBoxSerialNumber": info.get("chargeBoxSerialNumber"),
        "firmwareVersion": info.get("firmwareVersion"),
        "registrationStatus": info.get("registrationStatus"),
        "status": charger.get("status"),
        "lastHeartbeat": info.get("lastHeartbeat"),
        "lastSeen": info.get("lastSeen"),
        "bootedAt": info.get("bootedAt"),
    }


@bp.get("")
@bp.arguments(ChargePointListArgs, location="query")
@bp.response(200, page(ChargePointSummarySchema))
def list_chargepoints(query: dict[str, Any]) -> dict[str, Any]:
    """Every charger that ever connected, in first-seen order"""
    s = store()
    ids, total = chargepoints.list_ids(s, query["offset"], query["limit"], query.get("connected"))
    online = set(chargepoints.connected_ids(s))
    infos = chargepoints.get_many(s, ids)
    chargers = chargepoints.connector_states(s, ids, 0)
    items = [
        summary(cp_id, info, cp_id in online, charger)
        for cp_id, info, charger in zip(ids, infos, chargers, strict=True)
    ]
    return {"items": items, "total": total}


@bp.get("/<charger:cp_id>")
@bp.response(200, ChargePointSchema)
@bp.errors(404)
def get_chargepoint(cp_id: str) -> dict[str, Any]:
    """One charger, its connectors and their latest meter values"""
    info = known_charger(cp_id)
    connectors = chargepoints.connectors(store(), cp_id)
    charger = next((c for c in connectors if c["connectorId"] == 0), {})
    connected = chargepoints.registration(store(), cp_id) is not None
    return {**summary(cp_id, info, connected, charger), "connectors": connectors}


@bp.get("/<charger:cp_id>/connectors")
@bp.response(200, page(ConnectorSchema))
@bp.errors(404)
def list_connectors(cp_id: str) -> dict[str, Any]:
    """A charger's connectors (0 is the charger itself)"""
    known_charger(cp_id)
    connectors = chargepoints.connectors(store(), cp_id)
    return {"items": connectors, "total": len(connectors)}


@bp.get("/<charger:cp_id>/connectors/<int:connector_id>")
@bp.response(200, ConnectorSchema)
@bp.errors(404)
def get_connector(cp_id: str, connector_id: int) -> dict[str, Any]:
    """One connector"""
    known_charger(cp_id)
    for connector in chargepoints.connectors(store(), cp_id):
        if connector["connectorId"] == connector_id:
            return connector
    raise not_found(f"charge point {cp_id} has not reported connector {connector_id}")
