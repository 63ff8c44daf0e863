"""Charge points and connectors, read from Redis; a charger's registration (who may
connect, and how: docs/SECURITY.md) is created, replaced and removed here too."""

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
from api.schemas.common import envelope, page
from api.schemas.registrations import RegisteredChargePointSchema, RegistrationBody
from api.smorest import Blueprint, Reply
from ocpp_worker.state import chargepoints, registrations

bp = Blueprint(
    "chargepoints", __name__, url_prefix="/api/v1/chargepoints", description="Chargers and connectors"
)


@bp.get("")
@bp.arguments(ChargePointListArgs, location="query")
@bp.response(200, page(ChargePointSummarySchema))
def list_chargepoints(query: dict[str, Any]) -> dict[str, Any]:
    """Every charger that ever connected, in first-seen order"""
    s = store()
    ids, total = chargepoints.list_ids(s, query["offset"], query["limit"], query.get("connected"))
    return {"items": chargepoints.summaries(s, ids), "total": total}


def registration_view(record: registrations.Registration) -> dict[str, Any]:
    return {
        "id": record.cp_id,
        "description": record.description,
        "securityProfile": record.security_profile,
        "enabled": record.enabled,
        "bootStatus": record.boot_status,
        "hasKey": record.has_key,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
    }


@bp.get("/<charger:cp_id>")
@bp.response(200, ChargePointSchema)
@bp.errors(404)
def get_chargepoint(cp_id: str) -> dict[str, Any]:
    """One charger: its registration, its connectors and their latest meter values

    A registered charger that never connected is found too (its boot fields are null).
    """
    s = store()
    record = registrations.get(s, s.keys, cp_id)
    info = chargepoints.get(s, cp_id) if record else known_charger(cp_id)
    connectors = chargepoints.connectors(s, cp_id)
    charger = next((c for c in connectors if c["connectorId"] == 0), {})
    connected = chargepoints.registration(s, cp_id) is not None
    return {
        **chargepoints.summary(cp_id, info or {}, connected, charger),
        "connectors": connectors,
        "registration": registration_view(record) if record else None,
    }


@bp.put("/<charger:cp_id>")
@bp.arguments(RegistrationBody)
@bp.response(200, RegisteredChargePointSchema, description="Replaced")
@bp.alt_response(201, schema=envelope(RegisteredChargePointSchema), description="Created", success=True)
def put_chargepoint(body: dict[str, Any], cp_id: str) -> Reply:
    """Register a charger (201) or replace its registration (200); its key is kept

    With OCPP_REGISTRATION=closed only registered, enabled chargers may connect.
    """
    s = store()
    record, created = registrations.put(
        s,
        s.keys,
        cp_id,
        description=body["description"],
        security_profile=body["securityProfile"],
        enabled=body["enabled"],
        boot_status=body["bootStatus"],
    )
    return Reply(registration_view(record), 201 if created else 200, "created" if created else "replaced")


@bp.delete("/<charger:cp_id>")
@bp.response(200)
@bp.errors(404)
def delete_chargepoint(cp_id: str) -> None:
    """Remove a charger's registration and key (its state, history and connection stay)

    A connected charger stays connected; with OCPP_REGISTRATION=closed its next
    handshake is refused.
    """
    s = store()
    if not registrations.delete(s, s.keys, cp_id):
        raise not_found(f"charge point {cp_id} is not registered")


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
