"""The handshake admission of the real gateway (docs/SECURITY.md): registration policy,
security profiles 1 and 2 over plain ws://, AuthorizationKey rotation. The charger is
the `ocpp` package's ChargePoint over websockets with an ``Authorization`` header; the
TLS profiles are tested with certificates in test_tls.py.

The session gateway runs open registration; a second gateway process on the same key
prefix (so the session's bridge and worker answer it) runs closed registration."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import ChargePoint, call
from websockets.exceptions import InvalidStatus

from ocpp_worker.state import registrations
from ocpp_worker.state.keys import charger_tag
from tests.support.chargers import basic, plain_charger
from tests.support.stack import Stack

KEY = "first-key-0123456789"
NEW_KEY = "second-key-9876543210"
WWW_AUTHENTICATE = 'Basic realm="OCPP", charset="UTF-8"'


@pytest.fixture(scope="module")
def closed_gateway(stack, tmp_path_factory) -> Stack:  # type: ignore[no-untyped-def]
    gateway = Stack(
        stack.prefix, Path(tmp_path_factory.mktemp("closed")), extra_env={"OCPP_REGISTRATION": "closed"}
    )
    try:
        gateway.start_gateway()
        yield gateway
    finally:
        gateway.stop()


async def boot(cp: ChargePoint):  # type: ignore[no-untyped-def]
    return await cp.call(call.BootNotification(charge_point_vendor="Test", charge_point_model="Admission"))


async def refused(url: str, cp_id: str, headers: dict[str, str] | None = None) -> websockets.Response:
    with pytest.raises(InvalidStatus) as caught:
        async with plain_charger(url, cp_id, headers):
            pass
    return caught.value.response


def charger_keys(store, cp_id: str) -> set[str]:  # type: ignore[no-untyped-def]
    tag = charger_tag(cp_id)
    return {key for key in store.redis.scan_iter(match=f"{store.keys.prefix}*", count=1000) if tag in key}


def event_kinds(store, cp_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [event.kind for event in registrations.events_page(store, store.keys, cp_id, 50)]


def not_registered(store, cp_id: str) -> bool:  # type: ignore[no-untyped-def]
    return (
        not store.redis.exists(store.keys.client(cp_id))
        and store.redis.zscore(store.keys.clients, cp_id) is None
    )


def register(store, cp_id: str, key: str | None = None, **fields) -> None:  # type: ignore[no-untyped-def]
    registrations.put(store, store.keys, cp_id, **fields)
    if key is not None:
        registrations.set_key(store, store.keys, cp_id, key)


# -- registration policy ----------------------------------------------------------------


async def test_closed_registration_refuses_an_unknown_id_before_any_frame(closed_gateway, store, cp_id):
    before = int(store.redis.hget(store.keys.refusals, "UnknownChargePoint") or 0)
    response = await refused(closed_gateway.ws_url, cp_id)
    assert response.status_code == 404
    # nothing but the security event: no registration, no charger record, no config
    assert charger_keys(store, cp_id) == {
        store.keys.security_events(cp_id),
        store.keys.security_event_counts(cp_id),
    }
    assert event_kinds(store, cp_id) == ["UnknownChargePoint"]
    assert 0 < store.redis.ttl(store.keys.security_events(cp_id)) <= registrations.UNREGISTERED_EVENTS_TTL_S
    assert int(store.redis.hget(store.keys.refusals, "UnknownChargePoint")) == before + 1
    assert not store.redis.zscore(store.keys.chargepoints, cp_id)


async def test_closed_registration_refuses_a_disabled_charger_and_admits_an_enabled_one(
    closed_gateway, store, cp_id
):
    register(store, cp_id, enabled=False)
    assert (await refused(closed_gateway.ws_url, cp_id)).status_code == 403
    assert event_kinds(store, cp_id) == ["DisabledChargePoint"]
    assert not_registered(store, cp_id)
    assert store.redis.ttl(store.keys.security_events(cp_id)) == -1  # a registered charger's: kept
    register(store, cp_id, enabled=True)
    async with plain_charger(closed_gateway.ws_url, cp_id) as cp:
        assert (await boot(cp)).status == "Accepted"


async def test_open_registration_still_refuses_a_disabled_charger(stack, store, cp_id):
    register(store, cp_id, enabled=False)
    assert (await refused(stack.ws_url, cp_id)).status_code == 403
    assert event_kinds(store, cp_id) == ["DisabledChargePoint"]


async def test_invalid_ids_are_counted_without_an_event(stack, store):
    before = int(store.redis.hget(store.keys.refusals, "InvalidChargePointId") or 0)
    assert (await refused(stack.ws_url, "a%0Ab")).status_code == 400
    assert int(store.redis.hget(store.keys.refusals, "InvalidChargePointId")) == before + 1
    assert charger_keys(store, "a\nb") == set()


async def test_a_pending_registration_boots_pending_and_does_not_count_as_booted(stack, store, cp_id):
    register(store, cp_id, boot_status="Pending")
    async with plain_charger(stack.ws_url, cp_id) as cp:
        reply = await boot(cp)
        assert (reply.status, reply.interval) == ("Pending", 30)
        assert store.redis.hget(store.keys.chargepoint(cp_id), "registrationStatus") == "Pending"
        register(store, cp_id, boot_status="Accepted")
        assert (await boot(cp)).status == "Accepted"


# -- profile 1: Basic auth on ws:// ---------------------------------------------------------


async def test_profile_1_right_key_connects_and_is_served(closed_gateway, store, cp_id):
    register(store, cp_id, KEY, security_profile=1)
    async with plain_charger(closed_gateway.ws_url, cp_id, basic(cp_id, KEY)) as cp:
        assert (await boot(cp)).status == "Accepted"
        assert store.redis.hget(store.keys.client(cp_id), "gateway")
    assert event_kinds(store, cp_id) == []


def _oversize(cp_id: str) -> dict[str, str]:
    return basic(cp_id, KEY + "x" * 600)


BAD_HEADERS = {
    "missing": (lambda cp_id: {}, "MissingBasicAuth"),
    "wrong key": (lambda cp_id: basic(cp_id, "wrong-key-0123456789"), "InvalidBasicAuth"),
    "another user": (lambda cp_id: basic("someone-else", KEY), "InvalidBasicAuth"),
    "bearer": (lambda cp_id: {"Authorization": f"Bearer {KEY}"}, "InvalidBasicAuth"),
    "bad base64": (lambda cp_id: {"Authorization": "Basic !!!not-base64!!!"}, "InvalidBasicAuth"),
    "no colon": (
        lambda cp_id: {"Authorization": "Basic " + base64.b64encode(cp_id.encode()).decode()},
        "InvalidBasicAuth",
    ),
    "not utf-8": (
        lambda cp_id: {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff" * 6).decode()},
        "InvalidBasicAuth",
    ),
    "oversize": (_oversize, "InvalidBasicAuth"),
    "empty": (lambda cp_id: {"Authorization": ""}, "InvalidBasicAuth"),
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
async def test_profile_1_without_the_right_key_gets_401_and_nothing_registered(
    closed_gateway, store, cp_id, case
):
    make_headers, kind = BAD_HEADERS[case]
    register(store, cp_id, KEY, security_profile=1)
    response = await refused(closed_gateway.ws_url, cp_id, make_headers(cp_id))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == WWW_AUTHENTICATE
    assert not_registered(store, cp_id)
    assert not store.redis.exists(store.keys.chargepoint(cp_id))
    assert event_kinds(store, cp_id) == [kind]
    assert KEY not in closed_gateway.processes["gateway"].output()


async def test_a_registered_charger_without_a_key_cannot_pass_profile_1(stack, store, cp_id):
    register(store, cp_id, security_profile=1)
    response = await refused(stack.ws_url, cp_id, basic(cp_id, KEY))
    assert response.status_code == 401
    assert not_registered(store, cp_id)


async def test_a_charger_id_with_a_colon_authenticates(stack, store, cp_id):
    odd = f"{cp_id}:a:b"
    register(store, odd, KEY, security_profile=1)
    async with plain_charger(stack.ws_url, odd, basic(odd, KEY)) as cp:
        assert (await boot(cp)).status == "Accepted"


# -- rotation ---------------------------------------------------------------------------


async def test_key_rotation_end_to_end(closed_gateway, store, cp_id):
    register(store, cp_id, KEY, security_profile=1)
    async with plain_charger(closed_gateway.ws_url, cp_id, basic(cp_id, KEY)) as cp:
        assert (await boot(cp)).status == "Accepted"
    # the charger Accepted ChangeConfiguration AuthorizationKey: both keys work ...
    registrations.stage_rotation(store, store.keys, cp_id, NEW_KEY)
    async with plain_charger(closed_gateway.ws_url, cp_id, basic(cp_id, KEY)) as cp:
        assert (await boot(cp)).status == "Accepted"
    # ... until it reconnects with the new one, which becomes the only key
    async with plain_charger(closed_gateway.ws_url, cp_id, basic(cp_id, NEW_KEY)) as cp:
        assert (await boot(cp)).status == "Accepted"
    response = await refused(closed_gateway.ws_url, cp_id, basic(cp_id, KEY))
    assert response.status_code == 401
    async with plain_charger(closed_gateway.ws_url, cp_id, basic(cp_id, NEW_KEY)) as cp:
        assert (await boot(cp)).status == "Accepted"
    assert event_kinds(store, cp_id) == ["InvalidBasicAuth", "AuthorizationKeyRotated"]


async def test_a_key_set_through_the_state_takes_effect_at_once(stack, store, cp_id):
    """The gateway remembers verified keys; a new key must still end the old one."""
    register(store, cp_id, KEY, security_profile=1)
    async with plain_charger(stack.ws_url, cp_id, basic(cp_id, KEY)) as cp:
        await boot(cp)
    registrations.set_key(store, store.keys, cp_id, NEW_KEY)
    assert (await refused(stack.ws_url, cp_id, basic(cp_id, KEY))).status_code == 401
    async with plain_charger(stack.ws_url, cp_id, basic(cp_id, NEW_KEY)) as cp:
        await boot(cp)


# -- profile 2 on plain ws:// ------------------------------------------------------------


@pytest.mark.parametrize("profile", [2, 3])
async def test_profiles_2_and_3_are_refused_on_plain_ws(closed_gateway, store, cp_id, profile):
    register(store, cp_id, KEY, security_profile=profile)
    response = await refused(closed_gateway.ws_url, cp_id, basic(cp_id, KEY))
    assert response.status_code == 403
    assert not_registered(store, cp_id)
    assert event_kinds(store, cp_id) == ["PlainConnectionRefused"]
