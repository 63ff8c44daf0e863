"""Queued commands: calls to a charger that wait for it (issue 13), delivered one at a
time in order, each answer recorded. The state and its transitions: `state.commands`.

Delivery never waits on a charger, so no process blocks on one: `deliver_next` marks
the charger's next command ``sent`` and puts its CALL (message id = command id) in the
outbox of the gateway holding the socket, as `calls.call` does, and returns. The
answer comes back through the bridge, whose `record_outcome` call records it and
delivers the next command. What starts a delivery:

* the gateway, when a charger that has booted before connects, and when it sends a
  charger an Accepted BootNotification reply (`deliver_next_async`);
* the bridge, after each answer (`record_outcome`);
* the API, right after it queued a command (the charger may have connected meanwhile);
* the sweep, every OCPP_COMMAND_SWEEP_S (beat task ``ocpp.commands.sweep`` on the
  ``ocpp.commands`` queue): it expires due commands, fails the ones sent more than
  OCPP_CALL_TIMEOUT ago without an answer (also those a restart left ``sent``), and
  delivers for every charger with a queue.

At most once: a command is marked sent before its CALL is written, and a sent command
is never sent again; one whose answer is lost ends ``failed`` (no answer).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery import shared_task

from ocpp_worker import calls, maintenance, timeutil, transport
from ocpp_worker.config import Settings
from ocpp_worker.protocol import errors, frames
from ocpp_worker.state import commands as state
from ocpp_worker.state import liveness
from ocpp_worker.state.keys import Keys
from ocpp_worker.state.store import Store

log = logging.getLogger(__name__)

SWEEP = "ocpp.commands.sweep"
QUEUE = "ocpp.commands"
MAX_TTL_S = 7 * 24 * 3600  # the longest a request may ask a command to wait
SWEEP_ROUNDS = 20  # chunks of due commands one sweep handles at most (20 x 500)


class NotQueueable(calls.CallFailed):
    """The call may not wait in Redis (it carries a key we never keep)."""


def _iso(epoch_s: float) -> str:
    return timeutil.iso(datetime.fromtimestamp(epoch_s, UTC))


def queue(store: Store, cp_id: str, action: str, payload: dict[str, Any], ttl_s: float) -> dict[str, Any]:
    """Queue `action` for `cp_id`, waiting at most `ttl_s` seconds; the stored command.

    Checked exactly as a call sent now (`calls.check_request`: `UnknownAction`,
    `InvalidPayload`); raises `NotQueueable` for an AuthorizationKey change and
    `state.QueueFull` beyond `Settings.command_max_queued`. Then tries to deliver at once."""
    calls.check_request(action, payload)
    if calls.carries_secret(action, payload):
        raise NotQueueable(
            "a ChangeConfiguration of AuthorizationKey is never queued: the key is never stored"
        )
    command_id = state.new_id()
    frame = frames.call(command_id, action, payload)
    limit = store.settings.max_frame_bytes
    if len(frame.encode()) > limit:
        error = errors.PropertyConstraintViolationError(f"the CALL would be larger than {limit} bytes")
        raise calls.InvalidPayload(error)
    now = time.time()
    expires = now + ttl_s
    state.enqueue(
        store,
        state.NewCommand(
            id=command_id,
            cp_id=cp_id,
            action=action,
            payload=payload,
            frame=frame,
            created_ms=int(now * 1000),
            expires_ms=int(expires * 1000),
            created_at=_iso(now),
            expires_at=_iso(expires),
        ),
    )
    log.info("%s %s: queued as %s", cp_id, action, command_id, extra=_fields(cp_id, command_id, "queued"))
    deliver_next(store, cp_id)
    command = state.get(store, command_id)
    assert command is not None  # just written; it lives at least a day
    return command


def _fields(cp_id: str, command_id: str, outcome: str) -> dict[str, str]:
    return {"charger_id": cp_id, "message_id": command_id, "outcome": f"command_{outcome}"}


def _call_op(cp_id: str, claimed: state.Claimed, now: float, settings: Settings) -> transport.CsmsCall:
    return transport.CsmsCall(cp_id, claimed.id, claimed.action, claimed.frame, now + settings.call_timeout)


def deliver_next(store: Store, cp_id: str) -> str | None:
    """Send the charger's next command if it can take one now; its id, or None."""
    now = time.time()
    got = state.claim_next(store, cp_id, int(now * 1000), int(store.settings.call_timeout * 1000), _iso(now))
    if isinstance(got, str):
        return None
    transport.to_gateway(store.redis, store.keys, got.gateway, _call_op(cp_id, got, now, store.settings))
    log.info("%s %s: sent %s", cp_id, got.action, got.id, extra=_fields(cp_id, got.id, "sent"))
    return got.id


