"""Liveness end to end: real celery beat processes (two, as if started by mistake) and a
real worker, intervals shortened; a silent charger turns stale in the API, a dead
gateway's registration is dropped."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from typing import Any

import pytest

from api import create_app
from tests.api.conftest import Api, ok
from tests.support.chargers import raw_socket, recv_json
from tests.support.stack import private_stack

BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}
BEAT = [sys.executable, "-m", "celery", "-A", "ocpp_worker", "beat", "--loglevel", "INFO"]


def moment(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_silent_charger_turns_stale_and_a_dead_gateway_is_dropped(tmp_path, cp_id):
    env = {"OCPP_LIVENESS_INTERVAL_S": "0.5", "OCPP_STALE_FACTOR": "2"}
    with private_stack(tmp_path, env) as (stack, store):
        for name in ("beat", "beat2"):
            stack.start(name, [*BEAT, "--pidfile", str(tmp_path / f"{name}.pid")])
        api = Api(create_app(store=store, config={"API_TOKEN": None}))
        keys = store.keys
        store.redis.hset(keys.config(cp_id), "HeartbeatInterval", "1")  # stale after 2 s of silence
        dead_ms = int(time.time() * 1000) - 1000  # a gateway that stopped refreshing a second ago
        store.redis.zadd(keys.gateways, {"dead-gateway": dead_ms})
        store.redis.xadd(keys.gateway_outbox("dead-gateway"), {"op": "send", "cp": "x", "frame": "[]"})

        async def listed() -> dict[str, Any] | None:
            items = ok(await api.get("/api/v1/chargepoints?limit=500"))["items"]
            return next((item for item in items if item["id"] == cp_id), None)

        async with raw_socket(stack.ws_url, cp_id) as ws:
            await ws.send(json.dumps([2, "boot", "BootNotification", BOOT]))
            answer = await recv_json(ws, timeout=15)
            assert answer[2]["status"] == "Accepted" and answer[2]["interval"] == 1
            fresh = await until(listed, 10, "the charger in the list")
            assert fresh["connected"] and not fresh["stale"] and fresh["lastSeen"]

            async def stale() -> dict[str, Any] | None:
                item = await listed()
                return item if item and item["stale"] else None

            went_stale = await until(stale, 15, "the silent charger to turn stale")
            assert went_stale["connected"]  # its socket is open: only silent
            assert went_stale["lastSeen"] == fresh["lastSeen"]
            silence = moment(went_stale["staleSince"]) - moment(fresh["lastSeen"])
            assert abs(silence - 2.0) < 0.002  # 2 x its HeartbeatInterval of 1 s (to the ms)
            one = ok(await api.get(f"/api/v1/chargepoints/{cp_id}"))
            assert one["stale"] and one["staleSince"] == went_stale["staleSince"]

            await ws.send(json.dumps([2, "hb", "Heartbeat", {}]))
            assert (await recv_json(ws, timeout=15))[:2] == [3, "hb"]

            async def spoke() -> dict[str, Any] | None:
                item = await listed()
                return item if item and not item["stale"] else None

            again = await until(spoke, 5, "the charger to be fresh after its Heartbeat")
            assert again["lastSeen"] > fresh["lastSeen"] and again["staleSince"] is None

        async def pruned() -> bool:
            return store.redis.zscore(keys.gateways, "dead-gateway") is None

        await until(pruned, 10, "the dead gateway to be dropped")
        assert not store.redis.exists(keys.gateway_outbox("dead-gateway"))
        assert store.redis.zrangebyscore(keys.gateways, "-inf", "+inf")  # the living gateway stays
        for name in ("beat", "beat2"):
            assert stack.processes[name].alive(), stack.processes[name].output()[-2000:]
