"""The reply key of one charger CALL (``{p}server:reply:{cp}:{messageId}``): claimed
before its handler runs, then holding the reply for an hour.

Values are ``claim <frameId> <nonce>`` (a handler is running; expires after
`CLAIM_MS`, so a claim whose worker died frees itself) or ``reply <frameId> <frame>``.
`frameId` is the inbound stream entry the CALL came in: it tells a redelivery of
the same frame (answered already: send nothing) from the same message id sent again
(a new frame: send the same reply again).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis

from ocpp_worker.state.store import Store, Writes

# A claim outlives any handler run (milliseconds; a slow vendor hook, seconds) and frees
# itself well within the broker's visibility timeout (10 s), after which a killed
# worker's task is redelivered.
CLAIM_MS = 5_000
REPLY_MEMORY_SECONDS = 3600
ATTEMPTS_MEMORY_SECONDS = 3600

# Claim the key unless it holds a reply or another frame's claim; a claim of the same
# frame (ARGV[3], a redelivery whose first run died) may be taken over.
_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current then
  local mine = ARGV[3] ~= '' and string.sub(current, 1, 7 + #ARGV[3]) == 'claim ' .. ARGV[3] .. ' '
  if not mine then return current end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
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


def claim(
    store: Store, cp_id: str, unique_id: str, frame_id: str, take_over: bool
) -> tuple[str | None, Found | None]:
    """(our claim, None) if the CALL is ours to handle, else (None, what holds it)."""
    token = f"claim {frame_id} {uuid.uuid4().hex}"
    key = store.keys.reply_cache(cp_id, unique_id)
    current = store.redis.eval(_CLAIM, 1, key, token, CLAIM_MS, frame_id if take_over else "")
    if current is None:
        return token, None
    return None, _found(current)


def release(store: Store, cp_id: str, unique_id: str, token: str) -> None:
    """Give the CALL up (its handler failed and will be retried)."""
    store.redis.eval(_RELEASE, 1, store.keys.reply_cache(cp_id, unique_id), token)


def commit(
    store: Store, cp_id: str, unique_id: str, frame_id: str, token: str, build: Callable[[Writes], str]
) -> str | None:
    """Run `build` on a MULTI pipeline (it queues its writes and returns the reply frame)
    and execute those writes with the reply, while our claim still holds.

    Returns the reply, or None if the claim was lost (it expired and another worker
    took the CALL). An exception from `build` discards its writes and propagates.
    """
    key = store.keys.reply_cache(cp_id, unique_id)
    with store.redis.pipeline(transaction=True) as w:
        try:
            w.watch(key)
            if w.get(key) != token:
                return None
            w.multi()
            reply = build(w)
            w.set(key, f"reply {frame_id} {reply}", ex=REPLY_MEMORY_SECONDS)
            w.execute()
        except redis.WatchError:
            return None
    return reply


def count_attempt(store: Store, frame_id: str) -> int:
    """How many times a task has now begun handling this inbound frame (1 the first
    time); a worker killed under it leaves the count raised."""
    if not frame_id:
        return 1
    pipe = store.redis.pipeline(transaction=False)
    pipe.incr(store.keys.attempts(frame_id))
    pipe.expire(store.keys.attempts(frame_id), ATTEMPTS_MEMORY_SECONDS)
    return int(pipe.execute()[0])
