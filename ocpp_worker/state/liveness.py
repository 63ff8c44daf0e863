"""Liveness: which chargers went silent, and which gateways died. Plain functions the
beat tasks (`ocpp_worker.maintenance`) call, and the API reads the result of.

* A charger is **stale** when it has sent nothing for `factor` x its HeartbeatInterval
  (its configuration value, else the 1.6 default the BootNotification answer gave).
  `mark_stale` writes ``staleSince`` (when it went stale: lastSeen + factor x interval)
  and ``staleLastSeen`` (the ``lastSeen`` it judged) in the charger's hash. A reader
  takes the mark only while ``lastSeen`` is still that value (`is_stale`): a charger
  that speaks again is fresh at once, before the next run clears its mark, and the
  workers' hot path (which sets ``lastSeen``) has nothing to do. Every run computes
  the same marks from the same data, so several beats running it do no harm.
* A gateway whose registration in ``server:gateways`` expired stopped refreshing it:
  `prune_gateways` drops it with its outbox and the expired charger registrations
  (the living gateways' refresh does the same, but there may be none left).
* `once_per` lets one run per period through, whichever beat sent it: several beat
  processes started by mistake cost one Redis command per extra run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ocpp_worker import timeutil
from ocpp_worker.state.configuration import SPECS
from ocpp_worker.state.store import Store

HEARTBEAT_KEY = "HeartbeatInterval"
DEFAULT_HEARTBEAT_S = int(SPECS[HEARTBEAT_KEY].default)
CHUNK = 500  # chargers read per round trip

# Drop the gateways whose registration expired, their outboxes (a reply written after
# an outbox expired makes a new one without a TTL) and expired charger registrations;
# atomic, so a gateway refreshing meanwhile is either kept or already gone.
_PRUNE = """
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, gateway in ipairs(dead) do
  redis.call('DEL', ARGV[2] .. gateway)
  redis.call('ZREM', KEYS[1], gateway)
end
local chargers = redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
return {dead, chargers}
"""


@dataclass(frozen=True)
class StaleReport:
    checked: int  # chargers looked at
    stale: int  # of those, stale now
    marked: int  # newly marked stale by this run
    cleared: int  # marks removed: the charger spoke again


def is_stale(info: Mapping[str, str]) -> bool:
    """Whether a charger's hash says it is stale (its mark judged its current lastSeen)."""
    judged = info.get("staleLastSeen")
    return bool(judged) and judged == info.get("lastSeen")


def stale_since(info: Mapping[str, str]) -> str | None:
    """When it went stale, while it is (`is_stale`)."""
    return info.get("staleSince") if is_stale(info) else None


def _interval(value: str | None) -> int:
    try:
        seconds = int(value) if value is not None else DEFAULT_HEARTBEAT_S
    except ValueError:
        return DEFAULT_HEARTBEAT_S
    return seconds if seconds > 0 else DEFAULT_HEARTBEAT_S  # 0: no heartbeats asked for


def _epoch(iso_time: str | None) -> float | None:
    moment = timeutil.parse(iso_time) if iso_time else None
    return moment.timestamp() if moment else None


def mark_stale(store: Store, factor: float, now: float | None = None) -> StaleReport:
    """Mark (and unmark) every charger ever seen, `CHUNK` per round trip pair."""
    now = now if now is not None else datetime.now(UTC).timestamp()
    keys = store.keys
    checked = stale = marked = cleared = 0
    start = 0
    while True:
        ids = store.redis.zrange(keys.chargepoints, start, start + CHUNK - 1)
        if not ids:
            break
        start += len(ids)
        read = store.redis.pipeline(transaction=False)
        for cp_id in ids:
            read.hmget(keys.chargepoint(cp_id), ["lastSeen", "staleLastSeen"])
            read.hget(keys.config(cp_id), HEARTBEAT_KEY)
        replies = read.execute()
        write = store.redis.pipeline(transaction=False)
        for n, cp_id in enumerate(ids):
            (last_seen, judged), interval = replies[2 * n], _interval(replies[2 * n + 1])
            seen_at = _epoch(last_seen)
            checked += 1
            if seen_at is not None and now - seen_at > factor * interval:
                stale += 1
                if judged != last_seen:
                    since = timeutil.iso(datetime.fromtimestamp(seen_at + factor * interval, UTC))
                    write.hset(
                        keys.chargepoint(cp_id), mapping={"staleSince": since, "staleLastSeen": last_seen}
                    )
                    marked += 1
            elif judged is not None:
                write.hdel(keys.chargepoint(cp_id), "staleSince", "staleLastSeen")
                cleared += 1
        if len(write):
            write.execute()
    return StaleReport(checked, stale, marked, cleared)


def prune_gateways(store: Store, now: float | None = None) -> tuple[list[str], int]:
    """Drop gateways whose registration expired (and their outboxes), and expired
    charger registrations; (the gateways dropped, how many charger registrations)."""
    now_ms = int((now if now is not None else datetime.now(UTC).timestamp()) * 1000)
    keys = store.keys
    dead, chargers = store.redis.eval(_PRUNE, 2, keys.gateways, keys.clients, now_ms, keys.gateway_outbox(""))
    return list(dead), int(chargers)


def once_per(store: Store, name: str, period_s: float) -> bool:
    """True for the first caller in each `period_s` (a little less, so a beat's next
    run is never refused by its own last one)."""
    ttl_ms = max(1, int(period_s * 900))
    return bool(store.redis.set(store.keys.maintenance_lock(name), "1", nx=True, px=ttl_ms))
