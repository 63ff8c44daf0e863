"""Read a session wherever it is: Redis while it is active or not yet archived (and for
`Settings.redis_retention_hours` after), the archive after that. The API and the status
pages read transactions only through here, so a session keeps its JSON when it leaves
Redis, and a list spans both places: newest first (transaction ids only grow), one
total, the same filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, func, select

from ocpp_worker import timeutil
from ocpp_worker.archive import records
from ocpp_worker.archive.models import ChargingSession, MeterValue
from ocpp_worker.state import transactions
from ocpp_worker.state.store import Store


@dataclass(frozen=True)
class Filters:
    """What a transaction list may be narrowed to; `since`/`until` bound the start time
    (`since` included, `until` excluded)."""

    client_id: str | None = None
    status: str | None = None  # "active" | "completed"
    id_tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def on_fields(self) -> bool:
        """Whether a live transaction must be read to tell if it matches."""
        return self.id_tag is not None or self.since is not None or self.until is not None

    def matches(self, tx: dict[str, str]) -> bool:
        if self.id_tag is not None and tx.get("idTag") != self.id_tag:
            return False
        started = timeutil.parse(tx.get("startTime", ""))
        if self.since is not None and (started is None or started < self.since):
            return False
        return not (self.until is not None and (started is None or started >= self.until))


def _sessions(filters: Filters) -> Select[Any]:
    query = select(ChargingSession.transaction_id)
    if filters.client_id is not None:
        query = query.where(ChargingSession.charger_id == filters.client_id)
    if filters.id_tag is not None:
        query = query.where(ChargingSession.id_tag == filters.id_tag)
    if filters.since is not None:
        query = query.where(ChargingSession.start_time >= filters.since)
    if filters.until is not None:
        query = query.where(ChargingSession.start_time < filters.until)
    return query


def _live(store: Store, filters: Filters, wanted: int) -> tuple[list[int], int, list[int]]:
    """The newest `wanted` matching transactions still listed in Redis, how many match
    there, and those among them already completed (they may be in the archive too, for
    the moment between its commit and `transactions.retire`)."""
    if not filters.on_fields:
        ids, total = transactions.list_ids(store, filters.client_id, filters.status, 0, wanted)
    else:
        every, _ = transactions.list_ids(store, filters.client_id, filters.status, 0, 10**9)
        kept = transactions.get_many(store, every)
        ids = [tx_id for tx_id, tx in zip(every, kept, strict=True) if tx and filters.matches(tx)]
        total = len(ids)
        ids = ids[:wanted]
    if filters.status is not None:  # all active, or all completed
        return ids, total, ids if filters.status == "completed" else []
    active = set(transactions.list_ids(store, filters.client_id, "active", 0, 10**9)[0])
    return ids, total, [tx_id for tx_id in ids if tx_id not in active]


def list_page(
    store: Store, engine: Engine, filters: Filters, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of transactions, newest first, and how many match in all."""
    wanted = offset + limit
    live_ids, live_total, pending = _live(store, filters, wanted)
    archived_ids: list[int] = []
    archived_total = 0
    if filters.status != "active":  # the archive holds completed sessions only
        query = _sessions(filters)
        with engine.connect() as sql:
            archived_total = sql.scalar(select(func.count()).select_from(query.subquery())) or 0
            ordered = query.order_by(ChargingSession.transaction_id.desc()).limit(wanted)
            archived_ids = list(sql.scalars(ordered))
            if pending:  # counted in both places
                both = query.where(ChargingSession.transaction_id.in_(pending))
                archived_total -= sql.scalar(select(func.count()).select_from(both.subquery())) or 0
    page = sorted(set(live_ids) | set(archived_ids), reverse=True)[offset:wanted]
    return get_many(store, engine, page), live_total + archived_total


def get_many(store: Store, engine: Engine, tx_ids: list[int]) -> list[dict[str, Any]]:
    """The transactions of `tx_ids` that exist, in that order, as the API serves them
    (`energySoFarWh` on active ones)."""
    in_redis = dict(zip(tx_ids, transactions.get_many(store, tx_ids), strict=True))
    missing = [tx_id for tx_id, tx in in_redis.items() if not tx]
    archived: dict[int, dict[str, Any]] = {}
    if missing:
        with engine.connect() as sql:
            rows = sql.execute(select(ChargingSession).where(ChargingSession.transaction_id.in_(missing)))
            archived = {row.transaction_id: records.transaction(row) for row in rows}
    live = transactions.with_energy_so_far(store, [tx for tx in in_redis.values() if tx])
    found: dict[int, dict[str, Any]] = {int(tx["transactionId"]): tx for tx in live}
    found.update({tx_id: {**tx, "energySoFarWh": None} for tx_id, tx in archived.items()})
    return [found[tx_id] for tx_id in tx_ids if tx_id in found]


def get(store: Store, engine: Engine, tx_id: int) -> dict[str, Any] | None:
    found = get_many(store, engine, [tx_id])
    return found[0] if found else None


def samples(
    store: Store, engine: Engine, tx_id: int, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of a transaction's sampled values in arrival order, and how many it has
    (call it for a transaction `get` found)."""
    if transactions.get(store, tx_id) is not None:
        page = transactions.samples_of(store, tx_id, offset, offset + limit - 1)
        return page, transactions.sample_count(store, tx_id)
    with engine.connect() as sql:
        total = sql.scalar(
            select(ChargingSession.sample_count).where(ChargingSession.transaction_id == tx_id)
        )
        rows = sql.execute(
            select(MeterValue)
            .where(MeterValue.transaction_id == tx_id)
            .order_by(MeterValue.seq)
            .offset(offset)
            .limit(limit)
        )
        return [records.sample(row) for row in rows], total or 0
