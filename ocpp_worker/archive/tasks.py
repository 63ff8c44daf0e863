"""The archive's Celery tasks, on their own queue (``ocpp.archive``, the Procfile's
``background`` worker) so that a slow database never holds up an OCPP reply.

``ocpp.archive.drain`` is sent by a StopTransaction task once its writes are committed,
unless a drain is on its way already; ``ocpp.archive.sweep`` (celery beat, every
`Settings.archive_sweep_s`) gives back what dead archivers took, then drains. Both are
idempotent (`archiver`); a worker killed mid-archive leaves its sessions under a lease
that the sweep returns.
Defined with `shared_task`, like `ocpp_worker.maintenance`, so that celeryconfig can
read `beat_schedule` without importing the app it configures.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import shared_task
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from ocpp_worker import maintenance
from ocpp_worker.archive import archiver
from ocpp_worker.archive.db import engine_for
from ocpp_worker.config import Settings
from ocpp_worker.state import liveness, transactions
from ocpp_worker.state.store import Store

log = logging.getLogger(__name__)

DRAIN = "ocpp.archive.drain"
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
    return maintenance.every(SWEEP, settings.archive_sweep_s)


def _engine() -> Engine:
    return engine_for(maintenance.task_store().settings)


@shared_task(name=DRAIN, ignore_result=True, **_RETRY)
def drain() -> dict[str, int]:
    return archiver.drain(maintenance.task_store(), _engine())


# A drain starts this long after the stop that sent it: the stops of that second share
# it (one SQL transaction, one task), instead of a drain per stop under load.
DRAIN_DELAY_S = 1.0


def schedule_drain(store: Store) -> None:
    """Send a drain task for sessions just completed, unless one is on its way; if Redis
    refuses it now, the sweep drains later."""
    try:
        if transactions.schedule_archive(store):
            drain.apply_async(countdown=DRAIN_DELAY_S, retry=False)
    except Exception as exc:  # the replies went out already: never fail their CALLs for this
        log.warning("no archive drain sent now (%s); the sweep will drain", exc)


@shared_task(name=SWEEP, ignore_result=True, **_RETRY)
def sweep() -> dict[str, int] | None:
    store = maintenance.task_store()
    if not liveness.once_per(store, SWEEP, store.settings.archive_sweep_s):
        return None
    return archiver.sweep(store, _engine())
