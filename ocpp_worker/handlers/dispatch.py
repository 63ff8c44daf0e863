"""From one charger CALL to exactly one effect and one reply.

A CALL can reach the workers more than once: a charger resends a message id, a
bridge re-dispatches a frame it had not acknowledged, Celery redelivers the task of
a killed worker, or runs two copies at once. So each (charger, message id) is
claimed in its reply key before its handler runs (`state.replies`), and the
handler's writes, the reply and its send to the gateway are executed in one MULTI
that holds only while the claim does:

* the key is free: claim it, run the handler, commit writes + reply + send;
* another frame holds the claim: wait for its reply (or for the claim to expire);
* it holds a reply: a new frame with that message id gets the same reply again; a
  redelivery of the frame that was answered gets nothing (its answer went out).

A handler that raises has its writes discarded; the task is retried until
`Settings.max_attempts` runs have begun (a worker killed under the frame counts
too), then the frame goes to the dead-letter stream and the charger gets an
InternalError. Nothing a charger sends can stop a worker.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case

from ocpp_worker import metrics, timeutil, transport
from ocpp_worker.handlers.registry import HANDLERS, REQUEST_CLASSES, CallContext
from ocpp_worker.protocol import errors, frames, validation
from ocpp_worker.state import chargepoints, dead_letters, replies
from ocpp_worker.state.store import Store, Writes

log = logging.getLogger(__name__)

OUTAGES = (redis.ConnectionError, redis.TimeoutError)
WAIT_POLL_S = 0.02


@dataclass(frozen=True)
class Incoming:
    """One charger CALL as a worker handles it."""

    cp_id: str
    unique_id: str
    action: str
    payload: Any
    gateway: str | None = None  # the gateway holding the socket; None: store the reply only
    conn: str = ""  # the connection it came in on
    frame_id: str = ""  # the inbound stream entry it came in ("" when unknown)
    frame: str = ""  # its text, kept with a dead letter
    attempt: int = 1  # runs begun on this frame, this one included: counted by its claim


class HandlerCrashed(Exception):
    """The handler raised; its writes were discarded and the CALL released for a retry."""


def build_request(action: str, payload: dict[str, Any]) -> Any:
    """The `ocpp` package's dataclass for a (schema-valid) payload. Optional fields the
    payload leaves out are None, even where the dataclass forgot a default."""
    cls = REQUEST_CLASSES[action]
    values = camel_to_snake_case(payload)
    for f in dataclasses.fields(cls):
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default and f.name not in values:
            values[f.name] = None
    return cls(**values)


def response_payload(response: Any) -> dict[str, Any]:
    payload: dict[str, Any] = remove_nones(snake_to_camel_case(serialize_as_dict(response)))
    return payload


def answer(
    store: Store, cp_id: str, unique_id: str, action: str, payload: Any, now: datetime | None = None
) -> str:
    """The reply frame for one CALL from `cp_id`, stored but not sent (for tests and
    tools; the tasks use `handle`)."""
    reply = handle(store, Incoming(cp_id, unique_id, action, payload), now)
    assert reply is not None  # without a frame id every call is a new frame
    return reply


def handle(store: Store, call: Incoming, now: datetime | None = None, take_over: bool = True) -> str | None:
    """Answer one CALL exactly once; returns the reply this run sent (or stored), None
    when another run of the same frame answers it.

    Redis connection errors propagate, so the task is retried instead of telling the
    charger about our outage; `HandlerCrashed` asks for a retry. `take_over`: take a
    claim left by an earlier run of this very frame (it died); not once a run of it
    has taken ours over, or two runs would take it from each other forever.
    """
    now = now or timeutil.utc_now()
    # another frame's claim is answered or expires within CLAIM_MS: never wait longer
    # than that (a task held past the visibility timeout is handed out again)
    deadline = time.monotonic() + replies.CLAIM_MS / 1000 + 1
    while time.monotonic() < deadline:
        claim = replies.Claim.new(call.cp_id, call.unique_id, call.frame_id)
        found = replies.claimed(replies.run(store, replies.queue_claim, claim, take_over))
        if isinstance(found, int):
            call = dataclasses.replace(call, attempt=found)
            reply, writes = prepare(store, call, claim, now)
            if replies.run(store, replies.queue_commit, claim, reply, writes):
                return reply
            take_over = False  # another run took the claim over: it answers
            continue
        if found.is_reply:
            if call.frame_id and found.frame_id == call.frame_id:
                return None
            _send(store, store.redis, call, found.reply)
            return found.reply
        time.sleep(WAIT_POLL_S)
    log.error(
        "%s %s from %s: no run finished it in time",
        call.action,
        call.unique_id,
        call.cp_id,
        extra=_fields(call, "overloaded"),
    )
    reply = frames.call_error(call.unique_id, "InternalError", "the central system is overloaded")
    metrics.worker().call_error(call.action, "InternalError")
    _send(store, store.redis, call, reply)
    return reply


@dataclass
class BatchOutcome:
    """What `handle_batch` did: the reply each CALL's run delivered (None: another run
    of that frame answers it), and the CALLs whose handler raised, to retry alone."""

    replies: list[str | None]
    crashed: list[Incoming]
    # transactions the committed writes gave the archive work for (a CALL answered by
    # `handle` after a wait is left to the archive's sweep)
    to_archive: list[int] = dataclasses.field(default_factory=list)


def handle_batch(store: Store, calls: list[Incoming], now: datetime | None = None) -> BatchOutcome:
    """Answer a batch of CALLs of one action exactly once each, in two pipelined round
    trips for the whole batch (claims; then commits, with the sends of cached replies)
    plus what the handlers read. A CALL whose message id another frame is handling
    waits for it alone, as `handle` does; one bad or crashing CALL fails no other."""
    now = now or timeutil.utc_now()
    claims = [replies.Claim.new(call.cp_id, call.unique_id, call.frame_id) for call in calls]
    pipe = store.redis.pipeline(transaction=False)
    for claim in claims:
        replies.queue_claim(pipe, store, claim, take_over=True)
    held_by = pipe.execute()

    outcome = BatchOutcome([None] * len(calls), [])
    waiting: list[int] = []  # held by another frame: handled one by one after the batch
    committing: dict[int, tuple[int, Writes]] = {}  # call index -> its commit's place, its writes
    commits = store.redis.pipeline(transaction=False)
    for i, (call, claim, held) in enumerate(zip(calls, claims, held_by, strict=True)):
        found = replies.claimed(held)
        if isinstance(found, int):
            call = dataclasses.replace(call, attempt=found)
            try:
                reply, writes = prepare(store, call, claim, now)
            except HandlerCrashed:
                outcome.crashed.append(call)
                continue
            committing[i] = (len(commits), writes)
            replies.queue_commit(commits, store, claim, reply, writes)
            outcome.replies[i] = reply
        elif not found.is_reply:
            waiting.append(i)
        elif not (call.frame_id and found.frame_id == call.frame_id):
            _send(store, commits, call, found.reply)
            outcome.replies[i] = found.reply
    results = commits.execute()
    # a commit whose claim expired meanwhile: another run of that frame answers it
    lost = [i for i, (place, _) in committing.items() if results[place] == 0]
    for place, writes in committing.values():
        if results[place] != 0:
            outcome.to_archive.extend(writes.to_archive)
    for i, take_over in [*((i, True) for i in waiting), *((i, False) for i in lost)]:
        try:
            outcome.replies[i] = handle(store, calls[i], now, take_over)
        except HandlerCrashed:
            outcome.crashed.append(calls[i])
    return outcome


def prepare(store: Store, call: Incoming, claim: replies.Claim, now: datetime) -> tuple[str, Writes]:
    """Run the handler of a claimed CALL: its reply, and its writes with the reply's
    send. A handler that raises is retried (`HandlerCrashed`, the claim released) until
    `Settings.max_attempts` runs, then the CALL goes to the dead letters."""
    started = time.perf_counter()
    writes = Writes()
    after_reply: list[transport.CsmsCall] = []  # the handler's CALLs to the charger
    if call.attempt > store.settings.max_attempts:
        reply = _dead_letter(store, writes, call, f"{call.attempt - 1} runs did not finish")
    else:
        try:
            reply = _result(store, writes, call, now, after_reply)
        except errors.OcppError as exc:
            writes, after_reply = Writes(), []  # an error answer has no effect
            reply = frames.call_error(call.unique_id, exc.code, exc.description, exc.details)
            metrics.worker().call_error(call.action, exc.code)
        except OUTAGES:
            raise
        except Exception as exc:
            log.exception(
                "%s from %s (message %s) failed",
                call.action,
                call.cp_id,
                call.unique_id,
                extra=_fields(call, "handler_error"),
            )
            if call.attempt < store.settings.max_attempts:
                replies.release(store, claim)
                raise HandlerCrashed(repr(exc)) from exc
            writes, after_reply = Writes(), []
            reply = _dead_letter(store, writes, call, f"handler raised {exc!r}")
    metrics.worker().handled(call.action, time.perf_counter() - started)
    chargepoints.touch(writes, store.keys, call.cp_id, timeutil.iso(now))
    _send(store, writes, call, reply)
    if call.gateway:
        for op in after_reply:  # after the reply, in the same outbox: the charger gets it first
            transport.to_gateway(writes, store.keys, call.gateway, op)
    return reply, writes


def _result(
    store: Store, w: Writes, call: Incoming, now: datetime, after_reply: list[transport.CsmsCall]
) -> str:
    handler = HANDLERS.get(call.action)
    if handler is None:
        raise errors.NotImplementedActionError(f"{call.action} is not handled")
    validation.validate("request", call.action, call.payload)
    ctx = CallContext(store, w, call.cp_id, call.unique_id, call.payload, now, after_reply)
    result = response_payload(handler(ctx, build_request(call.action, call.payload)))
    try:
        validation.validate("response", call.action, result)
    except errors.OcppError as exc:
        log.error("%s reply for %s breaks the schema: %s", call.action, call.cp_id, exc.description)
        raise errors.InternalError("the central system built an invalid reply") from exc
    return frames.call_result(call.unique_id, result)


def _fields(call: Incoming, outcome: str) -> dict[str, str]:
    """A CALL's fields in a structured log line (`ocpp_worker.logs`)."""
    return {"charger_id": call.cp_id, "message_id": call.unique_id, "action": call.action, "outcome": outcome}


def _dead_letter(store: Store, w: Writes, call: Incoming, reason: str) -> str:
    log.error(
        "%s %s from %s moved to the dead letters: %s",
        call.action,
        call.unique_id,
        call.cp_id,
        reason,
        extra=_fields(call, "dead_letter"),
    )
    metrics.worker().dead_letter(call.action)
    metrics.worker().call_error(call.action, "InternalError")
    dead_letters.record(
        store,
        w,
        cp_id=call.cp_id,
        unique_id=call.unique_id,
        action=call.action,
        frame=call.frame,
        reason=reason,
        attempts=call.attempt,
    )
    return frames.call_error(call.unique_id, "InternalError", f"handling {call.action} failed")


def _send(store: Store, client: Any, call: Incoming, reply: str) -> None:
    if call.gateway:
        transport.to_gateway(client, store.keys, call.gateway, transport.Send(call.cp_id, reply, call.conn))
