"""Idempotency keys of the REST API in Redis: who holds a key, and the answer it got.

One hash per (caller, key) (`Keys.idempotency`), in one of two states:

* ``pending``: a request with this key is running. It holds a lease (a random token
  and a TTL a bit over the call timeout), so an API process killed mid-request never
  blocks the key for longer than that.
* ``done``: the first answer (status, headers, body), kept for OCPP_IDEMPOTENCY_HOURS.

Each state has the fingerprint of its request (a hash of method, path, query and
body), so a second request is told apart from a retry. Every change is one Lua
script: two requests racing for a key cannot both get it, and an answer is stored
only by the holder of the lease (or, once its lease ran out, if nobody took the key
in the meantime). The HTTP rules (which requests, which answers) are in
`api.idempotency`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from ocpp_worker.state.store import Store

# KEYS[1] the record; ARGV: fingerprint, token, lease (ms).
# -> {"claimed"} | {"mismatch"} | {"pending", pttl} | {"done", status, headers, body}
_CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'fingerprint', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'claimed'}
end
if redis.call('HGET', KEYS[1], 'fingerprint') ~= ARGV[1] then
  return {'mismatch'}
end
if state == 'pending' then
  return {'pending', redis.call('PTTL', KEYS[1])}
end
local stored = redis.call('HMGET', KEYS[1], 'status', 'headers', 'body')
return {'done', stored[1], stored[2], stored[3]}
"""

# KEYS[1] the record; ARGV: token, fingerprint, status, headers, body, ttl (s).
# Stores unless another request holds (or completed) the key since our lease ran out.
_COMPLETE = """
local token = redis.call('HGET', KEYS[1], 'token')
if token and token ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'done', 'fingerprint', ARGV[2],
  'status', ARGV[3], 'headers', ARGV[4], 'body', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""

# KEYS[1] the record; ARGV: token. Frees the key if we still hold its lease.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'state') == 'pending' and redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Answer:
    """A response as it is stored and replayed."""

    status: int
    headers: list[tuple[str, str]]
    body: str  # the UTF-8 text of the body (a JSON envelope)


@dataclass(frozen=True)
class Claimed:
    """The key is ours until `complete` or `release` (or the lease runs out)."""

    record: str
    token: str


@dataclass(frozen=True)
class Replay:
    """The key already answered this request: here is that answer."""

    answer: Answer


@dataclass(frozen=True)
class InFlight:
    """A request with this key and this fingerprint is running now."""

    lease_left_ms: int


@dataclass(frozen=True)
class Mismatch:
    """The key was used for another request (another fingerprint)."""


Claim = Claimed | Replay | InFlight | Mismatch


def claim(store: Store, digest: str, fingerprint: str, lease_ms: int) -> Claim:
    """Take the key `digest` for a request with `fingerprint`, or say why not."""
    record = store.keys.idempotency(digest)
    token = secrets.token_hex(16)
    reply = store.redis.eval(_CLAIM, 1, record, fingerprint, token, max(1, lease_ms))
    kind = reply[0]
    if kind == "claimed":
        return Claimed(record, token)
    if kind == "mismatch":
        return Mismatch()
    if kind == "pending":
        return InFlight(max(0, int(reply[1])))
    status, headers, body = reply[1:]
    pairs = [(str(name), str(value)) for name, value in json.loads(headers)]
    return Replay(Answer(int(status), pairs, body))


def complete(store: Store, held: Claimed, fingerprint: str, answer: Answer, ttl_s: int) -> bool:
    """Keep `answer` as the key's for `ttl_s` seconds; False if the key is no longer ours."""
    headers = json.dumps([list(pair) for pair in answer.headers])
    stored = store.redis.eval(
        _COMPLETE,
        1,
        held.record,
        held.token,
        fingerprint,
        answer.status,
        headers,
        answer.body,
        max(1, ttl_s),
    )
    return bool(stored)


def release(store: Store, held: Claimed) -> None:
    """Free the key without an answer (a retry may run the request again)."""
    store.redis.eval(_RELEASE, 1, held.record, held.token)
