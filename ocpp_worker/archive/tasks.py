"""The archive's Celery tasks, on their own queue (``ocpp.archive``, the Procfile's
``background`` worker) so that a slow database never holds up an OCPP reply.

``ocpp.archive.session`` is sent by the StopTransaction task once its writes are
committed; ``ocpp.archive.sweep`` (celery beat, every `Settings.archive_sweep_s`)
archives whatever that missed. Both are idempotent (`archiver.archive`); acks are late
(celeryconfig), so a worker killed mid-archive leaves the message to another.
Defined with `shared_task`, like `ocpp_worker.maintenance`, so that celeryconfig can
read `beat_schedule` without importing the app it configures.
"""

from __future__ import annotations

import functools
from typing import Any

import redis
from celery import shared_task
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from ocpp_worker.archive import archiver
from ocpp_worker.archive.db import engine_for
from ocpp_worker.config import Settings
from ocpp_worker.state import liveness
from ocpp_worker.state.store import Store

ARCHIVE_SESSION = "ocpp.archive.session"
SWEEP = "ocpp.archive.sweep"
QUEUE = "ocpp.archive"

# A database or Redis away: try again later (the sweep catches what gives up).
_RETRY: dict[str, Any] = {
    "autoretry_for": (DBAPIError, redis.ConnectionError, redis.TimeoutError),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "max_retries": 12,
}


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    period = settings.archive_sweep_s
    return {SWEEP: {"task": SWEEP, "schedule": period, "options": {"expires": period}}}


@functools.cache
def _store() -> Store:
    return Store.connect()


def _engine() -> Engine:
    return engine_for(_store().settings)


@shared_task(name=ARCHIVE_SESSION, ignore_result=True, **_RETRY)
def archive_session(tx_id: int) -> str:
    return archiver.archive(_store(), _engine(), int(tx_id)).value


@shared_task(name=SWEEP, ignore_result=True, **_RETRY)
def sweep() -> dict[str, int] | None:
    store = _store()
    if not liveness.once_per(store, SWEEP, store.settings.archive_sweep_s):
        return None
    return archiver.sweep(store, _engine())
