"""GET /api/v1/dead-letters: charger CALLs the workers gave up on, newest first."""

from __future__ import annotations

from typing import Any

from api.context import store
from api.schemas.common import is_stream_start, page
from api.schemas.dead_letters import DeadLetterArgs, DeadLetterSchema
from api.smorest import Blueprint
from ocpp_worker.state import dead_letters

bp = Blueprint(
    "dead-letters",
    __name__,
    url_prefix="/api/v1/dead-letters",
    description="Charger CALLs answered with an InternalError after OCPP_MAX_ATTEMPTS failed runs",
)


@bp.get("")
@bp.arguments(DeadLetterArgs, location="query")
@bp.response(200, page(DeadLetterSchema))
def list_dead_letters(query: dict[str, Any]) -> dict[str, Any]:
    """Dead letters, newest first; the next page is ?before=<the last deadLetterId>"""
    s = store()
    before = query.get("before")
    if before is None:
        items = dead_letters.newest(s, query["limit"])
    elif is_stream_start(before):
        items = []
    else:
        items = dead_letters.newest(s, query["limit"], "(" + before)  # exclusive
    return {"items": items, "total": dead_letters.count(s)}
