"""Configuration: stored (configuration manager, no charger contact) and live (the charger)."""

from __future__ import annotations

from typing import Any

from api.context import known_charger, send, store
from api.errors import CALL_ERRORS, invalid
from api.queueing import queueable
from api.schemas.common import StatusSchema
from api.schemas.configuration import (
    ConfigurationChangeBody,
    LiveConfigurationArgs,
    LiveConfigurationSchema,
    StoredChangeSchema,
    StoredConfigurationSchema,
)
from api.smorest import Blueprint
from ocpp_worker.state import configuration

bp = Blueprint("configuration", __name__, url_prefix="/api/v1/chargepoints", description="Configuration keys")


@bp.get("/<charger:cp_id>/configuration")
@bp.response(200, StoredConfigurationSchema)
@bp.errors(404)
def get_stored(cp_id: str) -> dict[str, Any]:
    """The stored configuration: every known key (stored value or default), then vendor keys"""
    known_charger(cp_id)
    return {"configurationKey": configuration.all_values(store(), cp_id)}


@bp.put("/<charger:cp_id>/configuration")
@bp.arguments(ConfigurationChangeBody)
@bp.response(200, StoredChangeSchema)
@bp.errors(404)
def put_stored(body: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """Change one stored value (not sent to the charger; use /configuration/live for that)

    A readonly key or a bad value is a 400 with the reason, and the value stays as it was.
    """
    known_charger(cp_id)
    try:
        spec = configuration.set_value(store(), cp_id, body["key"], body["value"])
    except configuration.ConfigurationError as exc:
        raise invalid(f"{body['key']}: {exc}", {"value": [str(exc)]}) from None
    return {
        "key": body["key"],
        "value": body["value"],
        "readonly": False,
        "rebootRequired": bool(spec and spec.reboot_required),
    }


@bp.post("/<charger:cp_id>/configuration/sync")
@bp.response(200, StoredConfigurationSchema)
@bp.errors(*CALL_ERRORS)
def sync(cp_id: str) -> dict[str, Any]:
    """Read the charger's whole configuration (GetConfiguration) into the stored copy

    Values and readonly flags become the charger's; keys it calls unknown are marked
    so. Also done after a charger's first BootNotification (OCPP_SYNC_CONFIG_ON_BOOT).
    """
    send(cp_id, "GetConfiguration", {})  # the bridge stores the answer (ocpp_worker.answers)
    return {"configurationKey": configuration.all_values(store(), cp_id)}


@bp.get("/<charger:cp_id>/configuration/live")
@bp.arguments(LiveConfigurationArgs, location="query")
@bp.response(200, LiveConfigurationSchema)
@bp.errors(*CALL_ERRORS)
def get_live(query: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """Ask the charger for its configuration (GetConfiguration); the stored copy follows"""
    payload = {"key": query["key"]} if query.get("key") else {}
    return send(cp_id, "GetConfiguration", payload)


@bp.put("/<charger:cp_id>/configuration/live")
@queueable(bp)
@bp.arguments(ConfigurationChangeBody)
@bp.response(200, StatusSchema)
@bp.errors(*CALL_ERRORS)
def put_live(body: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """Change a key on the charger (ChangeConfiguration); stored when Accepted or RebootRequired"""
    return send(cp_id, "ChangeConfiguration", body)
