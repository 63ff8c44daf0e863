"""Queued commands: calls kept for a charger that could not take them when asked
(``Prefer: respond-async``, `api.queueing`), and what became of each."""

from __future__ import annotations

from typing import Any

from flask import Response

from api.context import store
from api.errors import ApiError, envelope, found
from api.queueing import CommandQueued
from api.schemas.commands import CommandListArgs, CommandSchema
from api.schemas.common import page
from api.smorest import Blueprint
from ocpp_worker import timeutil
from ocpp_worker.state import chargepoints, registrations
from ocpp_worker.state import commands as command_state

bp = Blueprint(
    "commands",
    __name__,
    url_prefix="/api/v1",
    description="Calls queued for a charger (Prefer: respond-async), delivered in order once it is "
    "connected and booted",
)

NEVER_DUE_MS = 2**62  # a cancel drops a queued command whatever its expiry


def location(command_id: str) -> str:
    return f"/api/v1/commands/{command_id}"


@bp.app_errorhandler(CommandQueued)
def queued(exc: CommandQueued) -> Response:
    """202 for a queued call (RFC 7240: the preference applied, where to look)."""
    response = envelope(CommandSchema().dump(exc.command), exc.why, 202)
    response.headers["Location"] = location(exc.command["id"])
    response.headers["Preference-Applied"] = "respond-async"
    return response


@bp.get("/commands/<command_id>")
@bp.response(200, CommandSchema)
@bp.errors(404)
def get_command(command_id: str) -> dict[str, Any]:
    """One command: its status (queued, sent, answered, failed, expired, cancelled), times and answer"""
    return found(command_state.get(store(), command_id), f"command {command_id}")


@bp.delete("/commands/<command_id>")
@bp.response(200, CommandSchema)
@bp.errors(404, 409)
def cancel_command(command_id: str) -> dict[str, Any]:
    """Cancel a queued command; 409 once it was sent (or has ended otherwise)"""
    s = store()
    found(command_state.get(s, command_id), f"command {command_id}")
    now = timeutil.iso(timeutil.utc_now())
    before = command_state.drop_queued(s, command_id, command_state.CANCELLED, now, NEVER_DUE_MS)
    if before is None:
        raise ApiError(404, f"command {command_id} is unknown")
    if before != command_state.QUEUED:
        raise ApiError(409, f"command {command_id} is {before}, not queued: it cannot be cancelled")
    return found(command_state.get(s, command_id), f"command {command_id}")


@bp.get("/chargepoints/<charger:cp_id>/commands")
@bp.arguments(CommandListArgs, location="query")
@bp.response(200, page(CommandSchema))
@bp.errors(404)
def list_commands(args: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """A charger's commands, oldest first (the queue's order), kept 24 h after they end"""
    s = store()
    if chargepoints.get(s, cp_id) is None and registrations.get(s, s.keys, cp_id) is None:
        raise ApiError(404, f"charge point {cp_id} is unknown")
    items, total = command_state.list_page(s, cp_id, args["limit"], args["offset"])
    return {"items": items, "total": total}
