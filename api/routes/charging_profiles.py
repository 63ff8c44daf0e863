"""Smart charging: SetChargingProfile, ClearChargingProfile and GetCompositeSchedule,
with the stored copy of the profiles each charger accepted."""

from __future__ import annotations

from typing import Any

from api.context import known_charger, send, store
from api.errors import CALL_ERRORS
from api.schemas.charging_profiles import (
    ChargingProfileBody,
    ClearArgs,
    ClearedSchema,
    CompositeScheduleArgs,
    StoredProfileSchema,
)
from api.schemas.common import StatusSchema, page
from api.smorest import Blueprint
from ocpp_worker.state import charging_profiles

bp = Blueprint("charging_profiles", __name__, url_prefix="/api/v1/chargepoints", description="Smart charging")


@bp.get("/<charger:cp_id>/charging-profiles")
@bp.response(200, page(StoredProfileSchema))
@bp.errors(404)
def list_profiles(cp_id: str) -> dict[str, Any]:
    """The profiles the charger accepted, by connector, purpose and stack level"""
    known_charger(cp_id)
    profiles = charging_profiles.list_profiles(store(), cp_id)
    return {"items": profiles, "total": len(profiles)}


@bp.put("/<charger:cp_id>/charging-profiles")
@bp.arguments(ChargingProfileBody)
@bp.response(200, StatusSchema)
@bp.errors(*CALL_ERRORS)
def set_profile(body: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """Install a profile on the charger (SetChargingProfile); stored when Accepted

    It replaces the stored profile with the same chargingProfileId and the one with the
    same stackLevel and purpose on the same connector. Rejected, NotSupported, a
    CALLERROR (502) or an offline charger (503) leave the stored profiles as they were.
    """
    return send(cp_id, "SetChargingProfile", body)


@bp.delete("/<charger:cp_id>/charging-profiles")
@bp.arguments(ClearArgs, location="query")
@bp.response(200, ClearedSchema)
@bp.errors(*CALL_ERRORS)
def clear_profiles(query: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """Clear profiles on the charger (ClearChargingProfile); on Accepted the stored ones it cleared go

    With `id`, that profile; otherwise all matching the fields given (none: every profile).
    """
    known_charger(cp_id)
    matching = charging_profiles.cleared_by(charging_profiles.list_profiles(store(), cp_id), query)
    answer = send(cp_id, "ClearChargingProfile", query)
    accepted = answer["status"] == "Accepted"
    removed = [e["csChargingProfiles"]["chargingProfileId"] for e in matching] if accepted else []
    return {"status": answer["status"], "removed": removed}


@bp.get("/<charger:cp_id>/composite-schedule")
@bp.arguments(CompositeScheduleArgs, location="query")
@bp.response(200)
@bp.errors(*CALL_ERRORS)
def composite_schedule(query: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """The charger's composite schedule for a connector (GetCompositeSchedule), its answer unchanged"""
    return send(cp_id, "GetCompositeSchedule", query)
