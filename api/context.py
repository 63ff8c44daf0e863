"""What the views use to reach the rest of the system, attached to the Flask app by
`create_app` so tests can build apps on their own stores."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from celery import Celery
from flask import current_app
from sqlalchemy import Engine

from api import queueing
from api.errors import found
from ocpp_worker import calls
from ocpp_worker.archive.db import engine_for
from ocpp_worker.protocol import errors
from ocpp_worker.state import chargepoints
from ocpp_worker.state.store import Store

# The integers a double holds exactly (RFC 7493, I-JSON §2.2): what any charger's JSON
# parser can take, and small enough for the 1.6 schema check's Decimal arithmetic
# (`multipleOf: 0.1` on 1e30 overflows it).
MAX_NUMBER = 2**53 - 1


@dataclass(frozen=True)
class Services:
    store: Store
    celery: Celery


def services() -> Services:
    found: Services = current_app.extensions["ocpp"]
    return found


def store() -> Store:
    return services().store


def archive() -> Engine:
    """The session archive's database (`ocpp_worker.archive`) of this app's settings."""
    return engine_for(store().settings)


def known_charger(cp_id: str) -> dict[str, str]:
    """The stored charger (its BootNotification fields and times), or a 404."""
    return found(chargepoints.get(store(), cp_id), f"charge point {cp_id}")


def _numbers(value: Any, path: str) -> Iterator[tuple[str, float]]:
    """Every number in a JSON value, with its path (the body's depth is bounded)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}/{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{path}/{index}" if path else str(index))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, value


def _check_numbers(payload: dict[str, Any]) -> None:
    """Refuse, as the OCPP validation error it is, a number no charger can hold exactly.

    JSON has no limit on numbers: 1e400 reads as an infinite float, which no JSON
    encoder may write, and 1e30 passes the 1.6 schemas (they set no maximum) but breaks
    their check. The OCPP integers and decimals are all far inside ±MAX_NUMBER.
    """
    for path, number in _numbers(payload, ""):
        if not math.isfinite(number) or abs(number) > MAX_NUMBER:
            where = path or "payload"
            error = errors.PropertyConstraintViolationError(
                f"{where}: out of range (at most {MAX_NUMBER} in magnitude)",
                {"field": where},
            )
            raise calls.InvalidPayload(error)


def send(cp_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One CSMS-initiated call; its failures become HTTP statuses in `api.errors`."""
    _check_numbers(payload)
    s = services()
    if queueing.prefers_async():  # Prefer: respond-async on a queueable route
        queueing.queue_if_waiting(s.store, cp_id, action, payload)  # raises CommandQueued (202)
    return calls.call(s.store, s.celery, cp_id, action, payload)
