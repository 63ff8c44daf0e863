"""Webhooks: register a URL for the domain events it wants (docs/EVENTS.md); the
`background` worker delivers them, signed (`ocpp_worker.webhooks`)."""

from __future__ import annotations

import re
from typing import Any

from api.context import store
from api.errors import ApiError, found, invalid
from api.schemas.common import page
from api.schemas.webhooks import (
    CreatedWebhookSchema,
    DeliveryArgs,
    DeliveryPageSchema,
    WebhookBody,
    WebhookSchema,
)
from api.smorest import Blueprint
from ocpp_worker import events, timeutil, webhooks
from ocpp_worker.state import webhooks as state

bp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1/webhooks",
    description="Signed HTTP POSTs of the domain events, in order, retried for up to 24 h",
)

WEBHOOK_ID = "<webhook_id>"
_ID = re.compile(r"wh_[0-9a-f]{16}", re.ASCII)


def _hook(webhook_id: str) -> dict[str, Any]:
    """The webhook, or a 404 (also for an id we never give out: it never reaches a key)."""
    hook = state.get(store(), webhook_id) if _ID.fullmatch(webhook_id) else None
    return found(hook, f"webhook {webhook_id}")


def _shown(hook: dict[str, Any]) -> dict[str, Any]:
    """A webhook as listed: never its secret."""
    shown = {k: v for k, v in hook.items() if k != "secret"}
    shown["pendingEvent"] = hook.get("pendingEvent") or None
    shown["attempts"] = int(hook.get("attempts") or 0)
    return shown


@bp.post("")
@bp.arguments(WebhookBody)
@bp.response(201, CreatedWebhookSchema)
@bp.errors(409)
def create_webhook(body: dict[str, Any]) -> dict[str, Any]:
    """Register a webhook; the answer holds its secret, shown this once

    It gets the events published from now on. With OCPP_WEBHOOKS_ALLOW_PRIVATE off
    (the default), a URL on a private, loopback or link-local address is refused, here
    for an IP literal and at each delivery for a name. At most 100 webhooks (409).
    """
    s = store()
    url, types = body["url"], list(dict.fromkeys(body["types"]))
    problem = webhooks.url_problem(url) or webhooks.literal_address_problem(
        url, s.settings.webhooks_allow_private
    )
    if problem is not None:
        raise invalid("invalid webhook", {"url": [problem]})
    problem = webhooks.types_problem(types, events.TYPES)
    if problem is not None:
        raise invalid("invalid webhook", {"types": [problem]})
    secret = body.get("secret") or state.new_secret()
    try:
        hook = state.create(s, url, types, secret, body.get("description"), timeutil.iso(timeutil.utc_now()))
    except state.TooMany as exc:
        raise ApiError(409, str(exc)) from None
    return {**_shown(hook), "secret": secret}


@bp.get("")
@bp.response(200, page(WebhookSchema))
def list_webhooks() -> dict[str, Any]:
    """Every webhook, oldest first (without secrets)"""
    items = [_shown(hook) for hook in state.listing(store())]
    return {"items": items, "total": len(items)}


@bp.get(f"/{WEBHOOK_ID}")
@bp.response(200, WebhookSchema)
@bp.errors(404)
def get_webhook(webhook_id: str) -> dict[str, Any]:
    """One webhook (without its secret)"""
    return _shown(_hook(webhook_id))


@bp.delete(f"/{WEBHOOK_ID}")
@bp.response(204, description="Deleted")
@bp.errors(404)
def delete_webhook(webhook_id: str) -> None:
    """Delete a webhook and its delivery log; nothing more is sent to it"""
    _hook(webhook_id)
    state.delete(store(), webhook_id)


@bp.get(f"/{WEBHOOK_ID}/deliveries")
@bp.arguments(DeliveryArgs, location="query")
@bp.response(200, DeliveryPageSchema)
@bp.errors(404)
def list_deliveries(query: dict[str, Any], webhook_id: str) -> dict[str, Any]:
    """A webhook's delivery log, newest first (the last 100 events it was sent)

    One record per event: delivered, retrying (with the next attempt's time) or failed
    (given up on after OCPP_WEBHOOK_RETRY_HOURS, then skipped); its attempts, the last
    HTTP status and error.
    """
    _hook(webhook_id)
    return {"items": state.deliveries(store(), webhook_id, query["limit"])}
