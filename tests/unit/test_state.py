"""State functions and handlers against the real Redis, without a broker."""

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from ocpp_worker.handlers import HandlerCrashed, Incoming, answer, handle
from ocpp_worker.state import configuration, dead_letters, idtags, transactions
from ocpp_worker.state.store import Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
START = {"connectorId": 1, "idTag": "T", "meterStart": 100, "timestamp": "2026-06-01T11:00:00Z"}


def reply(frame: str):
    return json.loads(frame)


def test_first_transaction_id_is_1000_then_increasing(fresh):
    ids = [
        reply(answer(fresh, "CP", f"m{i}", "StartTransaction", START, NOW))[2]["transactionId"]
        for i in range(3)
    ]
    assert ids == [1000, 1001, 1002]


def test_same_call_twice_gives_one_transaction(fresh):
    first = answer(fresh, "CP", "same", "StartTransaction", START, NOW)
    fresh.redis.delete(fresh.keys.reply_cache("CP", "same"))  # as if the worker died before caching
    second = answer(fresh, "CP", "same", "StartTransaction", START, NOW)
    assert reply(first)[2]["transactionId"] == reply(second)[2]["transactionId"]
    assert fresh.redis.zcard(fresh.keys.transactions) == 1


def test_unknown_id_tag_accepted_when_configured(fresh):
    assert idtags.id_tag_info(fresh, "NEW", NOW) == {"status": "Invalid"}
    lenient = Store(fresh.redis, dataclasses.replace(fresh.settings, accept_unknown_idtags=True))
    assert idtags.id_tag_info(lenient, "NEW", NOW) == {"status": "Accepted"}


def test_expiry_makes_a_tag_expired(fresh):
    idtags.put(fresh, "A", "Accepted", expiry_date="2026-06-01T11:59:59Z")
    assert idtags.id_tag_info(fresh, "A", NOW)["status"] == "Expired"
    idtags.put(fresh, "A", "Accepted", expiry_date="2026-06-01T12:00:01Z")
    assert idtags.id_tag_info(fresh, "A", NOW)["status"] == "Accepted"


def test_meter_values_defaults_and_order(fresh):
    tx_id = reply(answer(fresh, "CP", "s", "StartTransaction", START, NOW))[2]["transactionId"]
    payload = {
        "connectorId": 1,
        "transactionId": tx_id,
        "meterValue": [
            {
                "timestamp": "2026-06-01T11:10:00+01:00",
                "sampledValue": [
                    {"value": "1"},
                    {"value": "230", "measurand": "Voltage", "phase": "L1", "unit": "V"},
                ],
            },
            {"timestamp": "2026-06-01T11:20:00Z", "sampledValue": [{"value": "2"}]},
        ],
    }
    assert reply(answer(fresh, "CP", "mv", "MeterValues", payload, NOW))[0] == 3
    samples = transactions.samples_of(fresh, tx_id)
    assert [s["value"] for s in samples] == ["1", "230", "2"]
    assert samples[0] | {} == {
        "timestamp": "2026-06-01T10:10:00.000Z",
        "value": "1",
        "context": "Sample.Periodic",
        "format": "Raw",
        "measurand": "Energy.Active.Import.Register",
        "location": "Outlet",
        "unit": "Wh",
    }
    latest = fresh.redis.hgetall(fresh.keys.latest_meter("CP", 1))
    assert set(latest) == {"Energy.Active.Import.Register", "Voltage/L1"}
    assert json.loads(latest["Energy.Active.Import.Register"])["value"] == "2"


