"""What the views use to reach the rest of the system, attached to the Flask app by
`create_app` so tests can build apps on their own stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery import Celery
from flask import current_app

from ocpp_worker import calls
from ocpp_worker.state.store import Store


@dataclass(frozen=True)
class Services:
    store: Store
    celery: Celery


def services() -> Services:
    found: Services = current_app.extensions["ocpp"]
    return found


def store() -> Store:
    return services().store


def send(cp_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One CSMS-initiated call; its failures become HTTP statuses in `api.errors`."""
    s = services()
    return calls.call(s.store, s.celery, cp_id, action, payload)
