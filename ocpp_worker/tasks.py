"""One Celery task per OCPP action, named ``ocpp.v16.<Action>``, generated from the
handler registry: a task only runs `handlers.answer` and ships the reply to the
gateway holding the charger; the OCPP logic lives in the handlers."""

from __future__ import annotations

from typing import Any

import redis
from celery import Task

from ocpp_worker import handlers, transport
from ocpp_worker.celery_app import app
from ocpp_worker.state.store import Store


class OcppCallTask(Task):  # type: ignore[type-arg]
    """Shared behaviour of every handler task; the Store is made once per process."""

    abstract = True
    ignore_result = True
    autoretry_for = (redis.ConnectionError, redis.TimeoutError)
    retry_backoff = 1
    retry_backoff_max = 10
    max_retries = 10
    _store: Store | None = None

    @property
    def store(self) -> Store:
        if OcppCallTask._store is None:
            OcppCallTask._store = Store.connect()
        return OcppCallTask._store


def run_call(task: OcppCallTask, action: str, envelope: dict[str, Any]) -> None:
    """Answer one charger CALL. The envelope is what the bridge read from the frame:
    cp, gw (gateway holding the socket), id, payload."""
    store = task.store
    reply = handlers.answer(store, envelope["cp"], envelope["id"], action, envelope["payload"])
    transport.to_gateway(
        store.redis, store.keys, envelope["gw"], transport.SEND, cp=envelope["cp"], frame=reply
    )


def _make_task(action: str) -> Any:
    def run(self: OcppCallTask, envelope: dict[str, Any]) -> None:
        run_call(self, action, envelope)

    run.__name__ = action
    run.__doc__ = f"Answer a {action} CALL from a charger."
    return app.task(name=f"ocpp.v16.{action}", base=OcppCallTask, bind=True)(run)


TASKS = {action: _make_task(action) for action in sorted(handlers.HANDLERS)}
