"""One Celery task per OCPP action, named ``ocpp.v16.<Action>``, generated from the
handler registry: a task parses the frame it carries, runs `handlers.handle` (which
sends the reply to the gateway holding the charger) and asks for a retry when the
handler raised; the OCPP logic lives in the handlers."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery import Task
from celery.exceptions import Reject

from ocpp_worker import handlers, transport
from ocpp_worker.celery_app import app
from ocpp_worker.protocol import frames
from ocpp_worker.state import replies
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


def run_call(task: OcppCallTask, action: str, envelope: transport.TaskEnvelope) -> None:
    """Answer one charger CALL carried by `envelope` (see `transport.TaskEnvelope`),
    riding out a Redis outage in place."""
    store = task.store
    try:
        call = frames.parse(envelope["frame"], store.settings.max_frame_bytes)
    except frames.FrameError as exc:  # the bridge parsed it already: not from our bridge
        log.error("%s task for %s carries an unreadable frame: %s", action, envelope.get("cp"), exc.reason)
        return
    if not isinstance(call, frames.Call) or call.action != action:
        log.error("%s task for %s carries another frame; dropped", action, envelope.get("cp"))
        return
    attempt = 0
    for wait in (*OUTAGE_WAITS_S, None):
        try:
            attempt = attempt or replies.count_attempt(store, envelope["entry"])
            incoming = handlers.Incoming(
                cp_id=envelope["cp"],
                unique_id=call.unique_id,
                action=action,
                payload=call.payload,
                gateway=envelope["gw"],
                conn=envelope.get("conn", ""),
                frame_id=envelope["entry"],
                frame=envelope["frame"],
                attempt=attempt,
            )
            handlers.handle(store, incoming)
            return
        except handlers.HandlerCrashed as exc:
            raise task.retry(countdown=0.2 * attempt, max_retries=None) from exc
        except OUTAGES as exc:
            if wait is None:
                raise Reject(f"Redis unreachable: {exc}", requeue=True) from exc
            log.warning(
                "%s from %s: Redis unreachable (%s); trying again in %g s", action, envelope["cp"], exc, wait
            )
            time.sleep(wait)


def _make_task(action: str) -> Any:
    def run(self: OcppCallTask, envelope: transport.TaskEnvelope) -> None:
        run_call(self, action, envelope)

    run.__name__ = action
    run.__doc__ = f"Answer a {action} CALL from a charger."
    return app.task(name=transport.task_name(action), base=OcppCallTask, bind=True)(run)


TASKS = {action: _make_task(action) for action in sorted(handlers.HANDLERS)}
