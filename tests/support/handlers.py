"""Running handlers directly in unit tests: a fixed clock and a started transaction."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from ocpp_worker.handlers import Incoming, handle
from ocpp_worker.state.store import Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
START = {"connectorId": 1, "idTag": "T", "meterStart": 100, "timestamp": "2026-06-01T11:00:00Z"}


def start_transaction(store: Store, cp_id: str) -> int:
    """Start a transaction on connector 1 of `cp_id`; its id."""
    frame = handle(store, Incoming(cp_id, f"s-{uuid.uuid4().hex[:6]}", "StartTransaction", START), NOW)
    assert frame is not None
    return int(json.loads(frame)[2]["transactionId"])
