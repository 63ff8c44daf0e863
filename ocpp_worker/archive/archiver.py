"""Move completed sessions from Redis into the archive, exactly once, many at a time.

A StopTransaction's commit adds its transaction to the waiting set
(`{p}business:transactions:to-archive`) and its task sends one drain task
(``ocpp.archive.drain``, queue ``ocpp.archive``) unless one is on its way already: under
load one drain archives the sessions of many stops in one SQL transaction. `drain`
takes the waiting sessions under a lease (`transactions.take_for_archive`,
`Settings.archive_lease_s`), so two archivers never take the same ones; a failed write
gives them back at once, and `sweep` (beat) gives back the leases of archivers that died
and re-queues any completed session that lost its place.

Writing is idempotent: session rows are inserted with ON CONFLICT DO NOTHING, in the
same SQL transaction as their meter values and chargers, so a session is in the archive
whole or not at all, and a second run writes nothing. Only after the commit does a
session leave Redis's lists (`transactions.retire`): a worker killed anywhere in between
leaves it taken under a lease, and the next run after the lease finishes it.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Insert, select, update

from ocpp_worker import timeutil
from ocpp_worker.archive import records
from ocpp_worker.archive.models import Charger, ChargingSession, MeterValue
from ocpp_worker.state import transactions
from ocpp_worker.state.store import Store, hashes

log = logging.getLogger(__name__)

DRAIN_BATCH = 200  # sessions per SQL transaction
# ... and at most this many sampled values (in memory at once, and rows in one SQL
# transaction): a charger may keep 20,000 in each of its transactions.
DRAIN_SAMPLES = 50_000
SAMPLE_CHUNK = 1000  # meter value rows per INSERT


class Outcome(enum.Enum):
    ARCHIVED = "archived"  # written now
    ALREADY = "already"  # another run wrote it: nothing written
    EXTENDED = "extended"  # archived before; samples that came after its stop added now
    CONFLICT = "conflict"  # the archive has another session under this id: left in Redis
    ACTIVE = "active"  # not completed: nothing to archive yet
    GONE = "gone"  # not in Redis (expired after archival, or never ours)


def retention_s(store: Store) -> int:
    return max(0, round(store.settings.redis_retention_hours * 3600))


def _insert(engine: Engine, model: type[Any]) -> Any:
    """INSERT for `model` with the dialect's ON CONFLICT (SQLite and PostgreSQL have it)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect
    else:
        from sqlalchemy.dialects import sqlite as dialect  # type: ignore[no-redef]
    statement: Insert = dialect.insert(model)
    return statement


def archive_many(
    store: Store, engine: Engine, tx_ids: list[int], now: datetime | None = None
) -> dict[int, Outcome]:
    """Archive the completed ones of `tx_ids` in one SQL transaction, then retire them from
    Redis; the outcome of each."""
    now = now or timeutil.utc_now()
    outcomes: dict[int, Outcome] = {}
    sessions: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    found = transactions.archive_reads(store, tx_ids)
    owners = sorted({tx["clientId"] for tx, _ in found if tx.get("status") == "completed"})
    chargers = dict(zip(owners, hashes(store, (store.keys.chargepoint(cp) for cp in owners)), strict=True))
    for tx_id, (tx, samples) in zip(tx_ids, found, strict=True):
        if not tx:
            outcomes[tx_id] = Outcome.GONE
        elif tx.get("status") != "completed":
            outcomes[tx_id] = Outcome.ACTIVE
        else:
            sessions[tx_id] = (records.session_row(tx, chargers[tx["clientId"]], len(samples), now), samples)
    if sessions:
        with engine.begin() as sql:
            _write_chargers(sql, engine, [records.charger_row(cp, chargers[cp], now) for cp in owners])
            rows = [row for row, _ in sessions.values()]
            statement = _insert(engine, ChargingSession).values(rows)
            statement = statement.on_conflict_do_nothing(index_elements=["transaction_id"])
            inserted = set(sql.scalars(statement.returning(ChargingSession.transaction_id)))
            new_samples = [
                sample
                for tx_id in inserted
                for sample in records.sample_rows(
                    tx_id, sessions[tx_id][1], sessions[tx_id][0]["stop_time"] or now
                )
            ]
            for start in range(0, len(new_samples), SAMPLE_CHUNK):
                sql.execute(_insert(engine, MeterValue), new_samples[start : start + SAMPLE_CHUNK])
            held = _held_elsewhere(sql, [sessions[tx_id][0] for tx_id in sessions if tx_id not in inserted])
            earlier = {tx_id: sessions[tx_id] for tx_id in sessions if tx_id not in inserted | held}
            extended = _add_late_samples(sql, engine, earlier, now)
        for tx_id in sessions:
            if tx_id in inserted:
                outcomes[tx_id] = Outcome.ARCHIVED
            elif tx_id in extended:
                outcomes[tx_id] = Outcome.EXTENDED
            elif tx_id in held:
                outcomes[tx_id] = Outcome.CONFLICT
                log.error(
                    "transaction %s of %s: the archive holds another session with this id (two "
                    "deployments on one database?); it stays in Redis",
                    tx_id,
                    sessions[tx_id][0]["charger_id"],
                )
            else:
                outcomes[tx_id] = Outcome.ALREADY
    done = [(tx_id, sessions[tx_id][0]["charger_id"]) for tx_id, o in outcomes.items() if o in _WRITTEN]
    released = [tx_id for tx_id, o in outcomes.items() if o not in _WRITTEN]
    transactions.retire(store, done, released, retention_s(store))
    return outcomes


