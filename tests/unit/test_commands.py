"""Queued commands (state/commands.py, commands.py) against the real Redis, no broker."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from ocpp_worker import calls, commands, transport
from ocpp_worker.state import commands as state
from ocpp_worker.state.store import Store

CP = "CP-Q1"
CHANGE = {"key": "HeartbeatInterval", "value": "60"}


def online(store: Store, cp_id: str = CP, booted: bool = True, gateway: str = "gw1") -> None:
    store.redis.hset(store.keys.client(cp_id), mapping={"gateway": gateway, "conn": "c1"})
    store.redis.hset(store.keys.chargepoint(cp_id), "registrationStatus", "Accepted" if booted else "Pending")


def offline(store: Store, cp_id: str = CP) -> None:
    store.redis.delete(store.keys.client(cp_id))


def outbox(store: Store, gateway: str = "gw1") -> list[transport.OutboxOp | None]:
    return [transport.decode_op(f) for _, f in store.redis.xrange(store.keys.gateway_outbox(gateway))]


def with_settings(store: Store, **changes: object) -> Store:
    return Store(store.redis, dataclasses.replace(store.settings, **changes))  # type: ignore[arg-type]


def test_queued_for_an_offline_charger_then_sent_in_order_one_at_a_time(fresh):
    first = commands.queue(fresh, CP, "ChangeConfiguration", CHANGE, 3600)
    second = commands.queue(fresh, CP, "Reset", {"type": "Soft"}, 3600)
    assert first["status"] == second["status"] == "queued"
    assert first["id"].startswith("cmd-") and len(first["id"]) == 36
    assert commands.deliver_next(fresh, CP) is None  # offline: nothing sent
    online(fresh, booted=False)
    assert commands.deliver_next(fresh, CP) is None  # connected, never booted
    online(fresh)
    assert commands.deliver_next(fresh, CP) == first["id"]
    assert commands.deliver_next(fresh, CP) is None  # one in flight at a time
    ops = outbox(fresh)
    assert len(ops) == 1
    op = ops[0]
    assert isinstance(op, transport.CsmsCall) and op.id == first["id"] and op.action == "ChangeConfiguration"
    assert json.loads(op.frame) == [2, first["id"], "ChangeConfiguration", CHANGE]
    assert state.get(fresh, first["id"])["status"] == "sent"
    # the answer ends it and sends the next one
    assert commands.record_outcome(fresh, first["id"], transport.result_outcome({"status": "Accepted"}))
    answered = state.get(fresh, first["id"])
    assert answered["status"] == "answered" and answered["answer"] == {"status": "Accepted"}
    assert answered["sentAt"] and answered["endedAt"]
    assert [o.id for o in outbox(fresh) if isinstance(o, transport.CsmsCall)] == [first["id"], second["id"]]
    # a late second answer (a redelivered entry) changes nothing
    assert not commands.record_outcome(fresh, first["id"], transport.error_outcome("GenericError", "x", {}))
    assert state.get(fresh, first["id"])["status"] == "answered"
    items, total = state.list_page(fresh, CP, 10, 0)
    assert total == 2 and [c["id"] for c in items] == [first["id"], second["id"]]


def test_an_accepted_answer_updates_stored_state_as_a_live_call_does(fresh):
    command = commands.queue(fresh, CP, "ChangeConfiguration", CHANGE, 3600)
    online(fresh)
    commands.deliver_next(fresh, CP)
    commands.record_outcome(fresh, command["id"], transport.result_outcome({"status": "Accepted"}))
    assert fresh.redis.hget(fresh.keys.config(CP), "HeartbeatInterval") == "60"


def test_callerror_and_disconnect_fail_the_command(fresh):
    a = commands.queue(fresh, CP, "Reset", {"type": "Soft"}, 3600)
    b = commands.queue(fresh, CP, "Reset", {"type": "Hard"}, 3600)
    online(fresh)
    commands.deliver_next(fresh, CP)
    commands.record_outcome(fresh, a["id"], transport.error_outcome("NotSupported", "no", {"x": 1}))
    failed = state.get(fresh, a["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "errorCode": "NotSupported",
        "errorDescription": "no",
        "errorDetails": {"x": 1},
    }
    assert state.get(fresh, b["id"])["status"] == "sent"
    offline(fresh)
    commands.record_outcome(fresh, b["id"], transport.abandoned_outcome("gone"))
    gone = state.get(fresh, b["id"])
    assert gone["status"] == "failed" and "disconnected" in gone["reason"] and gone["error"] is None


def test_a_bad_payload_is_refused_and_nothing_is_queued(fresh):
    with pytest.raises(calls.InvalidPayload):
        commands.queue(fresh, CP, "Reset", {"type": "Sideways"}, 3600)
    with pytest.raises(calls.UnknownAction):
        commands.queue(fresh, CP, "BootNotification", {}, 3600)
    with pytest.raises(commands.NotQueueable):
        commands.queue(fresh, CP, "ChangeConfiguration", {"key": "AuthorizationKey", "value": "a" * 32}, 3600)
    assert state.list_page(fresh, CP, 10, 0) == ([], 0)
    assert fresh.redis.llen(fresh.keys.command_queue(CP)) == 0


def test_the_queue_is_bounded_per_charger(fresh):
    small = with_settings(fresh, command_max_queued=3)
    ids = [commands.queue(small, CP, "ClearCache", {}, 3600)["id"] for _ in range(3)]
    with pytest.raises(state.QueueFull):
        commands.queue(small, CP, "ClearCache", {}, 3600)
    commands.queue(small, "CP-OTHER", "ClearCache", {}, 3600)  # another charger's own bound
    assert state.drop_queued(small, ids[0], state.CANCELLED, "now", 2**62) == "queued"
    commands.queue(small, CP, "ClearCache", {}, 3600)  # a cancel frees its place
    assert state.list_page(small, CP, 10, 0)[1] == 4


def test_cancel_only_while_queued(fresh):
    a = commands.queue(fresh, CP, "ClearCache", {}, 3600)
    b = commands.queue(fresh, CP, "ClearCache", {}, 3600)
    online(fresh)
    commands.deliver_next(fresh, CP)
    assert state.drop_queued(fresh, a["id"], state.CANCELLED, "now", 2**62) == "sent"
    assert state.drop_queued(fresh, b["id"], state.CANCELLED, "now", 2**62) == "queued"
    assert state.get(fresh, b["id"])["status"] == "cancelled"
    assert state.drop_queued(fresh, b["id"], state.CANCELLED, "now", 2**62) == "cancelled"
    assert state.drop_queued(fresh, state.new_id(), state.CANCELLED, "now", 2**62) is None
    commands.record_outcome(fresh, a["id"], transport.result_outcome({"status": "Accepted"}))
    assert len(outbox(fresh)) == 1  # the cancelled one is never sent


def test_expired_commands_are_never_sent(fresh):
    short = commands.queue(fresh, CP, "ClearCache", {}, 0.05)
    kept = commands.queue(fresh, CP, "ClearCache", {}, 3600)
    time.sleep(0.1)
    report = commands.sweep(fresh)
    assert report.expired == 1
    assert state.get(fresh, short["id"])["status"] == "expired"
    gone = commands.queue(fresh, "CP-GONE", "ClearCache", {}, 0.05)
    time.sleep(0.1)
    commands.sweep(fresh)  # its only command expired: the sweep stops visiting it
    assert state.get(fresh, gone["id"])["status"] == "expired"
    assert set(state.chargers_with_queue(fresh)) == {CP}
    # expired while the sweep did not run: the claim skips it too
    late = commands.queue(fresh, "CP-2", "ClearCache", {}, 0.05)
    time.sleep(0.1)
    online(fresh, "CP-2")
    assert commands.deliver_next(fresh, "CP-2") is None
    assert state.get(fresh, late["id"])["status"] == "expired"
    online(fresh)
    assert commands.sweep(fresh).delivered == 1  # the sweep delivers to connected chargers
    assert state.get(fresh, kept["id"])["status"] == "sent"


def test_sent_without_an_answer_fails_after_the_call_timeout(fresh):
    quick = with_settings(fresh, call_timeout=0.05)
    a = commands.queue(quick, CP, "ClearCache", {}, 3600)
    b = commands.queue(quick, CP, "ClearCache", {}, 3600)
    online(quick)
    commands.deliver_next(quick, CP)
    assert commands.sweep(quick).unanswered == 0
    time.sleep(0.1)  # as after a restart: sent, and nobody will ever answer
    report = commands.sweep(quick)
    assert report.unanswered == 1 and report.delivered == 1
    failed = state.get(quick, a["id"])
    assert failed["status"] == "failed" and failed["reason"].startswith("no answer")
    assert state.get(quick, b["id"])["status"] == "sent"
    # its answer after all, too late: not recorded
    assert not commands.record_outcome(quick, a["id"], transport.result_outcome({"status": "Accepted"}))


def test_command_ids_are_checked_before_any_lookup(fresh):
    assert state.get(fresh, "../../etc") is None
    assert state.get(fresh, "cmd-" + "0" * 32) is None
    assert not state.is_command_id("cmd-" + "G" * 32)
