"""POST /api/v1/chargepoints/{id}/call/{Action}: any CSMS-initiated OCPP 1.6 call."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from api.context import send
from api.endpoint import endpoint
from api.routes.chargepoints import CALL_ERRORS
from api.schemas.common import OcppPayload

bp = Blueprint("calls", __name__, url_prefix="/api/v1/chargepoints")


@bp.post("/<charger:cp_id>/call/<action>")
@endpoint("calls", body=OcppPayload, errors=CALL_ERRORS)
def call(cp_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """Send any CSMS-initiated OCPP 1.6 action; data = the charger's CALLRESULT payload

    The body is the OCPP request payload, checked against the action's 1.6 JSON schema
    (400 and nothing sent if it breaks it). An action a central system does not send
    in 1.6 is a 404.
    """
    return send(cp_id, action, body)
