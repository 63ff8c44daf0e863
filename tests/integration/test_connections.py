"""The gateway's handling of connections and of frames that are not what OCPP-J allows."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets
from ocpp.v16 import call
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.chargers import raw_socket, recv_json
from tests.support.stack import Stack


async def closed_with(ws, timeout: float = 10) -> int:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return ws.close_code


async def test_registry_tracks_connect_and_disconnect(chargers, store, stack, cp_id):
    await chargers.connect(cp_id)
    registration = store.redis.hgetall(store.keys.client(cp_id))
    assert registration["gateway"] and registration["remote"] == "127.0.0.1"
    assert registration["connectedAt"].endswith("Z")
    assert 0 < store.redis.ttl(store.keys.client(cp_id)) <= 30
    assert store.redis.zscore(store.keys.clients, cp_id) is not None
    await chargers.close_all()
    deadline = time.monotonic() + 2
    while store.redis.exists(store.keys.client(cp_id)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not store.redis.exists(store.keys.client(cp_id))
    assert store.redis.zscore(store.keys.clients, cp_id) is None


async def test_handshake_without_ocpp16_subprotocol_is_refused(stack, cp_id):
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(f"{stack.ws_url}/{cp_id}")
    assert refused.value.response.status_code == 400


async def test_path_outside_ocpp_is_refused(stack):
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(f"ws://127.0.0.1:{stack.ws_port}/other/CP1", subprotocols=["ocpp1.6"])
    assert refused.value.response.status_code == 404


async def test_identity_is_url_decoded(chargers, store, cp_id):
    await chargers.connect(f"{cp_id}%3AA")
    assert store.redis.exists(store.keys.client(f"{cp_id}:A"))


async def test_reconnect_with_same_identity_replaces_old_socket(chargers, store, stack, cp_id):
    async with raw_socket(stack.ws_url, cp_id) as old:
        await old.send(json.dumps([2, "m1", "Heartbeat", {}]))
        assert (await recv_json(old))[0] == 3
        first_conn = store.redis.hget(store.keys.client(cp_id), "conn")
        new = await chargers.connect(cp_id)
        assert await closed_with(old) == 1000
        assert store.redis.hget(store.keys.client(cp_id), "conn") != first_conn
        await asyncio.sleep(0.2)  # the old socket's cleanup must not remove the new registration
        assert store.redis.exists(store.keys.client(cp_id))
        assert (await new.call(call.Heartbeat())).current_time


MALFORMED_WITH_ID = [
    # (frame, expected CALLERROR code)
    ([2, "e1", "NoSuchAction", {}], "NotImplemented"),
    ([2, "e2", "RemoteStartTransaction", {"idTag": "x"}], "NotSupported"),
    ([2, "e3", "BootNotification", {"chargePointVendor": "V"}], "OccurenceConstraintViolation"),
    (
        [2, "e4", "BootNotification", {"chargePointVendor": 1, "chargePointModel": "M"}],
        "TypeConstraintViolation",
    ),
    (
        [2, "e5", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}],
        "PropertyConstraintViolation",
    ),
    (
        [2, "e6", "BootNotification", {"chargePointVendor": "V" * 21, "chargePointModel": "M"}],
        "PropertyConstraintViolation",
    ),
    ([2, "e7", "Heartbeat", {"unexpected": True}], "FormationViolation"),
    ([2, "e8", "Heartbeat", []], "FormationViolation"),
    ([2, "e9", "Heartbeat"], "ProtocolError"),
    ([7, "e10", "Heartbeat", {}], "ProtocolError"),
    ([2, "e11", 5, {}], "FormationViolation"),
]


@pytest.mark.parametrize(("frame", "code"), MALFORMED_WITH_ID, ids=[f[0][1] for f in MALFORMED_WITH_ID])
async def test_bad_frame_with_readable_id_gets_callerror_and_connection_stays(stack, cp_id, frame, code):
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(json.dumps(frame))
        reply = await recv_json(ws)
        assert reply[:3] == [4, frame[1], code]
        assert isinstance(reply[3], str) and isinstance(reply[4], dict)
        await ws.send(json.dumps([2, "after", "Heartbeat", {}]))
        assert (await recv_json(ws))[:2] == [3, "after"]


@pytest.mark.parametrize(
    ("text", "close_code"),
    [
        ("this is not json", 1007),
        ("[" * 50_000 + "]" * 50_000, 1007),
        ('[2, 17, "Heartbeat", {}]', 1002),
        ('{"not": "an array"}', 1002),
        ("[]", 1002),
        ("x" * (128 * 1024 + 1), 1009),
    ],
    ids=["not-json", "too-deep", "numeric-id", "object", "empty-array", "oversize"],
)
async def test_unreadable_frame_closes_connection(stack, cp_id, text, close_code):
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(text)
        assert await closed_with(ws) == close_code


async def test_binary_frame_closes_with_1003(stack, cp_id):
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(b'[2,"b1","Heartbeat",{}]')
        assert await closed_with(ws) == 1003


async def test_stray_answers_are_ignored(stack, cp_id):
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(json.dumps([3, "nobody-asked", {}]))
        await ws.send(json.dumps([4, "nobody-asked-2", "GenericError", "", {}]))
        await ws.send(json.dumps([2, "still-here", "Heartbeat", {}]))
        assert (await recv_json(ws))[:2] == [3, "still-here"]


async def test_other_chargers_unaffected_by_bad_frames(chargers, stack, cp_id):
    good = await chargers.connect(f"{cp_id}-good")
    async with raw_socket(stack.ws_url, f"{cp_id}-bad") as bad:
        await bad.send("garbage")
        await bad.send(json.dumps([2, "x", "Nope", {}]))
        assert (await good.call(call.Heartbeat())).current_time
        await closed_with(bad)
    assert (await good.call(call.Heartbeat())).current_time


async def test_redelivered_call_gets_the_same_reply(stack, store, cp_id):
    """A charger that retries a CALL with the same id (or a Celery redelivery) must
    not start a second transaction."""
    frame = json.dumps(
        [
            2,
            "start-1",
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"},
        ]
    )
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(frame)
        first = await recv_json(ws)
        await ws.send(frame)
        second = await recv_json(ws)
    assert first == second
    assert store.redis.zcard(store.keys.transactions_of(cp_id)) == 1


async def test_reconnect_through_another_gateway_closes_the_old_socket(stack, store, cp_id, tmp_path):
    other = Stack(stack.prefix, tmp_path)
    try:
        other.start_gateway()
        async with raw_socket(stack.ws_url, cp_id) as old:
            await old.send(json.dumps([2, "m1", "Heartbeat", {}]))
            await recv_json(old)
            first_gateway = store.redis.hget(store.keys.client(cp_id), "gateway")
            async with raw_socket(other.ws_url, cp_id) as new:
                assert await closed_with(old) == 1000
                assert store.redis.hget(store.keys.client(cp_id), "gateway") != first_gateway
                await new.send(json.dumps([2, "m2", "Heartbeat", {}]))
                assert (await recv_json(new))[:2] == [3, "m2"]
    finally:
        other.stop()


async def test_an_answer_meant_for_an_older_connection_is_not_sent(stack, store, cp_id):
    """A charger that reconnected resends its unanswered CALLs; the answers its old
    connection's frames get later must not reach the new one as extra frames."""
    from ocpp_worker import transport

    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(json.dumps([2, "m1", "Heartbeat", {}]))
        await recv_json(ws)
        gateway = store.redis.hget(store.keys.client(cp_id), "gateway")
        stale = transport.Send(cp_id, json.dumps([3, "old", {}]), conn="an-older-connection")
        transport.to_gateway(store.redis, store.keys, gateway, stale)
        current = transport.Send(cp_id, json.dumps([3, "new", {}]), conn="")
        transport.to_gateway(store.redis, store.keys, gateway, current)
        assert (await recv_json(ws))[1] == "new"
