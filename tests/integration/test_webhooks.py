"""Webhooks end to end with real processes: gateway, bridge, an OCPP worker, a worker
on the ``ocpp.webhooks`` queue and celery beat (its kick every second); a real charger
session; a real HTTP receiver that verifies each signature."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from api import create_app
from ocpp_worker import webhooks
from ocpp_worker.state.store import Store
from tests.api.conftest import Api, ok
from tests.support.chargers import ChargerFactory
from tests.support.receiver import Receiver, receiver
from tests.support.stack import Stack, private_stack

pytestmark = pytest.mark.slow

SESSION = [
    "chargepoint.connected",
    "chargepoint.booted",
    "connector.status_changed",  # 0 Available
    "connector.status_changed",  # 1 Available
    "connector.status_changed",  # 1 Preparing
    "transaction.started",
    "connector.status_changed",  # 1 Charging
    "transaction.stopped",
    "connector.status_changed",  # 1 Finishing
    "connector.status_changed",  # 1 Available
]


@pytest.fixture(scope="module")
def delivering(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Store, Api]]:
    env = {"OCPP_WEBHOOKS_ALLOW_PRIVATE": "1", "OCPP_WEBHOOK_BACKOFF_S": "0.5"}
    with private_stack(tmp_path_factory.mktemp("webhooks"), env) as (stack, store):
        stack.start_worker("hooks", queues=webhooks.QUEUE)
        beat = stack.start(
            "beat", [sys.executable, "-m", "celery", "-A", "ocpp_worker", "beat", "--loglevel", "INFO"]
        )
        stack.wait_for(lambda: "beat: Starting" in beat.output(), "beat started", beat)
        # the API on the stack's prefix, with the same settings as its processes
        api_store = Store(store.redis, dataclasses.replace(store.settings, webhooks_allow_private=True))
        yield stack, store, Api(create_app(store=api_store, config={"API_TOKEN": None}))


def verified(r: Receiver, secret: str) -> list[dict[str, Any]]:
    """The events the receiver got, each with a valid signature (else the test fails)."""
    for got in list(r.received):
        assert webhooks.verify(secret, got.headers["X-OCPP-Signature"], got.body, time.time()), got
        assert got.headers["X-OCPP-Event-Id"] == got.event["id"]
    return r.events()


async def until(check: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return found


async def test_a_charging_session_arrives_signed_and_in_order(delivering, cp_id):
    stack, _, api = delivering
    with receiver() as r:
        created = ok(await api.post("/api/v1/webhooks", json={"url": r.url, "types": ["*"]}), 201)
        secret = created["secret"]
        factory = ChargerFactory(stack.ws_url)
        try:
            cp = await factory.connect(cp_id, connectors=1)  # boot, status 0 and 1
            tx_id = await cp.start_session(1, "WEBHOOK-TAG")
            await cp.stop_session(1, reason="EVDisconnected")
            got = await until(lambda: len(r.received) >= len(SESSION) and verified(r, secret))
        finally:
            await factory.close_all()
        mine = [e for e in got if e["chargerId"] == cp_id]
        assert [e["type"] for e in mine] == SESSION
        assert [e["id"] for e in got] == sorted(e["id"] for e in got)  # stream order
        stopped = mine[SESSION.index("transaction.stopped")]["data"]
        assert stopped["transactionId"] == tx_id and stopped["stopReason"] == "EVDisconnected"
        assert stopped["energyWh"] == stopped["meterStop"] - stopped["meterStart"]
        statuses = [e["data"]["status"] for e in mine if e["type"] == "connector.status_changed"]
        assert statuses == ["Available", "Available", "Preparing", "Charging", "Finishing", "Available"]
        log = ok(await api.get(f"/api/v1/webhooks/{created['id']}/deliveries?limit=100"))["items"]
        assert {(d["status"], d["attempts"], d["statusCode"]) for d in log} == {("delivered", 1, 200)}
        assert (await api.delete(f"/api/v1/webhooks/{created['id']}")).status_code == 204


async def test_a_receiver_answering_500_twice_gets_the_event_on_the_third_attempt(delivering, cp_id):
    stack, _, api = delivering
    with receiver() as r:
        r.statuses = [500, 500]
        created = ok(
            await api.post("/api/v1/webhooks", json={"url": r.url, "types": ["chargepoint.booted"]}), 201
        )
        factory = ChargerFactory(stack.ws_url)
        try:
            await factory.connect(cp_id, connectors=1)
            got = await until(lambda: len(r.received) >= 3 and verified(r, created["secret"]))
        finally:
            await factory.close_all()
        assert [e["type"] for e in got] == ["chargepoint.booted"] * 3
        assert len({e["id"] for e in got}) == 1  # the same event, three times
        gaps = [b.at - a.at for a, b in zip(r.received, r.received[1:], strict=False)]
        assert gaps[0] >= 0.45 and gaps[1] >= 0.95  # 0.5 s, then doubled

        def delivered() -> list[dict[str, Any]] | None:
            items = ok(api.request("GET", f"/api/v1/webhooks/{created['id']}/deliveries"))["items"]
            return items if items and items[0]["status"] == "delivered" else None

        log = await until(delivered)
        assert [(d["status"], d["attempts"], d["statusCode"]) for d in log] == [("delivered", 3, 200)]
        assert (await api.delete(f"/api/v1/webhooks/{created['id']}")).status_code == 204


async def test_a_slow_receiver_never_slows_the_chargers(delivering, cp_id):
    """The receiver takes 3 s per event; the charger's CALLs are answered at once all
    the same (the deliveries run on the ocpp.webhooks worker, not the OCPP one)."""
    stack, _, api = delivering
    with receiver() as r:
        r.delay_s = 3.0
        created = ok(await api.post("/api/v1/webhooks", json={"url": r.url, "types": ["*"]}), 201)
        factory = ChargerFactory(stack.ws_url)
        try:
            cp = await factory.connect(cp_id, connectors=1)
            await until(lambda: r.received)  # a delivery is under way, held by the receiver
            started = time.monotonic()
            for _ in range(3):
                await cp.start_session(1, "SLOW-TAG")
                await cp.stop_session(1)
            assert time.monotonic() - started < 3.0  # 24 CALLs, while one event takes 3 s
        finally:
            await factory.close_all()
        assert (await api.delete(f"/api/v1/webhooks/{created['id']}")).status_code == 204
