"""Firmware, diagnostics and log jobs: what the central system asked a charger to do
(UpdateFirmware, GetDiagnostics, SignedUpdateFirmware, GetLog), what it answered and
each status it reported since, with when we received it.

A job is stored *before* its CALL is sent: a charger may report its first status
(Downloading, Uploading) right after its answer, sooner than the API process waiting
for that answer gets it, and the notification's handler must find the job. A call
that failed for sure (offline, CALLERROR, a payload refused before sending) removes
the job again (`discard`): nothing was asked of the charger. A call that timed out may
have reached it, so its job stays, with the status ``NoAnswer``.

Each job is a hash, its history a list of ``{status, at}`` (RPUSH: a notification and
the answer never overwrite each other), its id a member of the charger's sorted set.
The job id comes from one counter and is also the ``requestId`` of GetLog and
SignedUpdateFirmware, so their notifications name their job directly. The plain 1.6
notifications name nothing: they go to the charger's latest job of their kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ocpp_worker.state.store import Store, Writes

# kind -> the OCPP action that starts such a job
ACTIONS = {
    "firmware": "UpdateFirmware",
    "diagnostics": "GetDiagnostics",
    "signed-firmware": "SignedUpdateFirmware",
    "logs": "GetLog",
}
KINDS = tuple(ACTIONS)
REQUESTED = "Requested"  # stored, CALL on its way
ACCEPTED = "Accepted"  # the answer of the plain 1.6 calls, which carry no status
NO_ANSWER = "NoAnswer"  # the call timed out: the charger may or may not have it
JOBS_KEPT = 100  # per charger; older jobs are deleted when a new one is created

# The answer's status (or ACCEPTED) goes into the history only while the job is still
# Requested: a notification that came first is newer news.
_RECORD_ANSWER = """
redis.call('HSET', KEYS[1], 'answer', ARGV[1])
if redis.call('LLEN', KEYS[2]) == 1 then redis.call('RPUSH', KEYS[2], ARGV[2]) end
return 1
"""


@dataclass(frozen=True)
class Listing:
    items: list[dict[str, Any]]
    total: int


def _entry(status: str, at: str) -> str:
    return json.dumps({"status": status, "at": at}, separators=(",", ":"))


def create(
    store: Store, cp_id: str, kind: str, build: Callable[[int], dict[str, Any]], now: str
) -> tuple[int, dict[str, Any]]:
    """Store a new Requested job of `kind`; `build(job_id)` makes its request payload
    (which may carry the id as requestId). Returns the id and the payload; the job is
    the charger's latest of its kind from now on."""
    keys = store.keys
    job_id = int(store.redis.incr(keys.job_counter))
    request = build(job_id)
    pipe = store.redis.pipeline(transaction=True)
    pipe.hset(
        keys.job(cp_id, job_id),
        mapping={"id": job_id, "kind": kind, "request": json.dumps(request), "created": now},
    )
    pipe.rpush(keys.job_history(cp_id, job_id), _entry(REQUESTED, now))
    pipe.zadd(keys.jobs(cp_id), {str(job_id): job_id})
    pipe.hset(keys.job_latest(cp_id), kind, job_id)
    pipe.zrange(keys.jobs(cp_id), 0, -(JOBS_KEPT + 1))
    old = pipe.execute()[-1]
    if old:
        _delete(store, cp_id, [int(i) for i in old])
    return job_id, request


def _delete(store: Store, cp_id: str, job_ids: list[int]) -> None:
    pipe = store.redis.pipeline(transaction=True)
    for job_id in job_ids:
        pipe.delete(store.keys.job(cp_id, job_id), store.keys.job_history(cp_id, job_id))
        pipe.zrem(store.keys.jobs(cp_id), str(job_id))
    pipe.execute()


def discard(store: Store, cp_id: str, kind: str, job_id: int) -> None:
    """The CALL surely did not reach the charger: forget the job, and let the latest job
    of its kind be the one before it (if any is kept)."""
    _delete(store, cp_id, [job_id])
    keys = store.keys
    if store.redis.hget(keys.job_latest(cp_id), kind) == str(job_id):
        previous = [int(i) for i in store.redis.zrevrange(keys.jobs(cp_id), 0, -1)]
        kinds = {i: store.redis.hget(keys.job(cp_id, i), "kind") for i in previous}
        earlier = [i for i in previous if kinds[i] == kind]
        if earlier:
            store.redis.hset(keys.job_latest(cp_id), kind, earlier[0])
        else:
            store.redis.hdel(keys.job_latest(cp_id), kind)


def record_answer(store: Store, cp_id: str, job_id: int, answer: dict[str, Any], now: str) -> None:
    """The charger's CALLRESULT payload; its status (Accepted for the calls without one)
    joins the history unless a notification got there first."""
    status = str(answer.get("status", ACCEPTED))
    store.redis.eval(
        _RECORD_ANSWER,
        2,
        store.keys.job(cp_id, job_id),
        store.keys.job_history(cp_id, job_id),
        json.dumps(answer),
        _entry(status, now),
    )


def record_no_answer(store: Store, cp_id: str, job_id: int, now: str) -> None:
    store.redis.rpush(store.keys.job_history(cp_id, job_id), _entry(NO_ANSWER, now))


def latest_of_kind(store: Store, cp_id: str, kind: str) -> int | None:
    raw = store.redis.hget(store.keys.job_latest(cp_id), kind)
    return int(raw) if raw is not None else None


def exists(store: Store, cp_id: str, kind: str, job_id: int) -> bool:
    """Whether `job_id` is a kept job of this charger and of this kind (a requestId
    from a charger is input: it may name anything)."""
    return bool(store.redis.hget(store.keys.job(cp_id, job_id), "kind") == kind)


def record_status(
    store: Store, w: Writes, cp_id: str, kind: str, job_id: int | None, status: str, now: str
) -> None:
    """A notification's status, queued on `w` (the handler's writes), for job `job_id`
    (None: the latest job of `kind`); nothing when there is no such job of ours."""
    if job_id is None:
        job_id = latest_of_kind(store, cp_id, kind)
    if job_id is not None and exists(store, cp_id, kind, job_id):
        w.rpush(store.keys.job_history(cp_id, job_id), _entry(status, now))


def get(store: Store, cp_id: str, job_id: int) -> dict[str, Any] | None:
    pipe = store.redis.pipeline(transaction=False)
    pipe.hgetall(store.keys.job(cp_id, job_id))
    pipe.lrange(store.keys.job_history(cp_id, job_id), 0, -1)
    fields, raw_history = pipe.execute()
    if not fields:
        return None
    history = [json.loads(entry) for entry in raw_history]
    return {
        "id": int(fields["id"]),
        "kind": fields["kind"],
        "request": json.loads(fields["request"]),
        "created": fields["created"],
        "answer": json.loads(fields["answer"]) if "answer" in fields else None,
        "status": history[-1]["status"] if history else None,
        "statusAt": history[-1]["at"] if history else None,
        "history": history,
    }


def listing(store: Store, cp_id: str, kind: str | None, offset: int, limit: int) -> Listing:
    """A charger's jobs (of `kind`, when given), newest first. Reads at most
    `JOBS_KEPT` jobs when filtering."""
    ids = [int(i) for i in store.redis.zrevrange(store.keys.jobs(cp_id), 0, -1)]
    found = [job for job in (get(store, cp_id, i) for i in ids) if job is not None]
    if kind is not None:
        found = [job for job in found if job["kind"] == kind]
    return Listing(found[offset : offset + limit], len(found))
