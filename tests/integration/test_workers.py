"""Real `celery worker` and bridge subprocesses: load sharing, surviving a SIGKILL.

These tests run their own stack (gateway, bridge, two workers) on a key prefix of
their own, so the session's in-process worker does not take their tasks.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from ocpp.v16 import call

from tests.support.chargers import ChargerFactory
from tests.support.slow_vendor import runs_of, worker_running
from tests.support.stack import private_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def worker_stack(tmp_path_factory: pytest.TempPathFactory):
    env = {
        "OCPP_EXTRA_IMPORTS": "tests.support.slow_vendor",
        "OCPP_TASK_VISIBILITY_TIMEOUT": "5",
        "OCPP_WORKER_PREFETCH": "1",
        "OCPP_BRIDGE_CLAIM_IDLE_MS": "1000",
    }
    with private_stack(
        Path(tmp_path_factory.mktemp("workers")), env, workers=("w1", "w2")
    ) as stack_and_store:
        yield stack_and_store


@pytest.fixture
async def worker_chargers(worker_stack):
    factory = ChargerFactory(worker_stack[0].ws_url)
    yield factory
    await factory.close_all()


@pytest.mark.timeout(60)
async def test_two_workers_share_the_load(worker_stack, worker_chargers):
    stack, _ = worker_stack
    fleet = await asyncio.gather(*(worker_chargers.connect(f"share-{i}", connectors=1) for i in range(4)))
    started = time.monotonic()
    replies = await asyncio.gather(
        *(
            cp.call(call.DataTransfer(vendor_id="test.slow", message_id=f"share-{i}", data="1.5"))
            for i, cp in enumerate(fleet)
        )
    )
    elapsed = time.monotonic() - started
    workers = {reply.data for reply in replies}
    assert all(reply.status == "Accepted" for reply in replies)
    assert workers == {str(stack.processes["w1"].pid), str(stack.processes["w2"].pid)}
    # four 1.5 s tasks on two single-process workers: two rounds, not four
    assert elapsed < 5.5, elapsed


@pytest.mark.timeout(60)
async def test_worker_killed_mid_task_loses_nothing(worker_stack, worker_chargers):
    stack, store = worker_stack
    cp = await worker_chargers.connect("kill-1", connectors=1, timeout=40)
    message_id = f"kill-{uuid.uuid4().hex[:6]}"
    reply_task = asyncio.create_task(
        cp.call(call.DataTransfer(vendor_id="test.slow", message_id=message_id, data="3"))
    )
    victim = await worker_running(store, message_id)
    assert victim is not None, "no worker started the task"
    killed = next(p for p in stack.processes.values() if str(p.pid) == victim)
    killed.kill()  # SIGKILL to the worker and its pool: no chance to ack or reject
    survivor = next(p for name, p in stack.processes.items() if name in {"w1", "w2"} and p is not killed)

    reply = await asyncio.wait_for(reply_task, 35)
    assert reply.status == "Accepted"
    assert reply.data == str(survivor.pid)
    runs = runs_of(store, message_id)
    assert runs == [f"{message_id}:{victim}", f"{message_id}:{survivor.pid}"]


@pytest.mark.timeout(60)
async def test_frames_left_by_a_dead_bridge_are_reclaimed(worker_stack, worker_chargers):
    stack, store = worker_stack
    cp = await worker_chargers.connect("reclaim-1", connectors=1, timeout=40)
    bridge = stack.processes["bridge"]
    bridge.kill()
    bridge.proc.wait(5)

    heartbeat = asyncio.create_task(cp.call(call.Heartbeat()))
    # Play a bridge that read the frame and died before acknowledging it.
    taken = []
    deadline = time.monotonic() + 5
    while not taken and time.monotonic() < deadline:
        reply = store.redis.xreadgroup("bridges", "bridge-that-died", {store.keys.inbound: ">"}, count=10)
        taken = reply[0][1] if reply else []
        await asyncio.sleep(0.05)
    assert any('"Heartbeat"' in fields["frame"] for _, fields in taken)
    assert not heartbeat.done()

    stack.start_bridge("bridge2")
    assert (await asyncio.wait_for(heartbeat, 20)).current_time
    # whatever the killed bridge itself held is taken over too, within a claim round
    deadline = time.monotonic() + 5
    while store.redis.xpending(store.keys.inbound, "bridges")["pending"] and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert store.redis.xpending(store.keys.inbound, "bridges")["pending"] == 0
