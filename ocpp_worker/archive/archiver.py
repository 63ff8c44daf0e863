"""Move a completed session from Redis into the archive, exactly once.

`archive` runs when a StopTransaction's task has committed (`ocpp.archive.session`,
queue ``ocpp.archive``) and from the periodic `sweep` for any session that task
missed (a worker killed between the commit and the publish, Redis away then). It is
idempotent: the session row is inserted with ON CONFLICT DO NOTHING, in the same SQL
transaction as its meter values and its charger, so a session is in the archive
whole or not at all, and a second run (a redelivered task, a sweep) writes nothing.
Only after the commit does the session leave Redis's lists (`transactions.retire`):
a worker killed anywhere in between leaves it pending, and the next run finishes.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Insert, select
from sqlalchemy.dialects import postgresql, sqlite

from ocpp_worker import timeutil
from ocpp_worker.archive import records
from ocpp_worker.archive.models import Charger, ChargingSession, MeterValue
from ocpp_worker.state import chargepoints, transactions
from ocpp_worker.state.store import Store

log = logging.getLogger(__name__)

# Rows per INSERT of meter values (a day-long session at one sample of ten measurands
# a minute has 14,400).
SAMPLE_CHUNK = 1000
SWEEP_BATCH = 500


class Outcome(enum.Enum):
    ARCHIVED = "archived"  # written now
    ALREADY = "already"  # another run wrote it: nothing written
    CONFLICT = "conflict"  # the archive has another session under this id: left in Redis
    ACTIVE = "active"  # not completed: nothing to archive yet
    GONE = "gone"  # not in Redis (expired after archival, or never ours)


def retention_s(store: Store) -> int:
    return max(0, round(store.settings.redis_retention_hours * 3600))


def _insert(engine: Engine, model: type[Any]) -> Any:
    """INSERT for `model` with the dialect's ON CONFLICT (both SQLite and PostgreSQL
    have it)."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement: Insert = dialect.insert(model)
    return statement


def archive(store: Store, engine: Engine, tx_id: int, now: datetime | None = None) -> Outcome:
    """Archive transaction `tx_id` if it is completed, then retire it from Redis."""
    now = now or timeutil.utc_now()
    tx = transactions.get(store, tx_id)
    if tx is None:
        return Outcome.GONE
    if tx.get("status") != "completed":
        return Outcome.ACTIVE
    cp_id = tx["clientId"]
    charger = chargepoints.get(store, cp_id) or {}
    samples = transactions.samples_of(store, tx_id)
    session = records.session_row(tx, charger, len(samples), now)
    with engine.begin() as sql:
        charger_row = records.charger_row(cp_id, charger, now)
        upsert = _insert(engine, Charger).values(charger_row)
        changed = {k: v for k, v in charger_row.items() if k != "charger_id"}
        sql.execute(upsert.on_conflict_do_update(index_elements=["charger_id"], set_=changed))
        # RETURNING tells whether this run inserted it (rowcount is not reliable on
        # every driver for ON CONFLICT DO NOTHING)
        new_session = (
            _insert(engine, ChargingSession)
            .values(session)
            .on_conflict_do_nothing(index_elements=["transaction_id"])
            .returning(ChargingSession.transaction_id)
        )
        inserted = sql.execute(new_session).first() is not None
        if inserted:
            rows = records.sample_rows(tx_id, samples, session["stop_time"] or now)
            for start in range(0, len(rows), SAMPLE_CHUNK):
                sql.execute(_insert(engine, MeterValue), rows[start : start + SAMPLE_CHUNK])
        if not inserted and not _same_session(sql, session):
            log.error(
                "transaction %s of %s: the archive holds another session with this id (two "
                "deployments on one database?); it stays in Redis",
                tx_id,
                cp_id,
            )
            return Outcome.CONFLICT
    transactions.retire(store, tx_id, cp_id, retention_s(store))
    return Outcome.ARCHIVED if inserted else Outcome.ALREADY


def _same_session(sql: Connection, session: dict[str, Any]) -> bool:
    """Whether the archived row with this transaction id is this session (a run before
    this one wrote it), not another deployment's transaction with the same id."""
    held = sql.execute(
        select(ChargingSession.charger_id, ChargingSession.start_time).where(
            ChargingSession.transaction_id == session["transaction_id"]
        )
    ).one_or_none()
    if held is None:
        return False
    started = held.start_time
    same_start = (
        started is None or session["start_time"] is None or (records.utc(started) == session["start_time"])
    )
    return bool(held.charger_id == session["charger_id"] and same_start)


def sweep(store: Store, engine: Engine, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Archive completed sessions still pending (oldest first, at most `limit`), and
    count the outcomes."""
    counts: dict[str, int] = {}
    for tx_id in transactions.completed_unarchived(store, limit):
        outcome = archive(store, engine, tx_id)
        counts[outcome.value] = counts.get(outcome.value, 0) + 1
    if counts.get(Outcome.ARCHIVED.value):
        log.info("archive sweep: %s", counts)
    return counts
