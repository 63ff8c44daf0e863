"""Domain events from the workers' handlers, against the real Redis: one per state
change, none for a redelivery or a repeat, each valid against its JSON Schema."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ocpp_worker import events
from ocpp_worker.handlers import Incoming, handle, handle_batch
from ocpp_worker.state import events as stream
from ocpp_worker.state import reservations
from ocpp_worker.state.store import Store
from tests.support.handlers import NOW, START

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"
BOOT = {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.0"}


def validator(event_type: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{event_type}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def published(store: Store) -> list[dict[str, Any]]:
    """Every event on the stream, each checked against its type's schema."""
    found = stream.read(store, "0-0", 1000).items
    for event in found:
        validator(event["type"]).validate(event)
    return found


def types_of(store: Store) -> list[str]:
    return [e["type"] for e in published(store)]


def call(store: Store, action: str, payload: dict[str, Any], unique_id: str, frame_id: str = "") -> Any:
    reply = handle(store, Incoming("CP", unique_id, action, payload, gateway="gw", frame_id=frame_id), NOW)
    return json.loads(reply) if reply else None


def status(connector: int, value: str, error: str = "NoError") -> dict[str, Any]:
    return {"connectorId": connector, "status": value, "errorCode": error}


def test_every_event_type_has_a_schema_and_a_name_in_the_docs():
    documented = (SCHEMAS.parent / "EVENTS.md").read_text()
    for event_type in events.TYPES:
        assert (SCHEMAS / f"{event_type}.schema.json").is_file(), event_type
        assert f"`{event_type}`" in documented, event_type
    assert len(list(SCHEMAS.glob("*.schema.json"))) == len(events.TYPES)


def test_a_charging_session_publishes_its_events_in_order(fresh):
    call(fresh, "BootNotification", BOOT, "b")
    call(fresh, "StatusNotification", status(1, "Available"), "s1")
    call(fresh, "StatusNotification", status(1, "Available"), "s2")  # a repeat: no event
    call(fresh, "StatusNotification", status(1, "Preparing"), "s3")
    tx_id = call(fresh, "StartTransaction", START, "start")[2]["transactionId"]
    call(fresh, "MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": []}, "m")
    stop = {
        "transactionId": tx_id,
        "meterStop": 1600,
        "timestamp": "2026-06-01T11:30:00Z",
        "reason": "EVDisconnected",
    }
    call(fresh, "StopTransaction", stop, "stop")
    call(fresh, "StopTransaction", stop, "stop-again")  # resent under a new id: stopped already

    found = published(fresh)
    assert [e["type"] for e in found] == [
        "chargepoint.booted",
        "connector.status_changed",
        "connector.status_changed",
        "transaction.started",
        "transaction.stopped",
    ]
    assert all(e["chargerId"] == "CP" and e["time"] == "2026-06-01T12:00:00.000Z" for e in found)
    assert [e["id"] for e in found] == sorted(e["id"] for e in found)
    assert found[0]["data"] == {
        "registrationStatus": "Accepted",
        "chargePointVendor": "V",
        "chargePointModel": "M",
        "firmwareVersion": "1.0",
    }
    assert [(e["data"]["previousStatus"], e["data"]["status"]) for e in found[1:3]] == [
        (None, "Available"),
        ("Available", "Preparing"),
    ]
    assert found[3]["data"] == {
        "transactionId": tx_id,
        "connectorId": 1,
        "idTag": "T",
        "idTagStatus": "Invalid",  # T is not registered (OCPP_ACCEPT_UNKNOWN_IDTAGS off)
        "meterStart": 100,
        "startTime": "2026-06-01T11:00:00.000Z",
    }
    assert found[4]["data"] == {
        "transactionId": tx_id,
        "connectorId": 1,
        "idTag": "T",
        "meterStart": 100,
        "meterStop": 1600,
        "energyWh": 1500,
        "startTime": "2026-06-01T11:00:00.000Z",
        "stopTime": "2026-06-01T11:30:00.000Z",
        "stopReason": "EVDisconnected",
    }


