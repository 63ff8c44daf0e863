"""Calls to a charger: the friendly named ones and any CSMS-initiated OCPP 1.6 action."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema

from api.context import send
from api.errors import CALL_ERRORS
from api.queueing import queueable
from api.schemas.calls import AvailabilityBody, ResetBody, TriggerBody, UnlockBody
from api.schemas.common import OcppPayload, StatusSchema
from api.smorest import Blueprint
from ocpp_worker.protocol.actions import CSMS_INITIATED

bp = Blueprint(
    "calls",
    __name__,
    url_prefix="/api/v1/chargepoints",
    description="OCPP calls to a connected charger; each waits for its answer (OCPP_CALL_TIMEOUT), "
    "or is queued for an offline or busy one with Prefer: respond-async (202)",
)

ACTION = {
    "in": "path",
    "name": "action",
    "description": "an action the central system sends in OCPP 1.6 (any other: 404)",
    "schema": {"type": "string", "enum": sorted(CSMS_INITIATED)},
}


@bp.post("/<charger:cp_id>/call/<action>", parameters=[ACTION])
@queueable(bp)
@bp.arguments(OcppPayload)
@bp.response(200)
@bp.errors(*CALL_ERRORS)
def call(body: dict[str, Any], cp_id: str, action: str) -> dict[str, Any]:
    """Send any CSMS-initiated OCPP 1.6 action; data = the charger's CALLRESULT payload

    The body is the OCPP request payload, checked against the action's 1.6 JSON schema
    (400 and nothing sent if it breaks it). An action a central system does not send
    in 1.6 is a 404. With ``Prefer: respond-async``, a charger offline or busy gets the
    call queued (202, docs/API.md "Queued commands").
    """
    return send(cp_id, action, body)


def named_call(path: str, action: str, body_schema: type[Schema], summary: str) -> None:
    """POST /<cp_id>/<path>: `action` with a body `body_schema` checks; data = the charger's status."""

    @bp.post(f"/<charger:cp_id>/{path}", endpoint=path)
    @queueable(bp)
    @bp.arguments(body_schema)
    @bp.response(200, StatusSchema)
    @bp.errors(*CALL_ERRORS)
    @bp.doc(summary=summary)
    def view(body: dict[str, Any], cp_id: str) -> dict[str, Any]:
        return send(cp_id, action, body)


named_call("trigger", "TriggerMessage", TriggerBody, "Ask the charger to send a message now (TriggerMessage)")
named_call("reset", "Reset", ResetBody, "Reset the charger (Reset, Soft or Hard)")
named_call("unlock", "UnlockConnector", UnlockBody, "Unlock a connector (UnlockConnector)")
named_call(
    "availability",
    "ChangeAvailability",
    AvailabilityBody,
    "Make a connector (or the charger, connector 0) Operative or Inoperative (ChangeAvailability)",
)
