"""Webhooks in Redis: the registrations, each one's place in the event stream, its
delivery lock and its delivery log (docs/EVENTS.md "Webhooks").

A webhook is a hash (`Keys.webhook`): ``url``, ``types`` (JSON list, or ["*"]),
``secret``, ``description``, ``createdAt``, and its delivery state: ``cursor`` (the id
of the last event it is done with: delivered, skipped as not wanted, or given up on),
and for the event being retried ``attempts``, ``firstAttemptAt`` and
``nextAttemptAt`` (epoch seconds). Only the run holding its lock (`Keys.webhook_lock`)
moves that state, so a webhook's events go out one at a time, in stream order.

Every write of a delivery run goes through `_UPDATE`, which writes nothing once the
webhook is deleted: a run finishing after a DELETE leaves no half webhook behind.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from ocpp_worker.state import events
from ocpp_worker.state.store import Store

MAX_WEBHOOKS = 100
DELIVERIES_KEPT = 100
LOCK_MS = 30_000  # longer than one send can take (10 s, webhooks.TOTAL_TIMEOUT_S); renewed per event
QUEUED_S = 60  # a queued delivery task that never ran (its worker died) frees the webhook after this

# HSET the fields (ARGV pairs) only if the webhook still exists; with a log entry
# (KEYS[2]): LPUSH it (ARGV[1] = "push") or replace the head (ARGV[1] = "set"), then
# trim the log to ARGV[2] entries.
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local first = 1
if #KEYS == 2 then
  if ARGV[1] == 'push' or redis.call('LLEN', KEYS[2]) == 0 then
    redis.call('LPUSH', KEYS[2], ARGV[3])
  else
    redis.call('LSET', KEYS[2], 0, ARGV[3])
  end
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
  first = 4
end
if #ARGV >= first + 1 then redis.call('HSET', KEYS[1], unpack(ARGV, first)) end
return 1
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class TooMany(Exception):
    """MAX_WEBHOOKS are registered already."""


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def create(
    store: Store, url: str, types: list[str], secret: str, description: str | None, now: str
) -> dict[str, Any]:
    """Register a webhook; it gets the events published from now on."""
    k = store.keys
    if int(store.redis.zcard(k.webhooks)) >= MAX_WEBHOOKS:
        raise TooMany(f"at most {MAX_WEBHOOKS} webhooks")
    webhook_id = "wh_" + secrets.token_hex(8)
    fields = {
        "id": webhook_id,
        "url": url,
        "types": json.dumps(types),
        "secret": secret,
        "description": description or "",
        "createdAt": now,
        "cursor": events.last_id(store),
    }
    pipe = store.redis.pipeline(transaction=True)
    pipe.hset(k.webhook(webhook_id), mapping=fields)
    pipe.zadd(k.webhooks, {webhook_id: int(time.time() * 1000)})
    pipe.execute()
    return _public(fields)


def _public(fields: dict[str, str]) -> dict[str, Any]:
    """A webhook as stored, with its types decoded (and its secret, for the sender)."""
    found: dict[str, Any] = dict(fields)
    found["types"] = json.loads(fields.get("types") or "[]")
    for name in ("attempts", "firstAttemptAt", "nextAttemptAt"):
        if name in found:
            found[name] = float(found[name]) if name != "attempts" else int(found[name])
    return found


def get(store: Store, webhook_id: str) -> dict[str, Any] | None:
    found = store.redis.hgetall(store.keys.webhook(webhook_id))
    return _public(found) if found else None


def ids(store: Store) -> list[str]:
    """Every webhook id, oldest first."""
    return list(store.redis.zrange(store.keys.webhooks, 0, -1))


def listing(store: Store) -> list[dict[str, Any]]:
    """Every webhook, oldest first."""
    pipe = store.redis.pipeline(transaction=False)
    for webhook_id in ids(store):
        pipe.hgetall(store.keys.webhook(webhook_id))
    return [_public(found) for found in pipe.execute() if found]


def delete(store: Store, webhook_id: str) -> bool:
    k = store.keys
    pipe = store.redis.pipeline(transaction=True)
    pipe.delete(k.webhook(webhook_id), k.webhook_deliveries(webhook_id), k.webhook_queued(webhook_id))
    pipe.zrem(k.webhooks, webhook_id)
    removed = pipe.execute()
    return bool(removed[1])


def deliveries(store: Store, webhook_id: str, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` delivery records, newest first."""
    found = store.redis.lrange(store.keys.webhook_deliveries(webhook_id), 0, limit - 1)
    return [json.loads(entry) for entry in found]


def pending(store: Store, now: float) -> list[str]:
    """Webhooks with events after their cursor whose next attempt is due."""
    newest = events.last_id(store)
    pipe = store.redis.pipeline(transaction=False)
    all_ids = ids(store)
    for webhook_id in all_ids:
        pipe.hmget(store.keys.webhook(webhook_id), ["cursor", "nextAttemptAt"])
    due = []
    for webhook_id, (cursor, next_at) in zip(all_ids, pipe.execute(), strict=True):
        if cursor is not None and _before(cursor, newest) and float(next_at or 0) <= now:
            due.append(webhook_id)
    return due


def _before(a: str, b: str) -> bool:
    """Whether stream id `a` is older than `b`."""
    ams, _, aseq = a.partition("-")
    bms, _, bseq = b.partition("-")
    return (int(ams), int(aseq or 0)) < (int(bms), int(bseq or 0))


def mark_queued(store: Store, webhook_id: str) -> bool:
    """Take the right to queue a delivery task (False: one is queued already)."""
    return bool(store.redis.set(store.keys.webhook_queued(webhook_id), "1", nx=True, px=QUEUED_S * 1000))


def clear_queued(store: Store, webhook_id: str) -> None:
    pipe = store.redis.pipeline(transaction=False)
    pipe.delete(store.keys.webhook_queued(webhook_id))
    pipe.execute()


def lock(store: Store, webhook_id: str, token: str) -> bool:
    return bool(store.redis.set(store.keys.webhook_lock(webhook_id), token, nx=True, px=LOCK_MS))


def renew(store: Store, webhook_id: str, token: str) -> bool:
    """Extend our lock; False if it is no longer ours (it expired and another run took it)."""
    return bool(store.redis.eval(_RENEW, 1, store.keys.webhook_lock(webhook_id), token, LOCK_MS))


def unlock(store: Store, webhook_id: str, token: str) -> None:
    store.redis.eval(_UNLOCK, 1, store.keys.webhook_lock(webhook_id), token)


def next_events(store: Store, cursor: str, count: int) -> list[dict[str, Any]]:
    """The events after `cursor`, oldest first."""
    return events.read(store, cursor, count, scan_max=count).items


def update(
    store: Store,
    webhook_id: str,
    fields: dict[str, Any],
    log_entry: dict[str, Any] | None = None,
    new_entry: bool = False,
) -> bool:
    """Write a delivery run's progress (and a delivery record: a new one, or the head
    replaced while its event is retried); False when the webhook was deleted."""
    k = store.keys
    pairs = [str(item) for pair in fields.items() for item in pair]
    if log_entry is None:
        return bool(store.redis.eval(_UPDATE, 1, k.webhook(webhook_id), *pairs))
    entry = json.dumps(log_entry, separators=(",", ":"))
    head = "push" if new_entry else "set"
    return bool(
        store.redis.eval(
            _UPDATE,
            2,
            k.webhook(webhook_id),
            k.webhook_deliveries(webhook_id),
            head,
            DELIVERIES_KEPT,
            entry,
            *pairs,
        )
    )
