"""Reservations: ReserveNow and CancelReservation sent by the API, with what the charger
answered kept (`ocpp_worker.state.reservations`).

A call that fails (offline: 503, CALLERROR: 502, timeout: 408) stores nothing and
changes nothing: only an answer of the charger does.
"""

from __future__ import annotations

from typing import Any

from api.context import known_charger, send, store
from api.errors import CALL_ERRORS, found
from api.schemas.common import PageArgs, page
from api.schemas.reservations import ReservationBody, ReservationSchema
from api.smorest import Blueprint
from ocpp_worker import timeutil
from ocpp_worker.state import reservations

bp = Blueprint(
    "reservations",
    __name__,
    url_prefix="/api/v1/chargepoints",
    description="Reservations of a charger's connectors (ReserveNow, CancelReservation)",
)


@bp.post("/<charger:cp_id>/reservations")
@bp.arguments(ReservationBody)
@bp.response(201, ReservationSchema)
@bp.errors(*CALL_ERRORS)
def reserve(body: dict[str, Any], cp_id: str) -> dict[str, str]:
    """Reserve a connector (ReserveNow) under a new reservationId; a refusal is kept as refused"""
    known_charger(cp_id)
    s = store()
    reservation_id = reservations.allocate_id(s)
    request = {**body, "expiryDate": timeutil.iso(body["expiryDate"]), "reservationId": reservation_id}
    answer = send(cp_id, "ReserveNow", request)
    now = timeutil.utc_now()
    reservations.record(s, cp_id, reservation_id, request, answer["status"], timeutil.iso(now))
    return found(reservations.get(s, cp_id, reservation_id, now), f"reservation {reservation_id}")


@bp.delete("/<charger:cp_id>/reservations/<int:reservation_id>")
@bp.response(200, ReservationSchema)
@bp.errors(*CALL_ERRORS)
def cancel(cp_id: str, reservation_id: int) -> dict[str, str]:
    """Cancel a reservation (CancelReservation); only the charger's Accepted cancels it"""
    s = store()
    found(reservations.get(s, cp_id, reservation_id, timeutil.utc_now()), f"reservation {reservation_id}")
    answer = send(cp_id, "CancelReservation", {"reservationId": reservation_id})
    now = timeutil.utc_now()
    reservations.cancelled(s, cp_id, reservation_id, answer["status"], timeutil.iso(now))
    return found(reservations.get(s, cp_id, reservation_id, now), f"reservation {reservation_id}")


@bp.get("/<charger:cp_id>/reservations")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page(ReservationSchema))
@bp.errors(404)
def list_reservations(query: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """A charger's reservations, newest first; an active one past its expiryDate is expired"""
    known_charger(cp_id)
    items, total = reservations.listing(store(), cp_id, timeutil.utc_now(), query["offset"], query["limit"])
    return {"items": items, "total": total}