async def deliver_next_async(r: Any, keys: Keys, settings: Settings, cp_id: str) -> str | None:
    """`deliver_next` on an asyncio client (the gateway's)."""
    now = time.time()
    script, numkeys, args = state.claim_args(
        keys, cp_id, int(now * 1000), int(settings.call_timeout * 1000), _iso(now)
    )
    got = state.claimed(await r.eval(script, numkeys, *args))
    if isinstance(got, str):
        return None
    await transport.to_gateway(r, keys, got.gateway, _call_op(cp_id, got, now, settings))
    log.info("%s %s: sent %s", cp_id, got.action, got.id, extra=_fields(cp_id, got.id, "sent"))
    return got.id


def _ending(outcome: transport.CallOutcome) -> tuple[str, dict[str, str]]:
    """The status and fields a command ends with, for what became of its CALL."""
    kind = outcome["kind"]
    if kind == "result":
        return state.ANSWERED, {"answer": json.dumps(outcome.get("payload"), separators=(",", ":"))}
    if kind == "abandoned":
        return state.FAILED, {"reason": "the charge point disconnected before answering"}
    fields = {
        "errorCode": outcome.get("errorCode", "GenericError"),
        "errorDescription": outcome.get("errorDescription", ""),
        "errorDetails": json.dumps(outcome.get("errorDetails") or {}, separators=(",", ":")),
    }
    if kind == "invalid":
        fields["reason"] = "the answer breaks the action's 1.6 response schema"
        fields["errorDetails"] = json.dumps({"payload": outcome.get("payload")}, separators=(",", ":"))
    else:
        fields["reason"] = "the charge point answered with a CALLERROR"
    return state.FAILED, fields


def record_outcome(store: Store, command_id: str, outcome: transport.CallOutcome) -> bool:
    """Record what became of a sent command's CALL (the bridge, for every answer or
    abandoned CALL whose message id is a command id), apply what an accepted answer
    changes (`calls.AFTER_RESULT`), and deliver the charger's next command. False when
    the command was not waiting for an answer (ended already: late, or unknown); the
    next command is still tried, so a run that died after recording loses no delivery."""
    status, fields = _ending(outcome)
    fields["endedAt"] = _iso(time.time())
    done = state.finish(store, command_id, status, fields)
    command = state.get(store, command_id)
    if command is None:
        return done
    cp_id = command["chargerId"]
    if not done:  # late, or a redelivered entry whose first run failed after recording
        log.info("answer to command %s, which is not waiting for one", command_id)
        deliver_next(store, cp_id)
        return False
    log.info(
        "%s %s: %s %s", cp_id, command["action"], command_id, status, extra=_fields(cp_id, command_id, status)
    )
    after = calls.AFTER_RESULT.get(command["action"])
    if status == state.ANSWERED and after is not None:
        try:
            after(store, cp_id, command["payload"], command["answer"])
        except Exception:  # the answer is recorded; its side effect must not stop the queue
            log.exception("%s: could not apply the answer to command %s", cp_id, command_id)
    deliver_next(store, cp_id)
    return True


@dataclass(frozen=True)
class SweepReport:
    expired: int
    unanswered: int
    delivered: int


def sweep(store: Store) -> SweepReport:
    """Expire due queued commands, fail sent ones past their answer deadline, and start
    delivery for every charger with a queue. Idempotent; bounded per run."""
    keys = store.keys
    expired = unanswered = delivered = 0
    for _ in range(SWEEP_ROUNDS):
        now = time.time()
        due = state.due(store, keys.command_expiries, int(now * 1000))
        for command_id in due:
            before = state.drop_queued(store, command_id, state.EXPIRED, _iso(now), int(now * 1000))
            if before == state.QUEUED:
                expired += 1
            elif before != "not_due":
                state.forget_due(store, keys.command_expiries, command_id)
        if len(due) < state.CHUNK:
            break
    for _ in range(SWEEP_ROUNDS):
        now = time.time()
        due = state.due(store, keys.command_deadlines, int(now * 1000))
        for command_id in due:
            reason = f"no answer within {store.settings.call_timeout:g} s"
            if state.finish(store, command_id, state.FAILED, {"reason": reason, "endedAt": _iso(now)}):
                unanswered += 1
            else:
                state.forget_due(store, keys.command_deadlines, command_id)
        if len(due) < state.CHUNK:
            break
    for cp_id in state.chargers_with_queue(store):
        if deliver_next(store, cp_id) is not None:
            delivered += 1
    if expired or unanswered or delivered:
        log.info("commands: %d expired, %d unanswered, %d delivered", expired, unanswered, delivered)
    return SweepReport(expired, unanswered, delivered)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The sweep's entry in celeryconfig.beat_schedule."""
    return maintenance.every(SWEEP, settings.command_sweep_s)


@shared_task(name=SWEEP, ignore_result=True)
def sweep_task() -> None:
    """One sweep per OCPP_COMMAND_SWEEP_S, whatever number of beats send it."""
    store = maintenance.task_store()
    if liveness.once_per(store, SWEEP, store.settings.command_sweep_s):
        sweep(store)