def test_a_redelivered_start_transaction_publishes_one_event(fresh):
    first = call(fresh, "StartTransaction", START, "start", frame_id="5-0")
    assert call(fresh, "StartTransaction", START, "start", frame_id="5-0") is None  # Celery redelivery
    assert call(fresh, "StartTransaction", START, "start", frame_id="6-0") == first  # the charger resent it
    # a run that died after allocating the id, before its commit: the redelivery writes
    # the transaction and its event, once
    fresh.redis.set(fresh.keys.reply_cache("CP", "crashed"), "claim 7-0 deadbeef", px=60_000)
    fresh.redis.set(fresh.keys.start_request("CP", "crashed"), 1001)
    fresh.redis.set(fresh.keys.transaction_counter, 1001)
    second = call(fresh, "StartTransaction", START, "crashed", frame_id="7-0")
    assert second[2]["transactionId"] == 1001
    started = [e["data"]["transactionId"] for e in published(fresh) if e["type"] == "transaction.started"]
    assert started == [first[2]["transactionId"], 1001]


def test_stop_of_an_unknown_or_foreign_transaction_publishes_nothing(fresh):
    call(
        fresh,
        "StopTransaction",
        {"transactionId": 4242, "meterStop": 1, "timestamp": "2026-06-01T11:30:00Z"},
        "x",
    )
    other = handle(fresh, Incoming("OTHER", "s", "StartTransaction", START), NOW)
    assert other is not None
    tx_id = json.loads(other)[2]["transactionId"]
    call(
        fresh,
        "StopTransaction",
        {"transactionId": tx_id, "meterStop": 1, "timestamp": "2026-06-01T11:30:00Z"},
        "y",
    )
    assert types_of(fresh) == ["transaction.started"]  # OTHER's start only


def test_error_codes_firmware_and_security_events(fresh):
    call(fresh, "StatusNotification", status(0, "Available"), "a")
    call(fresh, "StatusNotification", status(0, "Available", "GroundFailure"), "b")  # same status, new error
    call(fresh, "FirmwareStatusNotification", {"status": "Downloading"}, "f1")
    call(fresh, "FirmwareStatusNotification", {"status": "Downloading"}, "f2")
    call(fresh, "SignedFirmwareStatusNotification", {"status": "Installed", "requestId": 7}, "f3")
    sec = {"type": "TamperDetectionActivated", "timestamp": "2026-06-01T11:59:00Z", "techInfo": "lid"}
    call(fresh, "SecurityEventNotification", sec, "sec")
    found = published(fresh)
    assert [e["type"] for e in found] == [
        "connector.status_changed",
        "connector.status_changed",
        "firmware.status_changed",
        "firmware.status_changed",
        "security_event",
    ]
    assert found[1]["data"]["errorCode"] == "GroundFailure"
    assert found[3]["data"] == {
        "status": "Installed",
        "previousStatus": "Downloading",
        "requestId": 7,
        "signed": True,
    }
    assert found[4]["data"] == {
        "type": "TamperDetectionActivated",
        "techInfo": "lid",
        "timestamp": "2026-06-01T11:59:00.000Z",
    }


def test_meter_values_are_events_only_when_asked_for(fresh):
    loud = Store(fresh.redis, dataclasses.replace(fresh.settings, events_meter_values=True))
    tx_id = call(fresh, "StartTransaction", START, "s")[2]["transactionId"]
    values = {
        "connectorId": 1,
        "transactionId": tx_id,
        "meterValue": [{"timestamp": "2026-06-01T11:10:00Z", "sampledValue": [{"value": "150"}]}],
    }
    call(fresh, "MeterValues", values, "quiet")
    assert types_of(fresh) == ["transaction.started"]
    handle(loud, Incoming("CP", "loud", "MeterValues", values), NOW)
    event = published(fresh)[-1]
    assert event["type"] == "transaction.meter_values"
    assert event["data"]["transactionId"] == tx_id
    assert [s["value"] for s in event["data"]["sampledValues"]] == ["150"]


def test_reservation_events(fresh):
    request = {"connectorId": 1, "idTag": "R", "expiryDate": "2099-01-01T00:00:00.000Z", "reservationId": 5}
    reservations.record(fresh, "CP", 5, request, "Accepted", "2026-06-01T12:00:00.000Z")
    reservations.record(
        fresh, "CP", 6, {**request, "reservationId": 6}, "Occupied", "2026-06-01T12:00:00.000Z"
    )
    call(fresh, "StartTransaction", {**START, "reservationId": 5}, "s")
    reservations.cancelled(fresh, "CP", 5, "Accepted", "2026-06-01T12:01:00.000Z")  # used already: no event
    found = published(fresh)
    assert [e["type"] for e in found] == [
        "reservation.created",
        "reservation.created",
        "reservation.used",
        "transaction.started",
    ]
    assert found[2]["data"] == {"reservationId": 5, "transactionId": found[3]["data"]["transactionId"]}
    assert [e["data"]["status"] for e in found[:2]] == ["active", "refused"]


