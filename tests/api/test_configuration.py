"""Stored configuration (configuration manager) and live configuration (the charger)."""

from __future__ import annotations

from tests.api.conftest import envelope_of, ok


def stored_value(data: dict, key: str) -> dict:
    [entry] = [e for e in data["configurationKey"] if e["key"] == key]
    return entry


async def test_stored_configuration_reads_and_validated_writes(api, chargers, cp_id):
    await chargers.connect(cp_id, connectors=0)
    url = f"/api/v1/chargepoints/{cp_id}/configuration"
    data = ok(await api.get(url))
    assert stored_value(data, "HeartbeatInterval") == {
        "key": "HeartbeatInterval",
        "value": "300",
        "readonly": False,
        "reported": False,  # no GetConfiguration after boot in the test stack
        "unknown": False,
    }
    assert stored_value(data, "NumberOfConnectors")["readonly"] is True

    changed = ok(await api.put(url, json={"key": "HeartbeatInterval", "value": "120"}))
    assert changed == {"key": "HeartbeatInterval", "value": "120", "readonly": False, "rebootRequired": False}
    assert stored_value(ok(await api.get(url)), "HeartbeatInterval")["value"] == "120"
    changed = ok(await api.put(url, json={"key": "ConnectionTimeOut", "value": "90"}))
    assert changed["rebootRequired"] is True

    refused = envelope_of(await api.put(url, json={"key": "HeartbeatInterval", "value": "often"}), 400)
    assert "not an integer" in refused["message"]
    refused = envelope_of(await api.put(url, json={"key": "NumberOfConnectors", "value": "4"}), 400)
    assert "read-only" in refused["message"]
    after = ok(await api.get(url))
    assert stored_value(after, "HeartbeatInterval")["value"] == "120"
    assert stored_value(after, "NumberOfConnectors")["value"] == "1"

    envelope_of(await api.put(url, json={"key": "HeartbeatInterval"}), 400)
    envelope_of(await api.put(url, json={"key": "HeartbeatInterval", "value": 60}), 400)
    envelope_of(await api.put(url, data="HeartbeatInterval=60"), 400)


async def test_stored_configuration_of_unknown_charger_is_404(api, stack, cp_id):
    url = f"/api/v1/chargepoints/{cp_id}/configuration"
    envelope_of(await api.get(url), 404)
    envelope_of(await api.put(url, json={"key": "HeartbeatInterval", "value": "60"}), 404)


async def test_live_configuration_asks_the_charger_and_keeps_the_store_in_step(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=0)
    live = f"/api/v1/chargepoints/{cp_id}/configuration/live"
    cp.configuration["HeartbeatInterval"] = "45"
    data = ok(await api.get(f"{live}?key=HeartbeatInterval&key=NoSuchKey"))
    assert data == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "45"}],
        "unknownKey": ["NoSuchKey"],
    }
    everything = ok(await api.get(live))
    assert {e["key"] for e in everything["configurationKey"]} == set(cp.configuration)
    stored = ok(await api.get(f"/api/v1/chargepoints/{cp_id}/configuration"))
    assert stored_value(stored, "HeartbeatInterval")["value"] == "45"

    answer = ok(await api.put(live, json={"key": "MeterValueSampleInterval", "value": "15"}))
    assert answer == {"status": "Accepted"}
    assert cp.configuration["MeterValueSampleInterval"] == "15"
    stored = ok(await api.get(f"/api/v1/chargepoints/{cp_id}/configuration"))
    assert stored_value(stored, "MeterValueSampleInterval")["value"] == "15"

    envelope_of(await api.put(live, json={"value": "15"}), 400)
    envelope_of(await api.get(f"{live}?key=" + "K" * 51), 400)