def test_handler_failure_becomes_internal_error(fresh, monkeypatch):
    from ocpp_worker.handlers import registry

    def broken(ctx, req):
        raise RuntimeError("boom")

    monkeypatch.setitem(registry.HANDLERS, "Heartbeat", broken)
    call = Incoming("CP", "h", "Heartbeat", {}, frame_id="1-0", frame='[2,"h","Heartbeat",{}]')
    for attempt in (1, 2):  # retried: the claim is released, nothing is stored
        with pytest.raises(HandlerCrashed):
            handle(fresh, dataclasses.replace(call, attempt=attempt), NOW)
        assert fresh.redis.get(fresh.keys.reply_cache("CP", "h")) is None
    final = handle(fresh, dataclasses.replace(call, attempt=3), NOW)
    assert reply(final)[:3] == [4, "h", "InternalError"]
    [letter] = dead_letters.newest(fresh)
    assert letter["frame"] == call.frame and "boom" in letter["reason"] and letter["attempts"] == "3"


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("HeartbeatInterval", "-1", "at least 0"),
        ("HeartbeatInterval", "soon", "not an integer"),
        ("MeterValueSampleInterval", "3601", "at most 3600"),
        ("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus", "Bogus"),
        ("ChargeProfileMaxStackLevel", "5", "read-only"),
        ("MaxChargingProfilesInstalled", "5", "read-only"),
        ("AuthorizeRemoteTxRequests", "maybe", "boolean"),
    ],
)
def test_configuration_refuses_bad_values(fresh, key, value, reason):
    with pytest.raises(configuration.ConfigurationError, match=reason):
        configuration.set_value(fresh, "CP", key, value)
    assert not fresh.redis.hexists(fresh.keys.config("CP"), key)


def test_configuration_defaults_and_updates(fresh):
    values = {e["key"]: e for e in configuration.all_values(fresh, "CP")}
    assert values["HeartbeatInterval"]["value"] == "300"
    assert values["ConnectionTimeOut"]["value"] == "60"
    assert values["MeterValuesSampledData"]["value"] == "Energy.Active.Import.Register,Power.Active.Import"
    assert values["ChargeProfileMaxStackLevel"] == {
        "key": "ChargeProfileMaxStackLevel",
        "value": "10",
        "readonly": True,
        "reported": False,
        "unknown": False,
    }
    assert values["ChargingScheduleAllowedChargingRateUnit"]["value"] == "Current,Power"
    assert values["MaxChargingProfilesInstalled"]["value"] == "10"
    assert configuration.SPECS["ConnectionTimeOut"].reboot_required
    configuration.set_value(fresh, "CP", "HeartbeatInterval", "60")
    assert configuration.get_value(fresh, "CP", "HeartbeatInterval") == "60"
    configuration.record_reported(
        fresh,
        "CP",
        {
            "configurationKey": [
                {"key": "ChargeProfileMaxStackLevel", "value": "3", "readonly": True},
                {"key": "NumberOfConnectors", "value": "2", "readonly": False},
                {"key": "AuthorizationKey", "value": "secret-of-the-charger", "readonly": False},
            ],
            "unknownKey": ["VendorThing", "AuthorizationKey"],
        },
    )
    assert configuration.get_value(fresh, "CP", "ChargeProfileMaxStackLevel") == "3"
    values = {e["key"]: e for e in configuration.all_values(fresh, "CP")}
    assert values["NumberOfConnectors"] == {
        "key": "NumberOfConnectors",
        "value": "2",
        "readonly": False,  # the charger's flag wins over our spec's
        "reported": True,
        "unknown": False,
    }
    assert values["VendorThing"] == {
        "key": "VendorThing",
        "value": None,
        "readonly": False,
        "reported": False,
        "unknown": True,
    }
    assert "AuthorizationKey" not in values
    configuration.set_value(fresh, "CP", "NumberOfConnectors", "3")  # writable, the charger says
    with pytest.raises(configuration.ConfigurationError, match="read-only"):
        configuration.set_value(fresh, "CP", "ChargeProfileMaxStackLevel", "4")
    assert "secret-of-the-charger" not in str(fresh.redis.hgetall(fresh.keys.config("CP")))


@pytest.mark.parametrize(
    "timestamp", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "not a time"]
)
def test_timestamps_out_of_range_in_utc_are_replaced_by_now(fresh, timestamp):
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": timestamp}
    assert reply(answer(fresh, "CP", "s", "StatusNotification", status, NOW))[0] == 3
    assert fresh.redis.hget(fresh.keys.connector("CP", 1), "timestamp") == "2026-06-01T12:00:00.000Z"