def test_the_stream_is_capped_by_count_and_read_by_cursor(fresh):
    small = Store(fresh.redis, dataclasses.replace(fresh.settings, events_max=100))
    for i in range(1000):
        stream.publish(
            small, "security_event", f"CP{i % 3}", {"type": "x", "techInfo": None, "timestamp": "t"}
        )
    # MAXLEN ~: Redis drops whole nodes (100 entries), so at most a node over the cap
    assert 100 <= stream.count(small) <= 200
    newest = stream.last_id(small)
    page = stream.read(small, "0-0", 10, cp_id="CP1")
    assert len(page.items) == 10 and {e["chargerId"] for e in page.items} == {"CP1"}
    rest = stream.read(small, page.next, 1000)
    assert rest.items[-1]["id"] == newest and rest.next == newest
    assert stream.read(small, newest, 10).items == []
    # a filter that matches nothing stops after SCAN_MAX entries, with a cursor to go on
    assert stream.read(small, "0-0", 10, event_type="nothing", scan_max=50).next != "0-0"


def test_the_age_cap(fresh):
    old = Store(fresh.redis, dataclasses.replace(fresh.settings, events_hours=1))
    assert stream.min_id(old.settings, NOW) == f"{int(NOW.timestamp() * 1000) - 3_600_000}-0"
    for _ in range(300):  # stream ids are Redis's clock: today
        stream.publish(old, "security_event", "CP", {"type": "x", "techInfo": None, "timestamp": "t"})
    far_future = NOW.replace(year=2100)
    stream.publish(old, "security_event", "CP", {"type": "x", "techInfo": None, "timestamp": "t"}, far_future)
    # an event published "in 2100" trims every node older than an hour before it
    assert stream.count(old) <= 100


@pytest.mark.parametrize("event_type", events.TYPES)
def test_schema_files_are_valid_json_schema(event_type):
    schema = json.loads((SCHEMAS / f"{event_type}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["type"]["const"] == event_type


def test_the_change_is_judged_at_commit_also_within_one_batch(fresh):
    """Two StatusNotifications of one connector in one task's batch: both handlers run
    before either commits, yet the repeat publishes nothing."""
    calls = [
        Incoming("CP", f"b{i}", "StatusNotification", status(1, value), gateway="gw", frame_id=f"{i + 1}-0")
        for i, value in enumerate(["Available", "Available", "Charging", "Charging"])
    ]
    handle_batch(fresh, calls, NOW)
    found = published(fresh)
    assert [(e["data"]["previousStatus"], e["data"]["status"]) for e in found] == [
        (None, "Available"),
        ("Available", "Charging"),
    ]


def test_a_huge_meter_values_makes_a_bounded_event(fresh):
    loud = Store(fresh.redis, dataclasses.replace(fresh.settings, events_meter_values=True))
    values = {
        "connectorId": 1,
        "meterValue": [
            {"timestamp": "2026-06-01T11:10:00Z", "sampledValue": [{"value": str(i)} for i in range(500)]}
        ],
    }
    handle(loud, Incoming("CP", "many", "MeterValues", values), NOW)
    big = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2026-06-01T11:11:00Z", "sampledValue": [{"value": "9" * 3000}] * 10}],
    }
    handle(loud, Incoming("CP", "big", "MeterValues", big), NOW)
    many, wide = [e["data"] for e in published(fresh)]
    assert (len(many["sampledValues"]), many["sampledValueCount"]) == (events.MAX_EVENT_SAMPLES, 500)
    assert [s["value"] for s in many["sampledValues"][:3]] == ["0", "1", "2"]
    assert (len(wide["sampledValues"]), wide["sampledValueCount"]) == (5, 10)  # 16 KiB of ~3 KiB values


def test_with_events_off_a_session_publishes_nothing_and_is_still_answered(fresh):
    store = dataclasses.replace(fresh, settings=dataclasses.replace(fresh.settings, events_enabled=False))
    store.keys = fresh.keys
    assert json.loads(handle(store, Incoming("CP-OFF", "b1", "BootNotification", BOOT), NOW))[2]["status"]
    frame = json.loads(handle(store, Incoming("CP-OFF", "s1", "StartTransaction", START), NOW))
    assert frame[0] == 3 and frame[2]["transactionId"] >= 1000
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
    assert json.loads(handle(store, Incoming("CP-OFF", "n1", "StatusNotification", status), NOW))[0] == 3
    assert fresh.redis.exists(fresh.keys.events) == 0
    assert fresh.redis.hget(fresh.keys.connector("CP-OFF", 1), "status") == "Charging"
