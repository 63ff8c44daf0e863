"""The reply key of one charger CALL (``{p}server:reply:{cp}:{messageId}``): claimed
before its handler runs, then holding the reply for an hour.

Values are ``claim <frameId> <nonce>`` (a handler is running; expires after
`CLAIM_MS`, so a claim whose worker died frees itself) or ``reply <frameId> <frame>``.
`frameId` is the inbound stream entry the CALL came in: it tells a redelivery of
the same frame (answered already: send nothing) from the same message id sent again
(a new frame: send the same reply again).

A claim is committed by one script that checks it is still ours, applies the
handler's recorded `Writes` and stores the reply: atomic per CALL, and many CALLs'
commits can share one pipelined round trip.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from ocpp_worker.state.store import Store, Writes

# A claim outlives any handler run (milliseconds; a slow vendor hook, seconds) and frees
# itself well within the broker's visibility timeout (10 s), after which a killed
# worker's task is redelivered.
CLAIM_MS = 5_000
REPLY_MEMORY_SECONDS = 3600
ATTEMPTS_MEMORY_SECONDS = 3600

# Claim the key unless it holds a reply or another frame's claim; a claim of the same
# frame (ARGV[3], a redelivery whose first run died) may be taken over. A claim counts a
# run begun on its frame (KEYS[2], when ARGV[4] is "1"), in the same round trip, and
# returns that count; a worker killed under the frame leaves it raised.
_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current then
  local mine = ARGV[3] ~= '' and string.sub(current, 1, 7 + #ARGV[3]) == 'claim ' .. ARGV[3] .. ' '
  if not mine then return current end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[4] ~= '1' then return 1 end
local runs = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return runs
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Apply one CALL's writes and store its reply, if the claim is still ours (1), else
# nothing (0). The commands come from `Writes`; HDEL_IF_EQUAL is its compare-and-delete,
# XADD_IF_CHANGED its XADD when a hash's fields differ from given values (with the
# first field's old value as the entry's `prev`).
# (The keys are not declared: this needs a single Redis, not a cluster.)
_COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for _, command in ipairs(cjson.decode(ARGV[4])) do
  if command[1] == 'HDEL_IF_EQUAL' then
    if redis.call('HGET', command[2], command[3]) == command[4] then
      redis.call('HDEL', command[2], command[3])
    end
  elseif command[1] == 'XADD_IF_CHANGED' then
    local n = tonumber(command[3])
    local previous = redis.call('HGET', command[2], command[4])
    local changed = false
    for i = 0, n - 1 do
      if redis.call('HGET', command[2], command[4 + 2 * i]) ~= command[5 + 2 * i] then changed = true end
    end
    if changed then
      local args = {unpack(command, 4 + 2 * n)}
      table.insert(args, 'prev')
      table.insert(args, previous or '')
      redis.call('XADD', unpack(args))
    end
  else
    redis.call(unpack(command))
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


@dataclass(frozen=True)
class Found:
    """What the reply key held when we could not claim it."""

    is_reply: bool
    frame_id: str
    reply: str  # the reply frame when `is_reply`


def _found(value: str) -> Found:
    kind, _, rest = value.partition(" ")
    frame_id, _, body = rest.partition(" ")
    if kind == "claim":
        return Found(False, frame_id, "")
    if kind == "reply":
        return Found(True, frame_id, body)
    return Found(True, "", value)  # a bare frame, as stored before claims existed


@dataclass(frozen=True)
class Claim:
    """Our claim on one CALL: the value we put in its reply key."""

    cp_id: str
    unique_id: str
    frame_id: str
    token: str

    @classmethod
    def new(cls, cp_id: str, unique_id: str, frame_id: str) -> Claim:
        return cls(cp_id, unique_id, frame_id, f"claim {frame_id} {uuid.uuid4().hex}")

    def key(self, store: Store) -> str:
        return store.keys.reply_cache(self.cp_id, self.unique_id)


def queue_claim(pipe: Any, store: Store, claim: Claim, take_over: bool) -> None:
    """Queue `claim` on `pipe`; read its result with `claimed`. `take_over`: also take
    the claim of an earlier run of the same frame (it died)."""
    counted = "1" if claim.frame_id else ""
    attempts_key = store.keys.attempts(claim.frame_id or "-")
    take = claim.frame_id if take_over else ""
    pipe.eval(
        _CLAIM,
        2,
        claim.key(store),
        attempts_key,
        claim.token,
        CLAIM_MS,
        take,
        counted,
        ATTEMPTS_MEMORY_SECONDS,
    )


def claimed(result: int | str) -> int | Found:
    """The claim's run number on its frame (1 the first time; 1 for a frame without an
    id) if the queued claim succeeded, else what holds the CALL."""
    return int(result) if isinstance(result, int) else _found(result)


def release(store: Store, claim: Claim) -> None:
    """Give the CALL up (its handler failed and will be retried)."""
    store.redis.eval(_RELEASE, 1, claim.key(store), claim.token)


def queue_commit(pipe: Any, store: Store, claim: Claim, reply: str, writes: Writes) -> None:
    """Queue on `pipe` the atomic commit of one CALL; its result is 1, or 0 if the claim
    was lost (it expired and another run took the CALL)."""
    value = f"reply {claim.frame_id} {reply}"
    pipe.eval(
        _COMMIT, 1, claim.key(store), claim.token, value, REPLY_MEMORY_SECONDS, json.dumps(writes.commands)
    )


def run(store: Store, queue: Any, *args: Any) -> Any:
    """Run one queued command alone (`queue_claim`, `queue_commit`) and return its result."""
    pipe = store.redis.pipeline(transaction=False)
    queue(pipe, store, *args)
    return pipe.execute()[0]
