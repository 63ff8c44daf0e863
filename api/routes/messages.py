"""GET /api/v1/chargepoints/{id}/messages: the OCPP message log of a charger."""

from __future__ import annotations

from typing import Any

from api.context import store
from api.schemas.messages import MessageArgs, MessagePageSchema
from api.smorest import Blueprint
from ocpp_worker.state import message_log

bp = Blueprint(
    "messages",
    __name__,
    url_prefix="/api/v1/chargepoints",
    description="The OCPP message log: every frame a charger sent and was sent",
)


@bp.get("/<charger:cp_id>/messages")
@bp.arguments(MessageArgs, location="query")
@bp.response(200, MessagePageSchema)
def list_messages(query: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """A charger's OCPP frames, newest first

    Every frame in (from the charger) and out (to it) as the gateway handled it, kept
    per charger for OCPP_MESSAGE_LOG_MAX frames (1,000) and OCPP_MESSAGE_LOG_DAYS days
    (7). An answer carries the action of the CALL it answers. Any charger id is
    answered, also one that never booted (its frames may be what went wrong). With
    `action`, one request reads at most 5,000 entries: a page may then hold fewer than
    `limit` messages, and `next` says where to go on.
    """
    s = store()
    found = message_log.scan(s, s.keys, cp_id, query["limit"], query.get("before"), query.get("action"))
    return {
        "items": [
            {
                "id": m.id,
                "direction": m.direction,
                "at": m.at,
                "messageType": m.message_type,
                "messageId": m.message_id,
                "action": m.action,
                "frame": m.frame,
                "truncated": m.truncated,
                "size": m.size,
            }
            for m in found.items
        ],
        "total": message_log.count(s, s.keys, cp_id),
        "next": found.next,
    }
