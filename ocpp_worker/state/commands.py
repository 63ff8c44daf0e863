"""Commands: calls to a charger kept in Redis, in order, until it can take them.

A command is one CSMS-initiated CALL (action, payload, the frame with its message id,
which is the command id) in the hash `Keys.command`, and its id in the charger's queue
(`Keys.command_queue`, oldest first). Its life::

    queued --claim--> sent --answer--> answered | failed (CALLERROR, broken answer,
       |                 \\--------------------> failed (disconnected, no answer in time)
       +--> expired (expiresAt passed) | cancelled (DELETE)

Every transition is one Lua script, so two processes can never both move a command:
`claim_next` takes a charger's next queued command only when the charger is connected,
has booted (``registrationStatus`` Accepted on record) and has no command in flight
(`Keys.command_inflight`), and marks it ``sent`` *before* anyone sends it: delivery is
at most once. `finish` ends a sent command only while it is still ``sent``, so an
answer and the sweep's "no answer" cannot both win. Nothing lives outside Redis: a
restarted API, worker or gateway finds every command where it was.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ocpp_worker.state.keys import Keys
from ocpp_worker.state.store import Store

ID_PREFIX = "cmd-"
_ID = re.compile(r"^cmd-[0-9a-f]{32}\Z")  # 36 characters: the OCPP-J message id limit
QUEUED, SENT, ANSWERED, FAILED, EXPIRED, CANCELLED = (
    "queued",
    "sent",
    "answered",
    "failed",
    "expired",
    "cancelled",
)
STATUSES = (QUEUED, SENT, ANSWERED, FAILED, EXPIRED, CANCELLED)
KEEP_S = 24 * 3600  # an ended command stays readable this long
HISTORY_MAX = 1000  # commands listed per charger
INFLIGHT_MARGIN_MS = 60_000  # the in-flight mark outlives the answer deadline by this much
CHUNK = 500  # due commands a sweep step handles per round trip


def new_id() -> str:
    """A command id, which is also the OCPP message id of its CALL."""
    return ID_PREFIX + uuid.uuid4().hex


def is_command_id(text: str) -> bool:
    """Whether `text` has the shape of a command id (any other message id is not one)."""
    return bool(_ID.match(text))


class QueueFull(Exception):
    """The charger already has `Settings.command_max_queued` commands waiting."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the charge point already has {limit} queued commands")
        self.limit = limit


# KEYS: queue, history, chargers, expiries, command
# ARGV: max queued, id, cp id, created ms, expires ms, hash ttl s, history max, fields...
_ENQUEUE = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[5], unpack(ARGV, 8))
redis.call('EXPIRE', KEYS[5], ARGV[6])
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[7]) - 1)
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[6]) then redis.call('EXPIRE', KEYS[2], ARGV[6]) end
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[2])
return 1
"""

# KEYS: queue, inflight, client registration, charger hash, deadlines, expiries, chargers
# ARGV: now ms, answer deadline ms, command key prefix, cp id, keep s, now iso, inflight ttl ms
_CLAIM = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {'busy'} end
local gateway = redis.call('HGET', KEYS[3], 'gateway')
if not gateway then return {'offline'} end
if redis.call('HGET', KEYS[4], 'registrationStatus') ~= 'Accepted' then return {'not_booted'} end
local now = tonumber(ARGV[1])
while true do
  local id = redis.call('LPOP', KEYS[1])
  if not id then
    redis.call('SREM', KEYS[7], ARGV[4])
    return {'empty'}
  end
  redis.call('ZREM', KEYS[6], id)
  local key = ARGV[3] .. id
  if redis.call('HGET', key, 'status') == 'queued' then
    if tonumber(redis.call('HGET', key, 'expiresAtMs')) <= now then
      redis.call('HSET', key, 'status', 'expired', 'endedAt', ARGV[6])
      redis.call('EXPIRE', key, ARGV[5])
    else
      redis.call('HSET', key, 'status', 'sent', 'sentAt', ARGV[6])
      redis.call('SET', KEYS[2], id, 'PX', ARGV[7])
      redis.call('ZADD', KEYS[5], ARGV[2], id)
      if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[7], ARGV[4]) end
      return {'sent', id, gateway, redis.call('HGET', key, 'action'), redis.call('HGET', key, 'frame')}
    end
  end
end
"""

