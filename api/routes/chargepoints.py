"""Charge points and connectors (read from Redis), and the friendly named calls."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from api.context import send, store
from api.endpoint import endpoint
from api.errors import not_found
from api.schemas.chargepoints import (
    AvailabilityBody,
    ChargePointListArgs,
    ChargePointSchema,
    ChargePointSummarySchema,
    ConnectorSchema,
    ResetBody,
    TriggerBody,
    UnlockBody,
)
from api.schemas.common import StatusSchema, page
from ocpp_worker.state import chargepoints

bp = Blueprint("chargepoints", __name__, url_prefix="/api/v1/chargepoints")

CALL_ERRORS = (400, 404, 408, 502, 503)


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


def known(cp_id: str) -> dict[str, str]:
    info = chargepoints.get(store(), cp_id)
    if info is None:
        raise not_found(f"charge point {cp_id} is unknown")
    return info


@bp.get("")
@endpoint("chargepoints", query=ChargePointListArgs, response=page(ChargePointSummarySchema), errors=(400,))
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
@endpoint("chargepoints", response=ChargePointSchema, errors=(404,))
def get_chargepoint(cp_id: str) -> dict[str, Any]:
    """One charger, its connectors and their latest meter values"""
    info = known(cp_id)
    connectors = chargepoints.connectors(store(), cp_id)
    charger = next((c for c in connectors if c["connectorId"] == 0), {})
    connected = chargepoints.registration(store(), cp_id) is not None
    return {**summary(cp_id, info, connected, charger), "connectors": connectors}


@bp.get("/<charger:cp_id>/connectors")
@endpoint("chargepoints", response=page(ConnectorSchema), errors=(404,))
def list_connectors(cp_id: str) -> dict[str, Any]:
    """A charger's connectors (0 is the charger itself)"""
    known(cp_id)
    connectors = chargepoints.connectors(store(), cp_id)
    return {"items": connectors, "total": len(connectors)}


@bp.get("/<charger:cp_id>/connectors/<int:connector_id>")
@endpoint("chargepoints", response=ConnectorSchema, errors=(404,))
def get_connector(cp_id: str, connector_id: int) -> dict[str, Any]:
    """One connector"""
    known(cp_id)
    for connector in chargepoints.connectors(store(), cp_id):
        if connector["connectorId"] == connector_id:
            return connector
    raise not_found(f"charge point {cp_id} has not reported connector {connector_id}")


@bp.post("/<charger:cp_id>/trigger")
@endpoint("calls", body=TriggerBody, response=StatusSchema, errors=CALL_ERRORS)
def trigger(cp_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Ask the charger to send a message now (TriggerMessage)"""
    return send(cp_id, "TriggerMessage", body)


@bp.post("/<charger:cp_id>/reset")
@endpoint("calls", body=ResetBody, response=StatusSchema, errors=CALL_ERRORS)
def reset(cp_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Reset the charger (Reset, Soft or Hard)"""
    return send(cp_id, "Reset", body)


@bp.post("/<charger:cp_id>/unlock")
@endpoint("calls", body=UnlockBody, response=StatusSchema, errors=CALL_ERRORS)
def unlock(cp_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Unlock a connector (UnlockConnector)"""
    return send(cp_id, "UnlockConnector", body)


@bp.post("/<charger:cp_id>/availability")
@endpoint("calls", body=AvailabilityBody, response=StatusSchema, errors=CALL_ERRORS)
def availability(cp_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Make a connector (or the charger, connector 0) Operative or Inoperative (ChangeAvailability)"""
    return send(cp_id, "ChangeAvailability", body)
