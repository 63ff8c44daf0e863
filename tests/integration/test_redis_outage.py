"""Redis goes away and comes back empty: no process dies, and chargers are served again."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from ocpp.v16 import call
from websockets.exceptions import ConnectionClosed

from ocpp_worker.config import Settings
from ocpp_worker.state.store import Store
from tests.support.chargers import ChargerFactory
from tests.support.stack import ManagedProcess, Stack, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs a redis-server binary"),
]


def start_redis(port: int, log_dir: Path) -> ManagedProcess:
    redis = ManagedProcess(
        f"redis-{port}",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        {},
        log_dir,
    )
    deadline = time.monotonic() + 10
    while (
        subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG"
    ):
        assert time.monotonic() < deadline, redis.output()
        time.sleep(0.05)
    return redis


@pytest.mark.timeout(90)
async def test_every_process_survives_a_redis_restart(tmp_path):
    port = free_port()
    redis = start_redis(port, tmp_path)
    prefix = f"ocpptest-{uuid.uuid4().hex[:8]}:"
    stack = Stack(
        prefix, tmp_path, extra_env={"REDIS_ADDR": f"127.0.0.1:{port}", "OCPP_GATEWAY_REFRESH_S": "1"}
    )
    chargers = ChargerFactory(stack.ws_url)
    try:
        stack.start_gateway()
        stack.start_bridge()
        stack.start_worker("w1")
        before = await chargers.connect("outage-1")
        assert (await before.call(call.Heartbeat())).current_time

        redis.stop()
        await asyncio.sleep(3)
        redis = start_redis(port, tmp_path)

        # Service resumes: a charger (re)connecting is answered again within seconds.
        deadline = time.monotonic() + 30
        while True:
            try:
                after = await chargers.connect(f"outage-{uuid.uuid4().hex[:4]}", timeout=5)
                assert (await after.call(call.Heartbeat())).current_time
                break
            except (OSError, TimeoutError, ConnectionClosed) as exc:
                assert time.monotonic() < deadline, f"not served after the restart: {exc!r}"
                await asyncio.sleep(0.5)
        # The charger that stayed connected through it is registered again and served.
        store = Store.connect(Settings(redis_addr=f"127.0.0.1:{port}", key_prefix=prefix))
        deadline = time.monotonic() + 5
        while not store.redis.exists(store.keys.client("outage-1")):
            assert time.monotonic() < deadline, "the connected charger was not registered again"
            await asyncio.sleep(0.1)
        assert (await before.call(call.Heartbeat())).current_time
        dead = [name for name, process in stack.processes.items() if not process.alive()]
        assert not dead, {name: stack.processes[name].output()[-2000:] for name in dead}
    finally:
        await chargers.close_all()
        stack.stop()
        redis.stop()
