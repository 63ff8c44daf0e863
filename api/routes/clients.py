"""GET /clients: the chargers connected right now, from the gateway registry."""

from __future__ import annotations

from typing import Any

from api.context import store
from api.schemas.chargepoints import ClientSchema
from api.schemas.common import PageArgs, page
from api.smorest import Blueprint
from ocpp_worker.state import chargepoints

bp = Blueprint("clients", __name__, description="Chargers connected now")


@bp.get("/clients")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page(ClientSchema))
def list_clients(query: dict[str, Any]) -> dict[str, Any]:
    """Connected chargers, in id order"""
    ids = chargepoints.connected_ids(store())
    window = ids[query["offset"] : query["offset"] + query["limit"]]
    found = chargepoints.registrations(store(), window)
    # A charger may disconnect between the two reads: leave it out rather than half-report it.
    items = [{"id": cp_id, **found[cp_id]} for cp_id in window if cp_id in found]
    return {"items": items, "total": len(ids)}
