"""CSMS-initiated calls through the API to real chargers, and every way they fail."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.api.conftest import envelope_of, eventually, ok
from tests.support.chargers import raw_socket

BOOT = [2, "boot", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]


async def test_trigger_heartbeat_reaches_the_charger_and_its_effect_is_readable(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    url = f"/api/v1/chargepoints/{cp_id}"
    assert ok(await api.get(url))["lastHeartbeat"] is None
    answer = ok(await api.post(f"{url}/trigger", json={"requestedMessage": "Heartbeat"}))
    assert answer == {"status": "Accepted"}
    assert ("TriggerMessage", {"requested_message": "Heartbeat"}) in cp.received

    async def heartbeat_seen():
        return ok(await api.get(url))["lastHeartbeat"]

    assert await eventually(heartbeat_seen)


async def test_trigger_status_notification_for_a_connector(api, chargers, cp_id):
    await chargers.connect(cp_id)
    body = {"requestedMessage": "StatusNotification", "connectorId": 1}
    assert ok(await api.post(f"/api/v1/chargepoints/{cp_id}/trigger", json=body)) == {"status": "Accepted"}
    body = {"requestedMessage": "FirmwareStatusNotification"}
    answer = ok(await api.post(f"/api/v1/chargepoints/{cp_id}/trigger", json=body))
    assert answer == {"status": "NotImplemented"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"requestedMessage": "Coffee"},
        {"requestedMessage": "LogStatusNotification"},  # ExtendedTriggerMessage only
        {"requestedMessage": "Heartbeat", "connectorId": "one"},
        {"requestedMessage": "Heartbeat", "connectorId": -1},
        {"requestedMessage": "Heartbeat", "extra": 1},
        ["Heartbeat"],
    ],
)
async def test_bad_trigger_bodies_are_400_and_nothing_is_sent(api, chargers, cp_id, body):
    cp = await chargers.connect(cp_id, connectors=0)
    data = envelope_of(await api.post(f"/api/v1/chargepoints/{cp_id}/trigger", json=body), 400)["data"]
    assert data
    assert not [r for r in cp.received if r[0] == "TriggerMessage"]


async def test_friendly_reset_unlock_availability(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    base = f"/api/v1/chargepoints/{cp_id}"
    assert ok(await api.post(f"{base}/reset", json={"type": "Soft"})) == {"status": "Accepted"}
    assert ("Reset", {"type": "Soft"}) in cp.received
    assert ok(await api.post(f"{base}/unlock", json={"connectorId": 1})) == {"status": "Unlocked"}
    body = {"connectorId": 0, "type": "Inoperative"}
    assert ok(await api.post(f"{base}/availability", json=body)) == {"status": "Accepted"}
    envelope_of(await api.post(f"{base}/reset", json={"type": "Medium"}), 400)
    envelope_of(await api.post(f"{base}/unlock", json={"connectorId": 0}), 400)
    envelope_of(await api.post(f"{base}/availability", json={"connectorId": 1}), 400)


async def test_generic_call_returns_the_charger_payload_unchanged(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    base = f"/api/v1/chargepoints/{cp_id}/call"
    assert ok(await api.post(f"{base}/ClearCache", json={})) == {"status": "Accepted"}
    assert ok(await api.post(f"{base}/ClearCache")) == {"status": "Accepted"}  # no body = {}
    answer = ok(await api.post(f"{base}/DataTransfer", json={"vendorId": "com.example", "data": "x"}))
    assert answer == {"status": "UnknownVendorId"}
    answer = ok(await api.post(f"{base}/GetConfiguration", json={"key": ["HeartbeatInterval"]}))
    assert answer == {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]}
    assert ok(await api.post(f"{base}/Reset", json={"type": "Hard"})) == {"status": "Accepted"}
    assert ("Reset", {"type": "Hard"}) in cp.received


async def test_call_of_a_charger_initiated_or_unknown_action_is_404(api, chargers, cp_id):
    await chargers.connect(cp_id, connectors=0)
    base = f"/api/v1/chargepoints/{cp_id}/call"
    body = envelope_of(await api.post(f"{base}/BootNotification", json={}), 404)
    assert "BootNotification" in body["message"]
    envelope_of(await api.post(f"{base}/MakeCoffee", json={}), 404)
    envelope_of(await api.post(f"{base}/StartTransaction", json={}), 404)


async def test_call_with_a_payload_breaking_the_ocpp_schema_is_400_and_not_sent(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=0)
    base = f"/api/v1/chargepoints/{cp_id}/call"
    data = envelope_of(await api.post(f"{base}/Reset", json={"type": "Medium"}), 400)["data"]
    assert data["errorCode"] == "PropertyConstraintViolation"
    data = envelope_of(await api.post(f"{base}/Reset", json={}), 400)["data"]
    assert data["errorCode"] == "OccurenceConstraintViolation"
    envelope_of(await api.post(f"{base}/Reset", data="type=Soft"), 400)
    envelope_of(await api.post(f"{base}/Reset", json=[1, 2]), 400)
    assert not [r for r in cp.received if r[0] == "Reset"]


async def test_callerror_answer_is_502_with_the_charger_error(api, chargers, cp_id):
    await chargers.connect(cp_id, connectors=0)
    url = f"/api/v1/chargepoints/{cp_id}/call/GetInstalledCertificateIds"  # the simulator has none
    body = {"certificateType": "CentralSystemRootCertificate"}
    data = envelope_of(await api.post(url, json=body), 502)["data"]
    assert data["errorCode"] == "NotImplemented"
    assert set(data) == {"errorCode", "errorDescription", "errorDetails"}


async def test_callerror_details_are_passed_through(api, stack, cp_id):
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(json.dumps(BOOT))
        await asyncio.wait_for(ws.recv(), 5)
        pending = asyncio.create_task(api.post(f"/api/v1/chargepoints/{cp_id}/call/ClearCache", json={}))
        ours = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await ws.send(json.dumps([4, ours[1], "InternalError", "disk full", {"free": 0}]))
        data = envelope_of(await pending, 502)["data"]
    assert data == {
        "errorCode": "InternalError",
        "errorDescription": "disk full",
        "errorDetails": {"free": 0},
    }


async def test_never_connected_charger_is_404_at_once(api, stack, cp_id):
    for method, url, body in [
        ("POST", f"/api/v1/chargepoints/{cp_id}/call/ClearCache", {}),
        ("POST", f"/api/v1/chargepoints/{cp_id}/trigger", {"requestedMessage": "Heartbeat"}),
        ("GET", f"/api/v1/chargepoints/{cp_id}/configuration/live", None),
        ("POST", "/api/v1/transactions/remote-start", {"clientId": cp_id, "idTag": "T"}),
    ]:
        started = time.monotonic()
        envelope_of(await api.send(method, url, json=body), 404)
        assert time.monotonic() - started < 1


async def test_disconnected_charger_is_503_at_once(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=0)
    await cp._connection.close()

    async def offline():
        return not ok(await api.get(f"/api/v1/chargepoints/{cp_id}"))["connected"]

    assert await eventually(offline)
    for method, url, body in [
        ("POST", f"/api/v1/chargepoints/{cp_id}/call/ClearCache", {}),
        ("POST", f"/api/v1/chargepoints/{cp_id}/reset", {"type": "Soft"}),
        (
            "PUT",
            f"/api/v1/chargepoints/{cp_id}/configuration/live",
            {"key": "HeartbeatInterval", "value": "60"},
        ),
    ]:
        started = time.monotonic()
        envelope_of(await api.send(method, url, json=body), 503)
        assert time.monotonic() - started < 1


async def test_disconnect_while_the_call_waits_is_503_at_once(api, stack, cp_id):
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(json.dumps(BOOT))
        await asyncio.wait_for(ws.recv(), 5)
        pending = asyncio.create_task(api.post(f"/api/v1/chargepoints/{cp_id}/call/ClearCache", json={}))
        await asyncio.wait_for(ws.recv(), 5)
        started = time.monotonic()
    envelope_of(await pending, 503)
    assert time.monotonic() - started < 2


@pytest.mark.slow
@pytest.mark.timeout(30)
async def test_charger_that_never_answers_is_408_after_the_call_timeout(api, stack, store, cp_id):
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(json.dumps(BOOT))
        await asyncio.wait_for(ws.recv(), 5)
        started = time.monotonic()
        response = await api.post(f"/api/v1/chargepoints/{cp_id}/call/ClearCache", json={})
        elapsed = time.monotonic() - started
        envelope_of(response, 408)
        frame = json.loads(await asyncio.wait_for(ws.recv(), 1))
        assert frame[0] == 2 and frame[2] == "ClearCache"  # it was sent; nobody answered
    assert store.settings.call_timeout - 0.5 < elapsed < store.settings.call_timeout + 2
