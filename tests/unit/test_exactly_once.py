"""One effect and one reply per (charger, message id), against the real Redis."""

import json
import threading

import pytest

from ocpp_worker.handlers import Incoming, handle
from ocpp_worker.state import chargepoints, transactions
from ocpp_worker.state.keys import Keys, charger_tag
from tests.support.handlers import NOW, start_transaction


def meter(tx_id: int, value: str = "1") -> dict:
    return {
        "connectorId": 1,
        "transactionId": tx_id,
        "meterValue": [{"timestamp": "2026-06-01T11:10:00Z", "sampledValue": [{"value": value}]}],
    }


def test_concurrent_duplicates_store_once_and_all_get_the_same_reply(fresh):
    tx_id = start_transaction(fresh, "CP")
    outbox = fresh.keys.gateway_outbox("gw")
    replies: list[str | None] = []
    barrier = threading.Barrier(8)

    def send(n: int) -> None:
        barrier.wait()
        call = Incoming("CP", "dup", "MeterValues", meter(tx_id), gateway="gw", frame_id=f"{n + 1}-0")
        replies.append(handle(fresh, call, NOW))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert transactions.sample_count(fresh, tx_id) == 1
    assert len(replies) == 8 and len(set(replies)) == 1 and replies[0] is not None
    sent = fresh.redis.xrange(outbox)
    assert [fields["frame"] for _, fields in sent] == [replies[0]] * 8  # one reply per frame


def test_redelivery_of_an_answered_frame_sends_nothing(fresh):
    tx_id = start_transaction(fresh, "CP")
    call = Incoming("CP", "m1", "MeterValues", meter(tx_id), gateway="gw", frame_id="7-0")
    assert handle(fresh, call, NOW) is not None
    assert handle(fresh, call, NOW) is None  # the same frame again (Celery redelivery)
    assert fresh.redis.xlen(fresh.keys.gateway_outbox("gw")) == 1
    assert transactions.sample_count(fresh, tx_id) == 1


def test_redelivery_takes_over_the_claim_of_its_dead_first_run(fresh):
    tx_id = start_transaction(fresh, "CP")
    call = Incoming("CP", "m2", "MeterValues", meter(tx_id), gateway="gw", frame_id="8-0")
    key = fresh.keys.reply_cache("CP", "m2")
    fresh.redis.set(key, "claim 8-0 deadbeef", px=60_000)  # the first run died holding it
    assert handle(fresh, call, NOW) is not None
    assert transactions.sample_count(fresh, tx_id) == 1


def test_meter_values_for_another_chargers_transaction_are_kept_apart(fresh):
    victim_tx = start_transaction(fresh, "VICTIM")
    frame = handle(fresh, Incoming("ATTACKER", "m", "MeterValues", meter(victim_tx, "999")), NOW)
    assert frame is not None and json.loads(frame)[0] == 3  # answered per spec
    assert transactions.sample_count(fresh, victim_tx) == 0
    [foreign] = [json.loads(e) for e in fresh.redis.lrange(fresh.keys.foreign_meter_values, 0, -1)]
    assert foreign == {"clientId": "ATTACKER", "transactionId": victim_tx, "owner": "VICTIM", "samples": 1}


def test_stop_with_foreign_transaction_data_leaves_the_transaction_alone(fresh):
    victim_tx = start_transaction(fresh, "VICTIM")
    stop = {
        "transactionId": victim_tx,
        "meterStop": 5,
        "timestamp": "2026-06-01T11:30:00Z",
        "transactionData": meter(victim_tx)["meterValue"],
    }
    assert handle(fresh, Incoming("ATTACKER", "x", "StopTransaction", stop), NOW) is not None
    assert transactions.sample_count(fresh, victim_tx) == 0
    assert transactions.get(fresh, victim_tx)["status"] == "active"


def test_data_transfer_keeps_a_truncated_copy(fresh):
    payload = {"vendorId": "v", "data": "x" * 1_000_000}
    assert handle(fresh, Incoming("CP", "d", "DataTransfer", payload), NOW) is not None
    [kept] = fresh.redis.lrange(fresh.keys.data_transfers("CP"), 0, -1)
    entry = json.loads(kept)
    assert len(entry["data"]) == 4096 and entry["dataLength"] == 1_000_000 and entry["truncated"]


@pytest.mark.parametrize(
    ("victim", "hostile"),
    [
        ("VICTIM", "VICTIM:connector:1"),
        ("VICTIM", "VICTIM:connectors"),
        ("VICTIM", "VICTIM:connector:1:meter"),
        ("VICTIM", "VICTIM}:connector:1"),
        ("a", "a}"),
        ("a%7D", "a}"),
    ],
)
def test_no_charger_id_reaches_another_chargers_keys(victim, hostile):
    keys = Keys("p:")
    victim_keys = {
        keys.chargepoint(victim),
        keys.connectors(victim),
        keys.config(victim),
        keys.client(victim),
    }
    victim_keys |= {keys.connector(victim, n) for n in range(3)} | {keys.latest_meter(victim, 1)}
    hostile_keys = {keys.chargepoint(hostile), keys.connectors(hostile), keys.config(hostile)}
    hostile_keys |= {keys.connector(hostile, n) for n in range(3)} | {keys.latest_meter(hostile, 1)}
    assert not victim_keys & hostile_keys


def test_charger_tag_keeps_common_ids_readable():
    assert charger_tag("CP-001") == "{CP-001}"
    assert charger_tag("a b\n{%}") == "{a%20b%0A%7B%25%7D}"


def test_hostile_id_cannot_write_into_the_victims_connector(fresh):
    boot = {"chargePointVendor": "Evil", "chargePointModel": "M"}
    assert handle(fresh, Incoming("VICTIM:connector:1", "b", "BootNotification", boot), NOW) is not None
    assert fresh.redis.hgetall(fresh.keys.connector("VICTIM", 1)) == {}
    assert chargepoints.get(fresh, "VICTIM") is None
