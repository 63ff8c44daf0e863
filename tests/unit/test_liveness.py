"""Liveness (state/liveness.py, maintenance.py) against the real Redis, without a broker."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

from ocpp_worker import maintenance, timeutil
from ocpp_worker.state import chargepoints, liveness
from ocpp_worker.state.store import Store

NOW = 1_800_000_000.0


def seen(store: Store, cp_id: str, seconds_ago: float, heartbeat: int | None = None) -> str:
    """A charger that last spoke `seconds_ago` before NOW (and its HeartbeatInterval)."""
    at = timeutil.iso(datetime.fromtimestamp(NOW - seconds_ago, UTC))
    pipe = store.redis.pipeline(transaction=False)
    chargepoints.touch(pipe, store.keys, cp_id, at)
    if heartbeat is not None:
        pipe.hset(store.keys.config(cp_id), "HeartbeatInterval", str(heartbeat))
    pipe.execute()
    return at


def info(store: Store, cp_id: str) -> dict[str, str]:
    return store.redis.hgetall(store.keys.chargepoint(cp_id))


def test_silent_for_factor_times_the_interval_is_stale(fresh):
    seen(fresh, "QUIET", 601)  # default interval 300 s, x2
    seen(fresh, "FRESH", 599)
    seen(fresh, "FAST", 25, heartbeat=10)
    seen(fresh, "ODD", 601, heartbeat=0)  # 0 (no heartbeats asked): the default applies
    report = liveness.mark_stale(fresh, factor=2, now=NOW)
    assert report == liveness.StaleReport(checked=4, stale=3, marked=3, cleared=0)
    assert [liveness.is_stale(info(fresh, cp)) for cp in ("QUIET", "FRESH", "FAST", "ODD")] == [
        True,
        False,
        True,
        True,
    ]
    quiet = info(fresh, "QUIET")
    expected = timeutil.iso(datetime.fromtimestamp(NOW - 1, UTC))  # lastSeen + 600 s
    assert liveness.stale_since(quiet) == expected
    # the same run again (another beat): the same marks, nothing written
    assert liveness.mark_stale(fresh, factor=2, now=NOW) == liveness.StaleReport(4, 3, 0, 0)
    assert info(fresh, "QUIET") == quiet


def test_a_charger_that_speaks_again_is_fresh_at_once_and_unmarked_later(fresh):
    seen(fresh, "CP1", 1000)
    liveness.mark_stale(fresh, factor=2, now=NOW)
    assert liveness.is_stale(info(fresh, "CP1"))
    seen(fresh, "CP1", 0)  # a CALL: the worker sets lastSeen, nothing else
    assert not liveness.is_stale(info(fresh, "CP1")) and liveness.stale_since(info(fresh, "CP1")) is None
    assert liveness.mark_stale(fresh, factor=2, now=NOW) == liveness.StaleReport(1, 0, 0, 1)
    assert "staleSince" not in info(fresh, "CP1") and "staleLastSeen" not in info(fresh, "CP1")


def test_the_summary_shows_stale(fresh):
    seen(fresh, "CP1", 1000)
    liveness.mark_stale(fresh, factor=2, now=NOW)
    (row,) = chargepoints.summaries(fresh, ["CP1"])
    assert row["stale"] is True and row["staleSince"] and row["connected"] is False
    assert row["lastSeen"] == info(fresh, "CP1")["lastSeen"]


def test_many_chargers_in_chunks(fresh):
    for n in range(liveness.CHUNK + 20):
        seen(fresh, f"CP{n}", 1000 if n % 2 else 10)
    report = liveness.mark_stale(fresh, factor=2, now=NOW)
    assert report.checked == liveness.CHUNK + 20 and report.stale == (liveness.CHUNK + 20) // 2


def test_dead_gateways_are_dropped_with_their_outboxes_and_chargers(fresh):
    keys = fresh.keys
    now_ms = int(NOW * 1000)
    fresh.redis.zadd(keys.gateways, {"alive": now_ms + 30_000, "dead": now_ms - 1})
    fresh.redis.zadd(keys.clients, {"CP-ALIVE": now_ms + 30_000, "CP-DEAD": now_ms - 1})
    for gateway in ("alive", "dead"):
        fresh.redis.xadd(keys.gateway_outbox(gateway), {"op": "send", "cp": "x", "frame": "[]"})
    assert liveness.prune_gateways(fresh, now=NOW) == (["dead"], 1)
    assert fresh.redis.zrange(keys.gateways, 0, -1) == ["alive"]
    assert fresh.redis.zrange(keys.clients, 0, -1) == ["CP-ALIVE"]
    assert fresh.redis.exists(keys.gateway_outbox("alive")) and not fresh.redis.exists(
        keys.gateway_outbox("dead")
    )
    assert liveness.prune_gateways(fresh, now=NOW) == ([], 0)  # idempotent


def test_one_run_per_period_whatever_the_number_of_beats(fresh):
    store = Store(fresh.redis, dataclasses.replace(fresh.settings, liveness_interval_s=0.5))
    seen(store, "CP1", 1000)
    assert maintenance.mark_stale(store) is not None
    assert maintenance.mark_stale(store) is None  # a second beat's run in the same period
    assert maintenance.prune_gateways(store) == []
    assert maintenance.prune_gateways(store) is None
    time.sleep(0.5)
    assert maintenance.mark_stale(store) is not None


def test_the_beat_schedule_runs_both_tasks_each_period(fresh):
    schedule = maintenance.beat_schedule(dataclasses.replace(fresh.settings, liveness_interval_s=7))
    assert {entry["task"] for entry in schedule.values()} == {
        maintenance.MARK_STALE,
        maintenance.PRUNE_GATEWAYS,
    }
    assert all(entry["schedule"] == 7 and entry["options"]["expires"] == 7 for entry in schedule.values())
