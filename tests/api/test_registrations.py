"""Charger security through the API: registrations (PUT/GET/DELETE
/api/v1/chargepoints/{id}), AuthorizationKeys (set, generated, rotated through the
connected charger, end to end with the simulator) and security events."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
from ocpp.v16 import call_result
from ocpp.v16.enums import ConfigurationStatus

from ocpp_worker.state import chargepoints, registrations
from ocpp_worker.state.registrations import GatewayEvent
from tests.api.conftest import data_of_400, envelope_of, eventually, ok
from tests.support.stack import ManagedProcess

KEY = "first-key-0123456789"
NEW_KEY = "second-key-0123456789"
PROFILE_1 = {"description": "depot 4, bay 2", "securityProfile": 1, "enabled": True}


def url(cp_id: str, tail: str = "") -> str:
    return f"/api/v1/chargepoints/{cp_id}{tail}"


async def set_key(api, cp_id: str, key: str) -> None:  # type: ignore[no-untyped-def]
    response = await api.put(url(cp_id, "/credentials"), json={"authorizationKey": key})
    assert (response.status_code, response.get_data()) == (204, b"")


async def test_registration_lifecycle(api, stack, cp_id):
    envelope_of(await api.get(url(cp_id)), 404)
    created = ok(await api.put(url(cp_id), json=PROFILE_1), 201)
    assert created["id"] == cp_id
    assert {k: created[k] for k in ("description", "securityProfile", "enabled", "bootStatus", "hasKey")} == {
        "description": "depot 4, bay 2",
        "securityProfile": 1,
        "enabled": True,
        "bootStatus": "Accepted",
        "hasKey": False,
    }
    # registered but never connected: found, with null boot fields and no connectors
    detail = ok(await api.get(url(cp_id)))
    assert detail["connected"] is False and detail["vendor"] is None and detail["connectors"] == []
    assert detail["registration"] == {k: v for k, v in created.items() if k != "id"}

    replaced = ok(await api.put(url(cp_id), json={"securityProfile": 2, "bootStatus": "Pending"}))
    assert (replaced["securityProfile"], replaced["bootStatus"], replaced["description"]) == (
        2,
        "Pending",
        "",
    )
    assert replaced["enabled"] is True  # left out: the default
    assert replaced["createdAt"] == created["createdAt"]

    assert envelope_of(await api.delete(url(cp_id)), 200)["data"] is None
    envelope_of(await api.get(url(cp_id)), 404)
    envelope_of(await api.delete(url(cp_id)), 404)


async def test_a_connected_charger_shows_its_state_and_its_registration(api, chargers, cp_id):
    await chargers.connect(cp_id)
    assert ok(await api.get(url(cp_id)))["registration"] is None
    ok(await api.put(url(cp_id), json={"securityProfile": 0}), 201)
    detail = ok(await api.get(url(cp_id)))
    assert detail["connected"] is True and detail["vendor"] == "OpenCSMS"
    assert detail["registration"]["securityProfile"] == 0
    # DELETE removes the registration only: the charger stays connected and known
    ok(await api.delete(url(cp_id)))
    detail = ok(await api.get(url(cp_id)))
    assert detail["connected"] is True and detail["registration"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "securityProfile"),
        ({"securityProfile": 4}, "securityProfile"),
        ({"securityProfile": "1"}, "securityProfile"),
        ({"securityProfile": 1.5}, "securityProfile"),
        ({"securityProfile": 1, "bootStatus": "Rejected"}, "bootStatus"),
        ({"securityProfile": 1, "description": "x" * 501}, "description"),
        ({"securityProfile": 1, "enabled": "maybe"}, "enabled"),
        ({"securityProfile": 1, "authorizationKey": KEY}, "authorizationKey"),  # not here: /credentials
    ],
)
async def test_bad_registration_bodies_are_400(api, stack, cp_id, body, field):
    errors = data_of_400(await api.put(url(cp_id), json=body), "invalid request body")
    assert field in errors, errors
    envelope_of(await api.get(url(cp_id)), 404)


async def test_keys_are_set_generated_and_never_shown_again(api, store, stack, cp_id):
    envelope_of(await api.put(url(cp_id, "/credentials"), json={"authorizationKey": KEY}), 404)
    envelope_of(await api.post(url(cp_id, "/credentials")), 404)
    ok(await api.put(url(cp_id), json=PROFILE_1), 201)

    await set_key(api, cp_id, KEY)
    assert registrations.verify_key(store, store.keys, cp_id, KEY)
    assert ok(await api.get(url(cp_id)))["registration"]["hasKey"] is True

    generated = ok(await api.post(url(cp_id, "/credentials")), 201)["authorizationKey"]
    assert len(generated) >= 16 and generated != KEY
    assert registrations.verify_key(store, store.keys, cp_id, generated)
    assert not registrations.verify_key(store, store.keys, cp_id, KEY)

    for path in ("", "/security-events", "/configuration"):
        text = (await api.get(url(cp_id, path))).get_data(as_text=True)
        assert generated not in text and KEY not in text
    # nothing in Redis holds the key in clear
    for key in store.redis.scan_iter(match=f"{store.keys.prefix}*{cp_id}*"):
        kind = store.redis.type(key)
        if kind == "hash":
            assert generated not in str(store.redis.hgetall(key))


@pytest.mark.parametrize(
    "key", ["short", "x" * 41, "with space in the key!", "ключ-ключ-ключ-ключ", 12345678901234567]
)
async def test_invalid_keys_are_400(api, stack, cp_id, key):
    ok(await api.put(url(cp_id), json=PROFILE_1), 201)
    errors = data_of_400(
        await api.put(url(cp_id, "/credentials"), json={"authorizationKey": key}), "invalid request body"
    )
    assert "authorizationKey" in errors


async def test_the_authorization_key_is_not_configuration(api, chargers, cp_id):
    """Not stored as a configuration value, and not sent to a charger unless we can keep it."""
    await chargers.connect(cp_id)
    body = {"key": "AuthorizationKey", "value": KEY}
    data_of_400(
        await api.put(url(cp_id, "/configuration"), json=body),
        "AuthorizationKey: "
        "AuthorizationKey is write-only: set it through /api/v1/chargepoints/{id}/credentials",
    )
    short = {"key": "AuthorizationKey", "value": "short"}
    envelope_of(await api.put(url(cp_id, "/configuration/live"), json=short), 400)


async def test_rotation_through_the_connected_charger(api, store, chargers, cp_id):
    cp = await chargers.connect(cp_id)  # profile 0: connects without a key
    envelope_of(await api.post(url(cp_id, "/credentials/rotate"), json={}), 404)  # not registered
    ok(await api.put(url(cp_id), json={"securityProfile": 0}), 201)
    await set_key(api, cp_id, KEY)

    answer = ok(await api.post(url(cp_id, "/credentials/rotate"), json={"authorizationKey": NEW_KEY}))
    assert answer == {"status": "Accepted", "authorizationKey": None}  # not generated: not shown
    assert cp.configuration["AuthorizationKey"] == NEW_KEY
    # both keys are valid until the charger reconnects with the new one
    assert registrations.verify_key(store, store.keys, cp_id, KEY)
    assert "AuthorizationKey" not in store.redis.hgetall(store.keys.config(cp_id))

    generated = ok(await api.post(url(cp_id, "/credentials/rotate")))
    assert (
        generated["status"] == "Accepted"
        and cp.configuration["AuthorizationKey"] == generated["authorizationKey"]
    )
    # the CALL that carried the key is gone from the gateway's outbox
    gateway = chargepoints.registration(store, cp_id)["gateway"]
    outbox = store.redis.xrange(store.keys.gateway_outbox(gateway), "-", "+")
    assert not any(generated["authorizationKey"] in str(fields) for _, fields in outbox)

    envelope_of(await api.post(url(cp_id, "/credentials/rotate"), json={"authorizationKey": "short"}), 400)


async def test_rotation_of_an_offline_charger_is_503_with_the_key(api, stack, cp_id):
    ok(await api.put(url(cp_id), json={"securityProfile": 1}), 201)
    envelope_of(await api.post(url(cp_id, "/credentials/rotate")), 404)  # never connected
    chargepoints.touch(
        api.app.extensions["ocpp"].store.redis,
        api.app.extensions["ocpp"].store.keys,
        cp_id,
        "2026-01-01T00:00:00Z",
    )
    body = envelope_of(await api.post(url(cp_id, "/credentials/rotate")), 503)
    assert len(body["data"]["authorizationKey"]) >= 16


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_rotation_end_to_end_with_the_simulator(api, store, stack, cp_id, tmp_path):
    """A profile-1 charger (the simulator with --password) gets a new key through the
    API, reconnects with it, and from then on only the new key opens the door."""
    ok(await api.put(url(cp_id), json=PROFILE_1), 201)
    await set_key(api, cp_id, KEY)
    simulator = ManagedProcess(
        "simulator",
        [
            sys.executable,
            "-m",
            "ocpp_worker.simulate",
            "--id",
            cp_id,
            "--url",
            stack.ws_url,
            "--password",
            KEY,
        ],
        stack.env,
        tmp_path,
    )
    try:

        async def connection() -> str | None:
            registration = chargepoints.registration(store, cp_id)
            return registration["conn"] if registration else None

        first = await eventually(connection, timeout=15)
        assert first, simulator.output()
        answer = ok(await api.post(url(cp_id, "/credentials/rotate")))
        assert answer["status"] == "Accepted"

        async def reconnected() -> bool:
            return (await connection()) not in (None, first)

        assert await eventually(reconnected, timeout=15), simulator.output()
        kinds = [e.kind for e in registrations.events_page(store, store.keys, cp_id, 10)]
        assert GatewayEvent.AUTHORIZATION_KEY_ROTATED in kinds  # the gateway promoted the new key
        assert not registrations.verify_key(store, store.keys, cp_id, KEY)
        assert registrations.verify_key(store, store.keys, cp_id, answer["authorizationKey"])
        assert simulator.alive()
    finally:
        simulator.stop()


async def test_security_events_page_newest_first_with_counts(api, store, stack, cp_id):
    for n, kind in enumerate(["UnknownChargePoint", "InvalidBasicAuth", "InvalidBasicAuth", "SomethingNew"]):
        registrations.record_event(store, store.keys, cp_id, kind, f"event {n}", f"2026-01-01T00:00:0{n}Z")
        time.sleep(0.002)  # distinct stream ids
    first = ok(await api.get(url(cp_id, "/security-events?limit=3")))
    assert [e["detail"] for e in first["items"]] == ["event 3", "event 2", "event 1"]
    assert first["total"] == 4
    assert first["counts"] == {"UnknownChargePoint": 1, "InvalidBasicAuth": 2, "Other": 1}
    assert first["items"][0]["kind"] == "SomethingNew" and first["items"][0]["source"] == "gateway"
    rest = ok(await api.get(url(cp_id, f"/security-events?limit=3&before={first['items'][-1]['id']}")))
    assert [e["detail"] for e in rest["items"]] == ["event 0"]
    assert ok(await api.get(url(cp_id, "/security-events?before=0-0")))["items"] == []
    for bad in ("before=x", "before=1-99999999999999999999", "limit=0", "limit=501"):
        envelope_of(await api.get(url(cp_id, f"/security-events?{bad}")), 400)
    # an id nobody registered has events too (refused handshakes), or none
    assert ok(await api.get(url("never-seen-" + cp_id[-6:], "/security-events"))) == {
        "items": [],
        "total": 0,
        "counts": {},
    }


async def test_security_routes_need_the_token(stack, store, cp_id):
    from api import create_app
    from tests.api.conftest import Api

    guarded = Api(create_app(store=store, config={"API_TOKEN": "t0ken"}))
    for method, tail in [
        ("PUT", ""),
        ("DELETE", ""),
        ("PUT", "/credentials"),
        ("POST", "/credentials"),
        ("POST", "/credentials/rotate"),
        ("GET", "/security-events"),
    ]:
        response = await guarded.send(method, url(cp_id, tail), json={})
        assert response.status_code == 401, (method, tail)
    await asyncio.sleep(0)


async def test_a_key_the_charger_rejects_does_not_stay_valid(api, store, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    ok(await api.put(url(cp_id), json={"securityProfile": 0}), 201)
    await set_key(api, cp_id, KEY)

    def refuse(key: str, value: str, **kw: object) -> call_result.ChangeConfiguration:
        return call_result.ChangeConfiguration(status=ConfigurationStatus.rejected)

    cp.route_map["ChangeConfiguration"]["_on_action"] = refuse
    answer = ok(await api.post(url(cp_id, "/credentials/rotate"), json={"authorizationKey": NEW_KEY}))
    assert answer == {"status": "Rejected", "authorizationKey": None}
    assert not registrations.verify_key(store, store.keys, cp_id, NEW_KEY)  # withdrawn
    assert registrations.verify_key(store, store.keys, cp_id, KEY)  # the old key still works
