"""The OCPP message log after a real session through gateway, bridge and worker."""

from __future__ import annotations

import asyncio
import json
import time

from ocpp_worker import calls
from ocpp_worker.celery_app import app
from ocpp_worker.state import message_log
from tests.support.chargers import raw_socket, recv_json


async def logged(store, cp_id, n, timeout=10.0):
    """The newest `n` messages of a charger, oldest first, once there are `n`."""
    deadline = time.monotonic() + timeout
    while True:
        found = message_log.page(store, store.keys, cp_id, limit=n)
        if len(found) >= n or time.monotonic() > deadline:
            return list(reversed(found))
        await asyncio.sleep(0.05)


async def test_every_frame_in_and_out_is_logged_with_the_action_it_answers(stack, store, cp_id):
    boot = [2, "boot-1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(json.dumps(boot))
        assert (await recv_json(ws))[:2] == [3, "boot-1"]
        await ws.send(json.dumps([2, "hb-1", "Heartbeat", {}]))
        assert (await recv_json(ws))[:2] == [3, "hb-1"]
        pending = asyncio.create_task(
            asyncio.to_thread(calls.call, store, app, cp_id, "Reset", {"type": "Soft"})
        )
        ours = await recv_json(ws)
        await ws.send(json.dumps([3, ours[1], {"status": "Accepted"}]))
        assert await pending == {"status": "Accepted"}
        await ws.send("[2, not json")
    found = await logged(store, cp_id, 7)
    assert [(m.direction, m.message_type, m.message_id, m.action) for m in found] == [
        ("in", "CALL", "boot-1", "BootNotification"),
        ("out", "CALLRESULT", "boot-1", "BootNotification"),
        ("in", "CALL", "hb-1", "Heartbeat"),
        ("out", "CALLRESULT", "hb-1", "Heartbeat"),
        ("out", "CALL", ours[1], "Reset"),
        ("in", "CALLRESULT", ours[1], "Reset"),
        ("in", "", "", ""),
    ]
    assert json.loads(found[0].frame) == boot and found[-1].frame == "[2, not json"
    assert json.loads(found[1].frame)[2]["status"] == "Accepted"
    stamps = [m.at for m in found]
    assert stamps == sorted(stamps) and all(at.endswith("Z") for at in stamps)
    resets = message_log.page(store, store.keys, cp_id, action="Reset")
    assert [(m.direction, m.message_type) for m in resets] == [("in", "CALLRESULT"), ("out", "CALL")]
