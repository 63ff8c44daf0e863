"""Workers under broker faults: Redis restarted under load, a worker killed mid-task.

Real processes only: our own redis-server with an append-only file (restarted on the
same port and directory, so queued messages survive as in production), the gateway,
the bridge, prefork `celery worker`s, and chargers that are the `ocpp` package's
ChargePoint over WebSockets.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websockets
from kombu import Connection, Consumer, Exchange, Producer, Queue
from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus

from ocpp_worker.config import Settings
from ocpp_worker.simulate import SimulatedChargePoint, now
from ocpp_worker.state.store import Store
from tests.conftest import delete_prefix
from tests.support.redis_server import RedisServer
from tests.support.slow_vendor import runs_of, worker_running
from tests.support.stack import Stack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs a redis-server binary"),
]

CHARGERS = 24
RESTARTS = 3
CALL_TIMEOUT = 25.0  # a charger's wait for an answer; a lost CALL shows up as a timeout


@pytest.fixture
def redis_server(tmp_path: Path):
    server = RedisServer(tmp_path / "redis-data", tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)


# -- chargers that keep calling through outages ---------------------------------------


@dataclass
class Tally:
    sent: dict[str, int] = field(default_factory=dict)  # message id -> times sent (resent after a reconnect)
    outcomes: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))
    answer_frames: collections.Counter[str] = field(default_factory=collections.Counter)
    reconnects: int = 0


def next_call(n: int) -> Any:
    kind = n % 3
    if kind == 0:
        return call.Heartbeat()
    if kind == 1:
        return call.StatusNotification(
            connector_id=1,
            error_code=ChargePointErrorCode.no_error,
            status=ChargePointStatus.available,
            timestamp=now(),
        )
    return call.MeterValues(
        connector_id=1,
        meter_value=[
            {
                "timestamp": now(),
                "sampledValue": [
                    {"value": str(n), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                ],
            }
        ],
    )


class LoadCharger:
    """Sends CALLs one at a time, as a real charger does; when its socket closes under
    a CALL (the gateway could not store the frame) it reconnects and sends the same
    message id again. Counts the answer frames it receives per message id."""

    def __init__(self, ws_url: str, cp_id: str, tally: Tally) -> None:
        self.url = f"{ws_url}/{cp_id}"
        self.cp_id = cp_id
        self.tally = tally
        self.cp: SimulatedChargePoint | None = None
        self.listener: asyncio.Task[Any] | None = None

    async def connect(self, boot: bool, give_up_at: float) -> None:
        while True:
            try:
                ws = await asyncio.wait_for(websockets.connect(self.url, subprotocols=["ocpp1.6"]), 5)  # type: ignore[list-item]
                break
            except (OSError, TimeoutError, websockets.InvalidStatus, websockets.InvalidHandshake):
                if time.monotonic() > give_up_at:
                    raise
                await asyncio.sleep(0.3)
        cp = SimulatedChargePoint(self.cp_id, ws, connectors=1, power_w=0, response_timeout=CALL_TIMEOUT)
        route = cp.route_message

        async def counting_route(raw: str) -> None:
            with contextlib.suppress(ValueError, IndexError, TypeError):
                message = json.loads(raw)
                if message[0] in (3, 4):
                    self.tally.answer_frames[message[1]] += 1
            await route(raw)

        cp.route_message = counting_route
        self.cp = cp
        self.listener = asyncio.create_task(cp.start())
        self.listener.add_done_callback(lambda t: t.cancelled() or t.exception())
        if boot:
            await cp.boot()

    async def close(self) -> None:
        if self.listener is not None:
            self.listener.cancel()
        if self.cp is not None:
            with contextlib.suppress(Exception):
                await self.cp._connection.close()

    async def run(self, stop: asyncio.Event, pause: float) -> None:
        n = 0
        pending: tuple[str, Any] | None = None
        while not stop.is_set() or pending is not None:
            if pending is None:
                n += 1
                pending = (f"{self.cp_id}-{n}", next_call(n))
                self.tally.sent[pending[0]] = 0
            message_id, payload = pending
            self.tally.sent[message_id] += 1
            assert self.cp is not None and self.listener is not None
            sending = asyncio.create_task(self.cp.call(payload, suppress=False, unique_id=message_id))
            await asyncio.wait({sending, self.listener}, return_when=asyncio.FIRST_COMPLETED)
            if not sending.done() or isinstance(sending.exception(), websockets.ConnectionClosed):
                sending.cancel()  # the socket closed: a new connection, the same CALL again
                self.tally.reconnects += 1
                await self.close()
                await asyncio.sleep(0.2)  # a charger waits a little before reconnecting
                await self.connect(boot=False, give_up_at=time.monotonic() + 30)
                continue
            exc = sending.exception()
            if exc is None:
                self.tally.outcomes[message_id].append("result")
            elif isinstance(exc, OCPPError):
                self.tally.outcomes[message_id].append(f"CALLERROR {type(exc).__name__}")
            else:
                self.tally.outcomes[message_id].append(f"no answer: {exc!r}")
            pending = None
            await asyncio.sleep(pause)


@pytest.mark.timeout(120)
async def test_workers_survive_redis_restarts_under_load(redis_server: RedisServer, tmp_path: Path):
    prefix = f"ocpptest-{uuid.uuid4().hex[:8]}:"
    stack = Stack(
        prefix, tmp_path, extra_env={"REDIS_ADDR": redis_server.addr, "OCPP_GATEWAY_REFRESH_S": "1"}
    )
    tally = Tally()
    chargers = [LoadCharger(stack.ws_url, f"fault-{i}", tally) for i in range(CHARGERS)]
    stop = asyncio.Event()
    try:
        stack.start_gateway()
        stack.start_bridge()
        stack.start_worker("w1", concurrency=2)
        deadline = time.monotonic() + 30
        await asyncio.gather(*(c.connect(boot=True, give_up_at=deadline) for c in chargers))
        load = [asyncio.create_task(c.run(stop, pause=0.25)) for c in chargers]

        for _ in range(RESTARTS):
            await asyncio.sleep(4)
            sent_before = len(tally.sent)
            await asyncio.to_thread(redis_server.restart, 1.0)  # SIGTERM, 1 s down, start
            assert len(tally.sent) > sent_before, "no load while Redis went down"
        await asyncio.sleep(4)
        stop.set()
        # every CALL in flight gets its answer: at worst a message a worker held when
        # Redis went away comes back after the visibility timeout (10 s)
        await asyncio.wait_for(asyncio.gather(*load), CALL_TIMEOUT + 15)

        dead = {name: p.output()[-3000:] for name, p in stack.processes.items() if not p.alive()}
        assert not dead, dead
        assert "Unrecoverable error" not in stack.processes["w1"].output()

        assert len(tally.sent) > 300, len(tally.sent)
        once = {mid: outcomes for mid, outcomes in tally.outcomes.items() if outcomes == ["result"]}
        not_once = {mid: tally.outcomes.get(mid, []) for mid in tally.sent if mid not in once}
        assert not not_once, (
            f"{len(not_once)} of {len(tally.sent)} CALLs not answered exactly once: {not_once}"
        )
        # An answer frame per CALL. A CALL sent twice (its socket closed under it) may
        # get a second, late answer: the gateway could not tell whether its first
        # frame was stored, and a new frame with an answered message id is answered again.
        unanswered = [mid for mid in tally.sent if tally.answer_frames[mid] == 0]
        doubled = [mid for mid, times in tally.sent.items() if times == 1 and tally.answer_frames[mid] != 1]
        assert not unanswered and not doubled, (unanswered, doubled)
        print(
            f"{len(tally.sent)} CALLs from {CHARGERS} chargers through {RESTARTS} Redis restarts: "
            f"all answered once; {tally.reconnects} reconnects, "
            f"{sum(1 for t in tally.sent.values() if t > 1)} CALLs resent, "
            f"{sum(1 for m, t in tally.sent.items() if t > 1 and tally.answer_frames[m] > 1)} of them "
            "answered twice"
        )
    finally:
        stop.set()
        for c in chargers:
            await c.close()
        stack.stop()


# -- a killed worker's task comes back within 15 s --------------------------------------


@pytest.mark.timeout(90)
async def test_killed_worker_task_is_answered_within_15_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # the defaults of celeryconfig.py, whatever this shell says
    monkeypatch.delenv("OCPP_TASK_VISIBILITY_TIMEOUT", raising=False)
    monkeypatch.delenv("OCPP_WORKER_PREFETCH", raising=False)
    prefix = f"ocpptest-{uuid.uuid4().hex[:8]}:"
    stack = Stack(prefix, tmp_path, extra_env={"OCPP_EXTRA_IMPORTS": "tests.support.slow_vendor"})
    store = Store.connect(dataclasses.replace(Settings.from_env(), key_prefix=prefix))
    ws = None
    try:
        stack.start_gateway()
        stack.start_bridge()
        workers = [stack.start_worker("w1"), stack.start_worker("w2")]
        ws = await websockets.connect(f"{stack.ws_url}/kill-15", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        cp = SimulatedChargePoint("kill-15", ws, connectors=1, power_w=0, response_timeout=60)
        listener = asyncio.create_task(cp.start())
        await cp.boot()

        message_id = f"k15-{uuid.uuid4().hex[:6]}"
        answer = asyncio.create_task(
            cp.call(call.DataTransfer(vendor_id="test.slow", message_id=message_id, data="1"))
        )
        victim = await worker_running(store, message_id)
        assert victim is not None, "no worker started the task"
        killed = next(w for w in workers if str(w.pid) == victim)
        survivor = next(w for w in workers if w is not killed)
        killed.kill()  # SIGKILL to the worker and its pool: no ack, no reject
        killed_at = time.monotonic()

        reply = await asyncio.wait_for(answer, 30)
        took = time.monotonic() - killed_at
        assert reply.status == "Accepted"
        assert reply.data == str(survivor.pid)
        assert took < 15, f"answered {took:.1f} s after the kill"
        runs = runs_of(store, message_id)
        assert runs == [f"{message_id}:{victim}", f"{message_id}:{survivor.pid}"]
        print(f"answered {took:.1f} s after the worker running it was killed")
        listener.cancel()
    finally:
        if ws is not None:
            await ws.close()
        stack.stop()
        delete_prefix(store, prefix)


# -- the transport fix, deterministically --------------------------------------------------


@pytest.mark.timeout(60)
def test_consumer_closes_cleanly_when_redis_dies_under_its_brpop(redis_server: RedisServer):
    """What a worker's consumer does when it loses Redis, step by step: `collect()` then
    `close()` on a connection with a BRPOP on the wire, an unacknowledged message, and
    a second channel with a broadcast queue (the worker's remote control) whose close
    fails too. With kombu's own transport `close()` raises AttributeError ('NoneType'
    object has no attribute 'hostname') and the worker exits; with ours it closes, and
    the message comes back once Redis does."""
    import ocpp_worker.celery_app  # noqa: F401  (installs our transport for redis://)

    url = f"redis://{redis_server.addr}/0"
    options = {
        "visibility_timeout": 1,
        "unacked_restore_throttle": 1,
        "global_keyprefix": f"fault-{uuid.uuid4().hex[:6]}:",
    }
    queue = Queue("faults", Exchange("faults", type="direct"), routing_key="faults")
    with Connection(url, transport_options=options) as sender:
        Producer(sender.default_channel).publish(
            {"n": 1}, exchange=queue.exchange, routing_key="faults", declare=[queue]
        )

    conn = Connection(url, transport_options=options)
    assert type(conn.transport).__module__ == "ocpp_worker.redis_broker"
    got: list[Any] = []
    channel = conn.default_channel
    Consumer(
        channel, queues=[queue], callbacks=[lambda body, message: got.append(body)], accept=["json"]
    ).consume()
    conn.drain_events(timeout=5)
    assert got == [{"n": 1}]  # delivered, not acknowledged
    remote_control = Queue("faults.pidbox", Exchange("faults.pidbox", type="fanout"), auto_delete=True)
    Consumer(conn.channel(), queues=[remote_control], accept=["json"]).consume()
    channel._brpop_start(timeout=30)  # the next BRPOP is on the wire, as in the worker's loop
    redis_server.stop()

    with contextlib.suppress(Exception):
        conn.collect(socket_timeout=1)  # swallows everything, as Celery does
    conn.close()  # kombu's transport: AttributeError

    redis_server.start()
    with Connection(url, transport_options=options) as again:
        received: list[Any] = []
        consumer = Consumer(again.default_channel, queues=[queue], accept=["json"])
        consumer.register_callback(lambda body, message: (received.append(body), message.ack()))
        consumer.consume()
        deadline = time.monotonic() + 15
        while not received and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError, OSError):
                again.drain_events(timeout=1)
        assert received == [{"n": 1}]
