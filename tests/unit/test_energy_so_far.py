"""`transactions.energy_so_far`: what the status page shows for a running transaction."""

from __future__ import annotations

import json

from ocpp_worker.state import transactions


def test_energy_so_far_from_the_latest_register_reading_since_the_start(fresh):
    started = {"startTime": "2026-01-01T10:00:00.000Z", "meterStart": "1000"}
    active = [
        {**started, "transactionId": "1", "clientId": "CP1", "connectorId": "1"},  # Wh
        {**started, "transactionId": "2", "clientId": "CP1", "connectorId": "2"},  # kWh
        {**started, "transactionId": "3", "clientId": "CP2", "connectorId": "1"},  # reading before the start
        {**started, "transactionId": "4", "clientId": "CP2", "connectorId": "2"},  # no reading yet
        {**started, "transactionId": "5", "clientId": "CP3", "connectorId": "1"},  # not a number
    ]
    readings = {
        ("CP1", 1): {"value": "3500", "unit": "Wh", "timestamp": "2026-01-01T10:05:00.000Z"},
        ("CP1", 2): {"value": "2.25", "unit": "kWh", "timestamp": "2026-01-01T10:05:00.000Z"},
        ("CP2", 1): {"value": "9999", "unit": "Wh", "timestamp": "2026-01-01T09:59:59.000Z"},
        ("CP3", 1): {"value": "NaN", "unit": "Wh", "timestamp": "2026-01-01T10:05:00.000Z"},
    }
    for (cp_id, connector), sample in readings.items():
        key = fresh.keys.latest_meter(cp_id, connector)
        fresh.redis.hset(key, transactions.ENERGY_REGISTER, json.dumps(sample))
    assert transactions.energy_so_far(fresh, active) == [2500, 1250, None, None, None]
    assert transactions.energy_so_far(fresh, []) == []
