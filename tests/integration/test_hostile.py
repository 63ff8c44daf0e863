"""Hostile chargers against the real gateway, bridge and workers: ids that aim at
other chargers' keys, foreign transactions, frames that would stop a worker, floods of
CALLs, sockets that never boot."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from ocpp_worker.state import dead_letters, transactions
from tests.support.chargers import ChargerFactory, raw_socket, recv_json
from tests.support.stack import private_stack


async def closed_with(ws, timeout: float = 5) -> int | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


HOSTILE_IDS = [
    "a%2Fb",  # a slash, once decoded
    "..",
    ".",
    "a%20b",
    "a%00b",
    "a%0Ab",  # a newline would forge log lines
    "a%25b",  # '%'
    "a%7Bb%7D",  # braces
    "caf%C3%A9",
    "x" * 49,
]


@pytest.mark.parametrize("path_id", HOSTILE_IDS)
async def test_hostile_ids_are_refused_at_the_handshake(stack, store, path_id):
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(f"{stack.ws_url}/{path_id}", subprotocols=["ocpp1.6"])
    assert refused.value.response.status_code == 400
    assert not store.redis.exists(store.keys.client(path_id))


async def test_ids_aimed_at_a_victims_keys_stay_in_their_own(chargers, store, cp_id):
    victim = await chargers.connect(cp_id)
    await victim.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
    before = {
        "cp": store.redis.hgetall(store.keys.chargepoint(cp_id)),
        "connector": store.redis.hgetall(store.keys.connector(cp_id, 1)),
        "connectors": store.redis.smembers(store.keys.connectors(cp_id)),
    }
    for suffix in (":connector:1", ":connectors", ":connector:1:meter", "*", "|x"):
        attacker = await chargers.connect(cp_id + suffix)  # legal ids: they connect and boot
        await attacker.call(
            call.StatusNotification(connector_id=1, error_code="OtherError", status="Faulted")
        )
    after = {
        "cp": store.redis.hgetall(store.keys.chargepoint(cp_id)),
        "connector": store.redis.hgetall(store.keys.connector(cp_id, 1)),
        "connectors": store.redis.smembers(store.keys.connectors(cp_id)),
    }
    assert after["connector"] == before["connector"] and after["connector"]["status"] == "Available"
    assert after["connectors"] == before["connectors"]
    assert after["cp"]["chargePointVendor"] == before["cp"]["chargePointVendor"]
    assert store.redis.hget(store.keys.connector(cp_id + ":connector:1", 1), "status") == "Faulted"


async def test_meter_values_for_another_chargers_transaction_are_not_stored_in_it(chargers, store, cp_id):
    victim = await chargers.connect(f"{cp_id}-v")
    started = await victim.call(
        call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-01-01T00:00:00Z")
    )
    tx_id = started.transaction_id
    async with raw_socket(chargers.ws_url, f"{cp_id}-a") as attacker:
        sample = {"timestamp": "2026-01-01T00:01:00Z", "sampledValue": [{"value": "99999"}]}
        payload = {"connectorId": 1, "transactionId": tx_id, "meterValue": [sample]}
        await attacker.send(json.dumps([2, "mv", "MeterValues", payload]))
        assert await recv_json(attacker) == [3, "mv", {}]
        stop = {"transactionId": tx_id, "meterStop": 1, "timestamp": "2026-01-01T00:02:00Z"}
        await attacker.send(json.dumps([2, "st", "StopTransaction", stop]))
        assert (await recv_json(attacker))[:2] == [3, "st"]
    assert transactions.sample_count(store, tx_id) == 0
    assert transactions.get(store, tx_id)["status"] == "active"
    foreign = [json.loads(e) for e in store.redis.lrange(store.keys.foreign_meter_values, 0, -1)]
    assert {"clientId": f"{cp_id}-a", "transactionId": tx_id, "owner": f"{cp_id}-v", "samples": 1} in foreign


async def test_same_meter_values_twice_back_to_back_is_stored_once(chargers, store, cp_id):
    cp = await chargers.connect(f"{cp_id}-m")
    started = await cp.call(
        call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp="2026-01-01T00:00:00Z")
    )
    async with raw_socket(chargers.ws_url, f"{cp_id}-m") as ws:
        for n in range(20):
            sample = {"timestamp": "2026-01-01T00:01:00Z", "sampledValue": [{"value": str(n)}]}
            frame = json.dumps(
                [
                    2,
                    f"dup-{n}",
                    "MeterValues",
                    {"connectorId": 1, "transactionId": started.transaction_id, "meterValue": [sample]},
                ]
            )
            await ws.send(frame)
            await ws.send(frame)
            first, second = await recv_json(ws), await recv_json(ws)
            assert first == second == [3, f"dup-{n}", {}]
    assert transactions.sample_count(store, started.transaction_id) == 20


async def test_too_many_pending_calls_are_answered_by_the_gateway(stack, cp_id):
    async with raw_socket(stack.ws_url, cp_id) as ws:
        # 40 CALLs without waiting: at most 5 may await an answer at once
        for n in range(40):
            await ws.send(json.dumps([2, f"h{n}", "Heartbeat", {}]))
        answers = [await recv_json(ws) for _ in range(40)]
        by_id = {a[1]: a for a in answers}
        assert len(by_id) == 40  # every CALL got exactly one answer
        refused = [a for a in answers if a[0] == 4]
        assert refused and all(a[2] == "GenericError" for a in refused)
        assert sum(a[0] == 3 for a in answers) >= 5
        await ws.send(json.dumps([2, "later", "Heartbeat", {}]))
        assert (await recv_json(ws))[:2] == [3, "later"]


# -- a stack of our own: its worker runs the poison vendor, and boots are due in 2 s ----------


@pytest.fixture(scope="module")
def poison_stack(tmp_path_factory: pytest.TempPathFactory):
    env = {
        "OCPP_EXTRA_IMPORTS": "tests.support.poison_vendor",
        "OCPP_WORKER_PREFETCH": "1",
        "OCPP_BOOT_DEADLINE_S": "2",
    }
    with private_stack(Path(tmp_path_factory.mktemp("poison")), env) as stack_and_store:
        yield stack_and_store


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_poison_frames_end_in_the_dead_letters_and_the_worker_lives(poison_stack):
    stack, store = poison_stack
    worker = stack.processes["w1"]
    async with raw_socket(stack.ws_url, "POISON-1") as ws:
        await ws.send(
            json.dumps([2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}])
        )
        assert (await recv_json(ws))[:2] == [3, "b"]  # or the 2 s boot deadline closes us
        # the frame of the hostile-input issue: 500 levels deep, once fatal to the worker
        deep = {"vendorId": "v", "data": nested(500)}
        await ws.send(json.dumps([2, "deep", "DataTransfer", deep]))
        assert (await recv_json(ws))[:3] == [4, "deep", "FormationViolation"]
        # a frame whose handler kills its worker process on every run
        frame = json.dumps([2, "poison", "DataTransfer", {"vendorId": "test.poison", "data": "x"}])
        await ws.send(frame)
        reply = await recv_json(ws, timeout=60)
        assert reply[:3] == [4, "poison", "InternalError"]
        await ws.send(json.dumps([2, "after", "Heartbeat", {}]))
        assert (await recv_json(ws, timeout=15))[:2] == [3, "after"]
        with pytest.raises(asyncio.TimeoutError):
            await recv_json(ws, timeout=1)  # and nothing more: one answer per CALL
    assert worker.alive()
    [letter] = dead_letters.newest(store)
    assert letter["frame"] == frame and letter["cp"] == "POISON-1" and letter["id"] == "poison"
    assert int(letter["attempts"]) == 4  # three runs died, the fourth gave up


@pytest.mark.timeout(30)
async def test_sockets_that_never_boot_are_closed(poison_stack):
    stack, store = poison_stack
    factory = ChargerFactory(stack.ws_url)
    try:
        booted = await factory.connect("BOOTS")
        async with raw_socket(stack.ws_url, "IDLE") as idle:
            started = time.monotonic()
            while not store.redis.exists(store.keys.client("IDLE")):
                assert time.monotonic() - started < 1, "never registered"
                await asyncio.sleep(0.02)
            assert await closed_with(idle, timeout=10) == 1008
            assert 1.5 < time.monotonic() - started < 6
        await asyncio.sleep(0.3)
        assert not store.redis.exists(store.keys.client("IDLE"))
        assert (await booted.call(call.Heartbeat())).current_time  # still connected
    finally:
        await factory.close_all()
