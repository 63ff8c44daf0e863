"""The periodic tasks Celery beat sends (Procfile ``beat``; celeryconfig.beat_schedule
is `beat_schedule` below): liveness of chargers and gateways (`state.liveness`).

Every `Settings.liveness_interval_s` (30 s): ``ocpp.maintenance.mark_stale`` marks the
chargers silent for `Settings.stale_factor` (2) x their HeartbeatInterval, and
``ocpp.maintenance.prune_gateways`` drops gateways that stopped refreshing their
registration. Both are idempotent, and each runs at most once per period whatever
number of beats send it (`liveness.once_per`): a second beat started by mistake costs
nothing but a refused lock. A run not taken by a worker within the period expires,
so stopped workers do not come back to a backlog of them.

Defined with `shared_task` so that celeryconfig can read `beat_schedule` without
importing the app it configures.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery import shared_task

from ocpp_worker.config import Settings
from ocpp_worker.state import liveness
from ocpp_worker.state.store import Store

log = logging.getLogger(__name__)

MARK_STALE = "ocpp.maintenance.mark_stale"
PRUNE_GATEWAYS = "ocpp.maintenance.prune_gateways"


def every(task: str, period_s: float, **options: str) -> dict[str, dict[str, Any]]:
    """The celery beat entry of a periodic task: `task` every `period_s`; a run that no
    worker took within its period expires (every beat task here is idempotent and runs
    once per period, `liveness.once_per`)."""
    return {task: {"task": task, "schedule": period_s, "options": {"expires": period_s, **options}}}


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    period = settings.liveness_interval_s
    return {**every(MARK_STALE, period), **every(PRUNE_GATEWAYS, period)}


@functools.cache
def task_store() -> Store:
    """The store of this worker process's periodic and background tasks (made on first
    use, after Celery forked)."""
    return Store.connect()


def mark_stale(store: Store) -> liveness.StaleReport | None:
    """One run of the stale check, or None when another beat's run had this period."""
    settings = store.settings
    if not liveness.once_per(store, MARK_STALE, settings.liveness_interval_s):
        return None
    report = liveness.mark_stale(store, settings.stale_factor)
    if report.marked or report.cleared:
        log.info(
            "liveness: %d stale of %d chargers (%d newly, %d spoke again)",
            report.stale,
            report.checked,
            report.marked,
            report.cleared,
        )
    return report


def prune_gateways(store: Store) -> list[str] | None:
    """One run of the gateway prune, or None when another beat's run had this period."""
    if not liveness.once_per(store, PRUNE_GATEWAYS, store.settings.liveness_interval_s):
        return None
    dead, chargers = liveness.prune_gateways(store)
    if dead or chargers:
        log.warning(
            "liveness: dropped %d dead gateways (%s) and %d expired charger registrations",
            len(dead),
            ", ".join(dead) or "-",
            chargers,
        )
    return dead


@shared_task(name=MARK_STALE, ignore_result=True)
def mark_stale_task() -> None:
    mark_stale(task_store())


@shared_task(name=PRUNE_GATEWAYS, ignore_result=True)
def prune_gateways_task() -> None:
    prune_gateways(task_store())
