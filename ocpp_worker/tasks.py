"""One Celery task per OCPP action, named ``ocpp.v16.<Action>``, generated from the
handler registry. A task carries a batch of that action's CALLs (one when traffic is
light: the bridge never waits to fill a batch), parses each frame, and runs
`handlers.handle_batch`, which answers each exactly once and sends the replies to the
gateways holding the chargers; the OCPP logic lives in the handlers."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery import Task
from celery.exceptions import Reject

from ocpp_worker import handlers, transport
from ocpp_worker.archive import tasks as archive_tasks
from ocpp_worker.celery_app import app
from ocpp_worker.protocol import frames
from ocpp_worker.state.store import Store

log = logging.getLogger(__name__)

OUTAGES = (redis.ConnectionError, redis.TimeoutError)
# Seconds to wait between tries while Redis is unreachable (~90 s in all). The task
# waits in place: a retry would have to publish a new message, which fails for as long
# as Redis does, and Celery then drops the CALL. After the last try the message is
# rejected for requeue; if Redis is still away, it stays unacknowledged in Redis and
# comes back after the visibility timeout.
OUTAGE_WAITS_S = (0.5, 1, 2, 4, 8, 10, 10, 10, 10, 10, 10, 10)


class OcppCallTask(Task):  # type: ignore[type-arg]
    """Shared behaviour of every handler task; the Store is made once per process."""

    abstract = True
    ignore_result = True
    _store: Store | None = None

    @property
    def store(self) -> Store:
        if OcppCallTask._store is None:
            OcppCallTask._store = Store.connect()
        return OcppCallTask._store


def run_batch(task: OcppCallTask, action: str, batch: list[transport.TaskEnvelope]) -> None:
    """Answer the charger CALLs of one action that `batch` carries (see
    `transport.TaskEnvelope`), each exactly once, riding out a Redis outage in place."""
    store = task.store
    calls: list[tuple[transport.TaskEnvelope, frames.Call]] = []
    for envelope in batch:
        try:
            call = frames.parse(envelope["frame"], store.settings.max_frame_bytes)
        except frames.FrameError as exc:  # the bridge parsed it already: not from our bridge
            log.error(
                "%s task for %s carries an unreadable frame: %s", action, envelope.get("cp"), exc.reason
            )
            continue
        if not isinstance(call, frames.Call) or call.action != action:
            log.error("%s task for %s carries another frame; dropped", action, envelope.get("cp"))
            continue
        calls.append((envelope, call))
    for wait in (*OUTAGE_WAITS_S, None):
        try:
            incoming = [
                handlers.Incoming(
                    cp_id=envelope["cp"],
                    unique_id=call.unique_id,
                    action=action,
                    payload=call.payload,
                    gateway=envelope["gw"],
                    conn=envelope.get("conn", ""),
                    frame_id=envelope["entry"],
                    frame=envelope["frame"],
                )
                for envelope, call in calls
            ]
            outcome = handlers.handle_batch(store, incoming)
            break
        except OUTAGES as exc:
            if wait is None:
                raise Reject(f"Redis unreachable: {exc}", requeue=True) from exc
            log.warning("%s: Redis unreachable (%s); trying again in %g s", action, exc, wait)
            time.sleep(wait)
    if outcome.to_archive:
        archive_tasks.schedule_drain(store)
    envelope_of = {envelope["entry"]: envelope for envelope, _ in calls}
    for crashed in outcome.crashed:  # retried alone, so the others' answers are not held up
        task.apply_async(args=([envelope_of[crashed.frame_id]],), countdown=0.2 * crashed.attempt)


def _make_task(action: str) -> Any:
    def run(self: OcppCallTask, batch: list[transport.TaskEnvelope] | transport.TaskEnvelope) -> None:
        # one envelope: a task published before batches existed
        run_batch(self, action, [batch] if isinstance(batch, dict) else batch)

    run.__name__ = action
    run.__doc__ = f"Answer a {action} CALL from a charger."
    return app.task(name=transport.task_name(action), base=OcppCallTask, bind=True)(run)


TASKS = {action: _make_task(action) for action in sorted(handlers.HANDLERS)}