_WRITTEN = (Outcome.ARCHIVED, Outcome.ALREADY, Outcome.EXTENDED)


def archive(store: Store, engine: Engine, tx_id: int, now: datetime | None = None) -> Outcome:
    """Archive one transaction (`archive_many` of one)."""
    return archive_many(store, engine, [tx_id], now)[tx_id]


def _write_chargers(sql: Connection, engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Insert or update the chargers' rows (their latest boot information)."""
    statement = _insert(engine, Charger)
    changed = {name: statement.excluded[name] for name in rows[0] if name != "charger_id"}
    sql.execute(statement.on_conflict_do_update(index_elements=["charger_id"], set_=changed), rows)


def _add_late_samples(
    sql: Connection,
    engine: Engine,
    sessions: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]],
    now: datetime,
) -> set[int]:
    """For sessions archived before: the samples Redis got after that (a charger sends
    its queued MeterValues after the StopTransaction), added with their places in the
    transaction's list; which sessions got some."""
    if not sessions:
        return set()
    held = dict(
        sql.execute(
            select(ChargingSession.transaction_id, ChargingSession.sample_count).where(
                ChargingSession.transaction_id.in_(sessions)
            )
        ).all()
    )
    extended = set()
    for tx_id, (row, samples) in sessions.items():
        archived = held.get(tx_id, len(samples))
        if len(samples) <= archived:
            continue
        late = records.sample_rows(tx_id, samples, row["stop_time"] or now)[archived:]
        statement = _insert(engine, MeterValue).on_conflict_do_nothing(
            index_elements=["transaction_id", "seq"]
        )
        sql.execute(statement, late)
        sql.execute(
            update(ChargingSession)
            .where(ChargingSession.transaction_id == tx_id)
            .values(sample_count=len(samples))
        )
        extended.add(tx_id)
    return extended


def _held_elsewhere(sql: Connection, sessions: list[dict[str, Any]]) -> set[int]:
    """Those of `sessions` whose id the archive holds for another charger or start time
    (another deployment's transaction), not for this session (an earlier run's write)."""
    if not sessions:
        return set()
    by_id = {s["transaction_id"]: s for s in sessions}
    rows = sql.execute(
        select(ChargingSession.transaction_id, ChargingSession.charger_id, ChargingSession.start_time).where(
            ChargingSession.transaction_id.in_(by_id)
        )
    )
    held = set()
    for row in rows:
        ours = by_id[row.transaction_id]
        started = records.utc(row.start_time) if row.start_time else None
        same_start = started is None or ours["start_time"] is None or started == ours["start_time"]
        if row.charger_id != ours["charger_id"] or not same_start:
            held.add(row.transaction_id)
    return held


def drain(store: Store, engine: Engine, batch: int = DRAIN_BATCH) -> dict[str, int]:
    """Archive every waiting session, `batch` at a time; count the outcomes."""
    counts: dict[str, int] = {}
    transactions.archive_drain_started(store)
    while tx_ids := transactions.take_for_archive(store, batch, store.settings.archive_lease_s):
        try:
            outcomes: dict[int, Outcome] = {}
            for part in _by_samples(tx_ids, transactions.sample_counts(store, tx_ids)):
                outcomes.update(archive_many(store, engine, part))
        except Exception:
            transactions.release_for_archive(store, [i for i in tx_ids if i not in outcomes])
            raise  # the next drain takes them again
        for outcome in outcomes.values():
            counts[outcome.value] = counts.get(outcome.value, 0) + 1
        if len(tx_ids) < batch:
            break
    return counts


def _by_samples(tx_ids: list[int], samples: list[int]) -> list[list[int]]:
    """`tx_ids` in consecutive parts of at most `DRAIN_SAMPLES` sampled values (a session
    with more is a part of its own)."""
    parts: list[list[int]] = []
    held = 0
    for tx_id, count in zip(tx_ids, samples, strict=True):
        if not parts or held + count > DRAIN_SAMPLES:
            parts.append([])
            held = 0
        parts[-1].append(tx_id)
        held += count
    return parts


def sweep(store: Store, engine: Engine) -> dict[str, int]:
    """Give back the sessions of archivers that died and re-queue completed ones that lost
    their place, then drain."""
    requeued = transactions.requeue_for_archive(store)
    counts = drain(store, engine)
    if requeued or counts.get(Outcome.CONFLICT.value):
        log.info("archive sweep: %d sessions re-queued; %s", requeued, counts)
    return counts