# KEYS: command, inflight, deadlines; ARGV: id, new status, keep s, fields...
_FINISH = """
if redis.call('HGET', KEYS[1], 'status') ~= 'sent' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""

# KEYS: command, queue, expiries, chargers; ARGV: id, new status, keep s, now iso, due ms, cp id
# A queued command leaves the queue (cancelled, or expired when due by then); returns
# the status it had (so "queued" = done), or false for an unknown command. A charger
# whose queue this empties leaves the sweep's list.
_DROP_QUEUED = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status ~= 'queued' then return status end
if tonumber(redis.call('HGET', KEYS[1], 'expiresAtMs')) > tonumber(ARGV[5]) then return 'not_due' end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'endedAt', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[4], ARGV[6]) end
return 'queued'
"""


@dataclass(frozen=True)
class NewCommand:
    """A command to queue: `frame` is the CALL, its message id the command id."""

    id: str
    cp_id: str
    action: str
    payload: dict[str, Any]
    frame: str
    created_ms: int
    expires_ms: int
    created_at: str  # ISO times, as the API shows them
    expires_at: str


def enqueue(store: Store, command: NewCommand) -> None:
    """Append `command` to its charger's queue, or raise `QueueFull` (nothing written)."""
    keys = store.keys
    ttl_s = max(1, (command.expires_ms - command.created_ms) // 1000) + KEEP_S
    fields = {
        "id": command.id,
        "chargerId": command.cp_id,
        "action": command.action,
        "payload": json.dumps(command.payload, separators=(",", ":")),
        "frame": command.frame,
        "status": QUEUED,
        "createdAt": command.created_at,
        "expiresAt": command.expires_at,
        "expiresAtMs": str(command.expires_ms),
    }
    limit = store.settings.command_max_queued
    done = store.redis.eval(
        _ENQUEUE,
        5,
        keys.command_queue(command.cp_id),
        keys.command_history(command.cp_id),
        keys.command_chargers,
        keys.command_expiries,
        keys.command(command.id),
        limit,
        command.id,
        command.cp_id,
        command.created_ms,
        command.expires_ms,
        ttl_s,
        HISTORY_MAX,
        *(item for pair in fields.items() for item in pair),
    )
    if not done:
        raise QueueFull(limit)


@dataclass(frozen=True)
class Claimed:
    """A command marked sent: its CALL must now go to `gateway`'s outbox."""

    id: str
    gateway: str
    action: str
    frame: str


def claim_args(
    keys: Keys, cp_id: str, now_ms: int, timeout_ms: int, now_iso: str
) -> tuple[str, int, list[Any]]:
    """The `_CLAIM` script with its key count and arguments (sync and asyncio clients)."""
    args: list[Any] = [
        keys.command_queue(cp_id),
        keys.command_inflight(cp_id),
        keys.client(cp_id),
        keys.chargepoint(cp_id),
        keys.command_deadlines,
        keys.command_expiries,
        keys.command_chargers,
        now_ms,
        now_ms + timeout_ms,
        keys.command_prefix,
        cp_id,
        KEEP_S,
        now_iso,
        timeout_ms + INFLIGHT_MARGIN_MS,
    ]
    return _CLAIM, 7, args


def claimed(reply: list[Any]) -> Claimed | str:
    """What `_CLAIM` did: the command it marked sent, or why none (busy, offline,
    not_booted, empty)."""
    if reply[0] != SENT:
        return str(reply[0])
    return Claimed(reply[1], reply[2], reply[3], reply[4])


def claim_next(store: Store, cp_id: str, now_ms: int, timeout_ms: int, now_iso: str) -> Claimed | str:
    """Mark the charger's next deliverable command sent (see `claimed`); expired ones
    met on the way are marked expired."""
    script, numkeys, args = claim_args(store.keys, cp_id, now_ms, timeout_ms, now_iso)
    return claimed(store.redis.eval(script, numkeys, *args))


def charger_of(store: Store, command_id: str) -> str | None:
    found: str | None = store.redis.hget(store.keys.command(command_id), "chargerId")
    return found


def finish(store: Store, command_id: str, status: str, fields: Mapping[str, str]) -> bool:
    """End a sent command as `status` (answered or failed) with `fields` (endedAt,
    answer, error...); False when it is not ``sent`` (ended already, or unknown)."""
    cp_id = charger_of(store, command_id)
    if cp_id is None:
        return False
    keys = store.keys
    done = store.redis.eval(
        _FINISH,
        3,
        keys.command(command_id),
        keys.command_inflight(cp_id),
        keys.command_deadlines,
        command_id,
        status,
        KEEP_S,
        *(item for pair in fields.items() for item in pair),
    )
    return bool(done)


def drop_queued(store: Store, command_id: str, status: str, now_iso: str, due_ms: int) -> str | None:
    """Take a queued command out of its queue as `status` (cancelled; expired when its
    expiresAt is at most `due_ms`). Returns the status it had ("queued": dropped now;
    "not_due": kept), or None for an unknown command."""
    cp_id = charger_of(store, command_id)
    if cp_id is None:
        return None
    keys = store.keys
    before = store.redis.eval(
        _DROP_QUEUED,
        4,
        keys.command(command_id),
        keys.command_queue(cp_id),
        keys.command_expiries,
        keys.command_chargers,
        command_id,
        status,
        KEEP_S,
        now_iso,
        due_ms,
        cp_id,
    )
    return str(before) if before else None


def _view(fields: Mapping[str, str]) -> dict[str, Any]:
    """A stored command as the API shows it."""

    def loaded(name: str) -> Any:
        text = fields.get(name)
        return json.loads(text) if text else None

    error = None
    if fields.get("errorCode"):
        error = {
            "errorCode": fields["errorCode"],
            "errorDescription": fields.get("errorDescription", ""),
            "errorDetails": loaded("errorDetails"),
        }
    return {
        "id": fields["id"],
        "chargerId": fields["chargerId"],
        "action": fields["action"],
        "payload": loaded("payload"),
        "status": fields["status"],
        "createdAt": fields["createdAt"],
        "expiresAt": fields["expiresAt"],
        "sentAt": fields.get("sentAt"),
        "endedAt": fields.get("endedAt"),
        "answer": loaded("answer"),
        "error": error,
        "reason": fields.get("reason"),
    }


def get(store: Store, command_id: str) -> dict[str, Any] | None:
    """One command (see `_view`), or None."""
    if not is_command_id(command_id):
        return None
    fields: dict[str, str] = store.redis.hgetall(store.keys.command(command_id))
    return _view(fields) if fields.get("id") else None


def list_page(store: Store, cp_id: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """A charger's commands, oldest first, and how many there are; ids whose command
    has expired are dropped from the list on the way."""
    key = store.keys.command_history(cp_id)
    ids: list[str] = store.redis.zrange(key, 0, -1)
    pipe = store.redis.pipeline(transaction=False)
    for command_id in ids:
        pipe.hgetall(store.keys.command(command_id))
    found = list(zip(ids, pipe.execute(), strict=True))
    gone = [command_id for command_id, fields in found if not fields.get("id")]
    if gone:
        _raw(store).zrem(key, *gone)
    live = [_view(fields) for _, fields in found if fields.get("id")]
    return live[offset : offset + limit], len(live)


def queued_count(store: Store, cp_id: str) -> int:
    """How many commands wait in the charger's queue, counting one in flight."""
    pipe = store.redis.pipeline(transaction=False)
    pipe.llen(store.keys.command_queue(cp_id))
    pipe.exists(store.keys.command_inflight(cp_id))
    queued, inflight = pipe.execute()
    return int(queued) + int(inflight)


def due(store: Store, key: str, now_ms: int) -> list[str]:
    """Up to CHUNK ids of the sorted set `key` (expiries, deadlines) due by `now_ms`."""
    ids: list[str] = _raw(store).zrangebyscore(key, "-inf", now_ms, start=0, num=CHUNK)
    return ids


def forget_due(store: Store, key: str, command_id: str) -> None:
    """Drop an id from a due set (its command is gone, or no longer in that state)."""
    _raw(store).zrem(key, command_id)


def chargers_with_queue(store: Store) -> Iterator[str]:
    """The chargers that may have queued commands."""
    for cp_id in _raw(store).sscan_iter(store.keys.command_chargers, count=CHUNK):
        yield str(cp_id)


def _raw(store: Store) -> Any:
    """The client for the few commands `state.client`'s protocol does not type (ZREM,
    ZRANGEBYSCORE with LIMIT, SSCAN); replies decoded to str as everywhere."""
    return store.redis
