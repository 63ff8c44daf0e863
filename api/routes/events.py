"""GET /api/v1/events: the domain event stream, for a client catching up without
webhooks (or after its receiver was down)."""

from __future__ import annotations

from typing import Any

from api.context import store
from api.schemas.events import EventArgs, EventPageSchema
from api.smorest import Blueprint
from ocpp_worker.state import events

bp = Blueprint(
    "events",
    __name__,
    url_prefix="/api/v1/events",
    description="Domain events: connections, boots, statuses, transactions, reservations, firmware, security",
)


@bp.get("")
@bp.arguments(EventArgs, location="query")
@bp.response(200, EventPageSchema)
def list_events(query: dict[str, Any]) -> dict[str, Any]:
    """Events after a cursor, oldest first

    Keep `next` and ask again with `?after=<next>`: an empty page means nothing newer
    yet. The stream keeps OCPP_EVENTS_MAX events (100,000) for OCPP_EVENTS_HOURS
    (48). With `type` or `chargerId`, one request looks at most at 5,000 events: a page
    may hold fewer than `limit` even when more are left; `next` moves on regardless.
    """
    page = events.read(
        store(), query.get("after", "0-0"), query["limit"], query.get("type"), query.get("chargerId")
    )
    return {"items": page.items, "next": page.next}
