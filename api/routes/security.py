"""A charger's credentials (its AuthorizationKey: set, generated, rotated) and its
security events (docs/SECURITY.md). A key is shown only in the answer of the request
that generated it: Redis keeps its scrypt hash, and no GET returns it."""

from __future__ import annotations

from typing import Any

from api import idempotency
from api.context import send, store
from api.errors import CALL_ERRORS, ApiError, found, invalid
from api.schemas.common import is_stream_start
from api.schemas.registrations import (
    CredentialsBody,
    GeneratedKeySchema,
    RotationBody,
    RotationSchema,
    SecurityEventArgs,
    SecurityEventPageSchema,
)
from api.smorest import Blueprint, Reply
from ocpp_worker import calls
from ocpp_worker.state import registrations
from ocpp_worker.state.configuration import AUTHORIZATION_KEY

bp = Blueprint(
    "security",
    __name__,
    url_prefix="/api/v1/chargepoints",
    description="Charger security: AuthorizationKeys, their rotation, security events",
)


def _registered(cp_id: str) -> registrations.Registration:
    s = store()
    return found(registrations.get(s, s.keys, cp_id), f"registration of charge point {cp_id}")


def _set_key(cp_id: str, key: str) -> None:
    s = store()
    try:
        registrations.set_key(s, s.keys, cp_id, key)
    except LookupError:
        raise found(None, f"registration of charge point {cp_id}") from None
    except ValueError as exc:  # the schema checked it already; kept for a direct caller
        raise invalid("invalid authorizationKey", {"authorizationKey": [str(exc)]}) from None


@bp.put("/<charger:cp_id>/credentials")
@idempotency.exempt  # the key must never be stored
@bp.arguments(CredentialsBody)
@bp.response(204, description="Set")
@bp.errors(404)
def put_credentials(body: dict[str, Any], cp_id: str) -> None:
    """Set a registered charger's AuthorizationKey (its HTTP Basic password)

    Only its salted scrypt hash is stored. The charger must be given the same key (on
    its own screen, or with POST .../credentials/rotate while it is connected).
    """
    _set_key(cp_id, body["authorizationKey"])


@bp.post("/<charger:cp_id>/credentials")
@idempotency.exempt  # the key must never be stored
@bp.response(201, GeneratedKeySchema, description="Generated")
@bp.errors(404)
def generate_credentials(cp_id: str) -> Reply:
    """Generate a random AuthorizationKey for a registered charger, shown this once"""
    key = registrations.generate_key()
    _set_key(cp_id, key)
    return Reply({"authorizationKey": key}, 201, "created: this is the only time the key is shown")


@bp.post("/<charger:cp_id>/credentials/rotate")
@idempotency.exempt  # the key must never be stored
@bp.arguments(RotationBody)
@bp.response(200, RotationSchema)
@bp.errors(*CALL_ERRORS)
def rotate_credentials(body: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """Send the connected charger a new AuthorizationKey (ChangeConfiguration)

    Without a body (or without authorizationKey) a key is generated and returned once,
    if the charger takes it. The new key is valid from just before it is sent (a
    charger may reconnect with it before its answer reaches us), beside the old one,
    which stays valid until the charger connects with the new one. A charger that
    refuses keeps its old key. 408 and 503 leave it unknown whether the charger took
    the key: their `data` holds a generated key; send it again with this route.
    """
    _registered(cp_id)
    generated = "authorizationKey" not in body
    key = registrations.generate_key() if generated else body["authorizationKey"]
    try:
        answer = send(cp_id, "ChangeConfiguration", {"key": AUTHORIZATION_KEY, "value": key})
    except (calls.CallTimeout, calls.ChargePointOffline) as exc:
        status = 408 if isinstance(exc, calls.CallTimeout) else 503
        data = {"authorizationKey": key} if generated else None
        raise ApiError(status, str(exc), data) from None
    took = answer.get("status") in ("Accepted", "RebootRequired")
    return {"status": answer.get("status"), "authorizationKey": key if generated and took else None}


@bp.get("/<charger:cp_id>/security-events")
@bp.arguments(SecurityEventArgs, location="query")
@bp.response(200, SecurityEventPageSchema)
def list_security_events(query: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """A charger's security events, newest first, with counts by kind

    Ours (refused handshakes: UnknownChargePoint, InvalidBasicAuth, …; CsrRejected) and
    the charger's SecurityEventNotifications; also for ids that are not registered
    (their refusals expire after a day). The next page is ?before=<the last id>.
    """
    s = store()
    before = query.get("before")
    items = (
        []
        if before is not None and is_stream_start(before)
        else registrations.events_page(s, s.keys, cp_id, query["limit"], before)
    )
    counts = registrations.event_counts(s, s.keys, cp_id)
    return {
        "items": [
            {
                "id": event.id,
                "kind": event.kind,
                "detail": event.detail,
                "at": event.at,
                "source": event.source,
                "receivedAt": event.received_at,
            }
            for event in items
        ],
        "total": sum(counts.values()),
        "counts": counts,
    }
