"""``Prefer: respond-async`` (RFC 7240 §4.1): a call that queues instead of failing.

A route marked `queueable` honours the preference. When the charger is offline (known
or registered, but not connected) or busy (it has queued commands, or one in flight,
which a new call must not overtake), `queue_if_waiting` keeps the call as a command
(`ocpp_worker.commands`) and raises `CommandQueued`, which `api.routes.commands`
answers 202 with the command, ``Location: /api/v1/commands/{id}`` and
``Preference-Applied: respond-async``. Otherwise the call goes out as without the
preference (200 with the answer, and every error status of a call). An
AuthorizationKey change is never queued: it would keep the key in Redis.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from api.errors import ApiError, invalid
from api.schemas.commands import CommandSchema
from api.schemas.common import envelope
from api.smorest import Blueprint
from ocpp_worker import calls, commands
from ocpp_worker.state import chargepoints, registrations
from ocpp_worker.state import commands as command_state
from ocpp_worker.state.store import Store

View = TypeVar("View", bound=Callable[..., Any])

RESPOND_ASYNC = "respond-async"

PARAMETERS = [
    {
        "in": "header",
        "name": "Prefer",
        "required": False,
        "schema": {"type": "string", "maxLength": 1000},
        "description": "respond-async: queue the call (202) if the charger is offline or busy; "
        "sent now (200) otherwise",
    },
    {
        "in": "query",
        "name": "expiresIn",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": commands.MAX_TTL_S},
        "description": "seconds a queued call may wait (default OCPP_COMMAND_TTL_HOURS)",
    },
]


class CommandQueued(Exception):
    """The call was queued: answered 202 with `command`."""

    def __init__(self, command: dict[str, Any], why: str) -> None:
        super().__init__(why)
        self.command = command
        self.why = why


def queueable(bp: Blueprint) -> Callable[[View], View]:
    """Let a call route honour ``Prefer: respond-async`` (and document it)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def marked(*args: Any, **kwargs: Any) -> Any:
            g.ocpp_queueable = True
            return view(*args, **kwargs)

        accepted = bp.alt_response(
            202,
            schema=envelope(CommandSchema),
            description="Prefer: respond-async and the charger offline or busy: the call is "
            "queued; Location: /api/v1/commands/{id}",
            success=True,
        )
        return accepted(bp.errors(429)(bp.doc(parameters=PARAMETERS)(marked)))  # type: ignore[return-value]

    return decorate


def prefers_async() -> bool:
    """Whether this request is to a `queueable` route and asks for respond-async."""
    if not g.get("ocpp_queueable"):
        return False
    for header in request.headers.getlist("Prefer"):
        for preference in header.split(","):
            name = preference.split(";", 1)[0].split("=", 1)[0].strip().lower()
            if name == RESPOND_ASYNC:
                return True
    return False


def _ttl_s(store: Store) -> float:
    text = request.args.get("expiresIn")
    if text is None:
        return store.settings.command_ttl_hours * 3600
    limit = commands.MAX_TTL_S
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= limit:
        raise invalid("invalid query", {"expiresIn": [f"an integer from 1 to {limit} (seconds)"]})
    return int(text)


def queue_if_waiting(store: Store, cp_id: str, action: str, payload: dict[str, Any]) -> None:
    """Queue the call and raise `CommandQueued` if the charger cannot take it now;
    return (the caller sends it now) if it can, or if the call may not be queued."""
    calls.check_request(action, payload)  # a bad call is refused as without the preference
    if calls.carries_secret(action, payload):
        return
    connected = chargepoints.registration(store, cp_id) is not None
    if connected and command_state.queued_count(store, cp_id) == 0:
        return
    known = connected or chargepoints.get(store, cp_id) is not None
    if not known and registrations.get(store, store.keys, cp_id) is None:
        raise calls.UnknownChargePoint(f"charge point {cp_id} is unknown")
    ttl_s = _ttl_s(store)
    try:
        command = commands.queue(store, cp_id, action, payload, ttl_s)
    except command_state.QueueFull as exc:
        raise ApiError(429, f"{exc}: wait for them, or cancel some") from None
    why = "busy: queued behind its earlier commands" if connected else "offline"
    raise CommandQueued(command, f"queued: the charge point is {why}")
