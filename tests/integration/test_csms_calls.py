"""CSMS-initiated calls through gateway and bridge, correlated by OCPP message id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest

from ocpp_worker import calls
from ocpp_worker.celery_app import app
from tests.support.chargers import raw_socket, recv_json


@contextlib.asynccontextmanager
async def booted(stack, cp_id):
    """A hand-driven charger socket, after its BootNotification was answered."""
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(
            json.dumps([2, "boot", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}])
        )
        await recv_json(ws)
        yield ws


def start_call(store, cp_id: str, action: str, payload: dict) -> asyncio.Task:
    """Our CALL, waiting in a thread as an API request would."""
    return asyncio.create_task(asyncio.to_thread(calls.call, store, app, cp_id, action, payload))


async def test_call_and_answer_cross_on_the_wire(stack, store, cp_id):
    """OCPP-J allows one outstanding CALL per direction: the charger may send its own
    CALL while ours is open, and both must complete."""
    async with booted(stack, cp_id) as ws:
        pending = start_call(store, cp_id, "Reset", {"type": "Soft"})
        ours = await recv_json(ws)
        assert ours[0] == 2 and ours[2] == "Reset" and ours[3] == {"type": "Soft"}
        await ws.send(json.dumps([2, "hb-while-open", "Heartbeat", {}]))
        assert (await recv_json(ws))[:2] == [3, "hb-while-open"]
        await ws.send(json.dumps([3, ours[1], {"status": "Accepted"}]))
        assert await pending == {"status": "Accepted"}


async def test_one_outstanding_call_per_charger(stack, store, cp_id):
    async with booted(stack, cp_id) as ws:
        first = start_call(store, cp_id, "ClearCache", {})
        second = start_call(store, cp_id, "Reset", {"type": "Hard"})
        one = await recv_json(ws)
        with pytest.raises(asyncio.TimeoutError):
            await recv_json(ws, timeout=0.5)  # the other waits until the first is answered
        reply = {"status": "Accepted"}
        await ws.send(json.dumps([3, one[1], reply]))
        other = await recv_json(ws)
        assert {one[2], other[2]} == {"ClearCache", "Reset"}
        await ws.send(json.dumps([3, other[1], {"status": "Rejected"}]))
        results = {one[2]: "Accepted", other[2]: "Rejected"}
        assert await first == {"status": results["ClearCache"]}
        assert await second == {"status": results["Reset"]}


async def test_callerror_answer_is_reported(stack, store, cp_id):
    async with booted(stack, cp_id) as ws:
        pending = start_call(store, cp_id, "ClearCache", {})
        ours = await recv_json(ws)
        await ws.send(json.dumps([4, ours[1], "InternalError", "disk full", {"free": 0}]))
        with pytest.raises(calls.CallRejected) as rejected:
            await pending
        assert (rejected.value.error_code, rejected.value.description, rejected.value.details) == (
            "InternalError",
            "disk full",
            {"free": 0},
        )


async def test_schema_breaking_answer_is_rejected(stack, store, cp_id):
    async with booted(stack, cp_id) as ws:
        pending = start_call(store, cp_id, "ClearCache", {})
        ours = await recv_json(ws)
        await ws.send(json.dumps([3, ours[1], {"status": "Maybe"}]))
        with pytest.raises(calls.CallRejected) as rejected:
            await pending
        assert rejected.value.error_code == "PropertyConstraintViolation"


async def test_disconnect_while_waiting_is_reported_at_once(stack, store, cp_id):
    async with booted(stack, cp_id) as ws:
        pending = start_call(store, cp_id, "ClearCache", {})
        await recv_json(ws)
        started = time.monotonic()
    with pytest.raises(calls.ChargePointOffline):
        await pending
    assert time.monotonic() - started < 2


async def test_get_and_change_configuration_keep_store_in_step(chargers, store, cp_id):
    cp = await chargers.connect(cp_id)
    answer = await asyncio.to_thread(
        calls.call,
        store,
        app,
        cp_id,
        "ChangeConfiguration",
        {"key": "MeterValueSampleInterval", "value": "15"},
    )
    assert answer == {"status": "Accepted"}
    assert cp.configuration["MeterValueSampleInterval"] == "15"
    assert store.redis.hget(store.keys.config(cp_id), "MeterValueSampleInterval") == "15"
    cp.configuration["HeartbeatInterval"] = "120"
    await asyncio.to_thread(calls.call, store, app, cp_id, "GetConfiguration", {})
    assert store.redis.hget(store.keys.config(cp_id), "HeartbeatInterval") == "120"


async def test_broken_answer_to_our_call_fails_fast_and_is_not_answered(stack, store, cp_id):
    async with booted(stack, cp_id) as ws:
        pending = start_call(store, cp_id, "ClearCache", {})
        ours = await recv_json(ws)
        started = time.monotonic()
        await ws.send(json.dumps([3, ours[1]]))  # no payload
        with pytest.raises(calls.CallRejected) as rejected:
            await pending
        assert rejected.value.error_code == "FormationViolation"
        assert time.monotonic() - started < 2
        with pytest.raises(asyncio.TimeoutError):
            await recv_json(ws, timeout=0.5)  # OCPP-J never answers an answer
