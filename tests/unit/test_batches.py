"""A task's batch of CALLs: one effect and one reply per frame, whatever else is in
the batch or however often the batch is delivered (real Redis, no broker)."""

import dataclasses
import json

import pytest

from ocpp_worker.handlers import HandlerCrashed, Incoming, handle, handle_batch, registry
from ocpp_worker.state import transactions
from ocpp_worker.state.store import Store
from tests.support.handlers import NOW, start_transaction


def meter(cp_id: str, tx_id: int, unique_id: str, frame_id: str, value: str = "1") -> Incoming:
    sample = {"timestamp": "2026-06-01T11:10:00Z", "sampledValue": [{"value": value}]}
    payload = {"connectorId": 1, "transactionId": tx_id, "meterValue": [sample]}
    return Incoming(cp_id, unique_id, "MeterValues", payload, gateway="gw", frame_id=frame_id)


def sent(store: Store) -> list[list]:
    return [json.loads(fields["frame"]) for _, fields in store.redis.xrange(store.keys.gateway_outbox("gw"))]


def test_mixed_batch_each_frame_gets_its_own_single_answer(fresh, monkeypatch):
    tx_a, tx_b = start_transaction(fresh, "A"), start_transaction(fresh, "B")
    original = registry.HANDLERS["MeterValues"]

    def crashes_for_c(ctx, req):
        if ctx.cp_id == "C":
            raise RuntimeError("boom")
        return original(ctx, req)

    monkeypatch.setitem(registry.HANDLERS, "MeterValues", crashes_for_c)
    bad = meter("B", tx_b, "bad", "2-0")
    bad = dataclasses.replace(bad, payload={**bad.payload, "connectorId": "one"})
    batch = [
        meter("A", tx_a, "good", "1-0"),
        bad,
        meter("C", tx_a, "crash", "3-0"),
        meter("A", tx_a, "good", "4-0"),  # the same message id again, in the same batch
        meter("B", tx_b, "good-b", "5-0", value="7"),
    ]
    outcome = handle_batch(fresh, batch, NOW)
    assert [c.unique_id for c in outcome.crashed] == ["crash"]
    assert outcome.replies[0] == outcome.replies[3] == '[3,"good",{}]'
    assert json.loads(outcome.replies[1])[:3] == [4, "bad", "TypeConstraintViolation"]
    assert outcome.replies[2] is None and outcome.replies[4] == '[3,"good-b",{}]'
    assert sorted(frame[1] for frame in sent(fresh)) == ["bad", "good", "good", "good-b"]
    assert transactions.sample_count(fresh, tx_a) == 1
    assert transactions.sample_count(fresh, tx_b) == 1
    # the crashed CALL was released for its retry, alone
    retry = dataclasses.replace(batch[2], attempt=2)
    with pytest.raises(HandlerCrashed):
        handle(fresh, retry, NOW)


def test_redelivered_batch_has_no_second_effect_and_no_second_answer(fresh):
    tx_id = start_transaction(fresh, "A")
    batch = [meter("A", tx_id, f"m{n}", f"{n + 1}-0", value=str(n)) for n in range(10)]
    first = handle_batch(fresh, batch, NOW)
    again = handle_batch(fresh, batch, NOW)  # Celery redelivers the whole message
    assert all(first.replies) and not any(again.replies)
    assert len(sent(fresh)) == 10
    assert transactions.sample_count(fresh, tx_id) == 10


def test_batch_of_a_worker_killed_half_way_is_finished_once(fresh):
    tx_id = start_transaction(fresh, "A")
    batch = [meter("A", tx_id, f"m{n}", f"{n + 1}-0", value=str(n)) for n in range(6)]
    handle_batch(fresh, batch[:3], NOW)  # the first half was committed, then the worker died
    for call in batch[3:]:  # ...holding the claims of the second half
        fresh.redis.set(fresh.keys.reply_cache("A", call.unique_id), f"claim {call.frame_id} dead", px=60_000)
    redelivered = handle_batch(fresh, [dataclasses.replace(c, attempt=2) for c in batch], NOW)
    assert redelivered.replies[:3] == [None, None, None]  # answered before the kill
    assert redelivered.replies[3:] == [f'[3,"m{n}",{{}}]' for n in range(3, 6)]
    assert sorted(frame[1] for frame in sent(fresh)) == [f"m{n}" for n in range(6)]
    assert [s["value"] for s in transactions.samples_of(fresh, tx_id)] == [str(n) for n in range(6)]
