"""Charging sessions: ids, start, meter values, stop.

Transaction ids come from one Redis counter so that every worker on every machine
hands out unique, strictly increasing ids; the first on an empty store is 1000.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ocpp_worker import timeutil
from ocpp_worker.state.keys import Keys
from ocpp_worker.state.store import Store, Writes, hashes, strings

FIRST_TRANSACTION_ID = 1000
REQUEST_MEMORY_SECONDS = 7 * 24 * 3600
# A transaction keeps its newest samples up to this many (a day at one sample of ten
# measurands a minute is 14,400); energy comes from meterStart/meterStop regardless.
MAX_SAMPLES_PER_TRANSACTION = 20_000
ORPHANS_KEPT = 10_000

# Allocate the id for one StartTransaction CALL exactly once, even when Celery
# redelivers the task: the id is remembered under the (charger, message id) key.
_ALLOCATE = """
local existing = redis.call('GET', KEYS[1])
if existing then return {tonumber(existing), 0} end
redis.call('SET', KEYS[2], ARGV[1], 'NX')
local id = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], id, 'EX', ARGV[2])
return {id, 1}
"""

# OCPP 1.6 §7.31 defaults for a SampledValue's optional fields.
SAMPLE_DEFAULTS = {
    "context": "Sample.Periodic",
    "format": "Raw",
    "measurand": "Energy.Active.Import.Register",
    "location": "Outlet",
    "unit": "Wh",
}


def allocate_id(store: Store, cp_id: str, unique_id: str) -> tuple[int, bool]:
    """(transaction id, True if newly allocated) for one StartTransaction CALL."""
    tx_id, fresh = store.redis.eval(
        _ALLOCATE,
        2,
        store.keys.start_request(cp_id, unique_id),
        store.keys.transaction_counter,
        FIRST_TRANSACTION_ID - 1,
        REQUEST_MEMORY_SECONDS,
    )
    return int(tx_id), bool(fresh)


def start(store: Store, w: Writes, tx_id: int, cp_id: str, connector_id: int, fields: dict[str, Any]) -> None:
    """Write the transaction and make it the connector's current one."""
    k = store.keys
    w.hset(
        k.transaction(tx_id),
        mapping=strings(
            {
                **fields,
                "transactionId": tx_id,
                "clientId": cp_id,
                "connectorId": connector_id,
                "status": "active",
            }
        ),
    )
    w.zadd(k.transactions, {str(tx_id): tx_id})
    w.zadd(k.transactions_active, {str(tx_id): tx_id})
    w.zadd(k.transactions_of(cp_id), {str(tx_id): tx_id})
    if fields.get("idTag"):
        w.sadd(k.idtag_transactions(str(fields["idTag"])), tx_id)
    w.sadd(k.connectors(cp_id), connector_id)
    w.hset(k.connector(cp_id, connector_id), "transactionId", tx_id)


def get(store: Store, tx_id: int) -> dict[str, str] | None:
    data = store.redis.hgetall(store.keys.transaction(tx_id))
    return data or None


def flatten(meter_values: list[dict[str, Any]], now: str) -> list[dict[str, Any]]:
    """One record per sampled value, with its timestamp and the 1.6 defaults filled in."""
    fallback = timeutil.parse(now)
    assert fallback is not None
    samples = []
    for meter_value in meter_values:
        timestamp = timeutil.normalize(meter_value.get("timestamp"), fallback)
        for sampled in meter_value.get("sampledValue", []):
            samples.append({"timestamp": timestamp, **SAMPLE_DEFAULTS, **sampled})
    return samples


def _latest_field(sample: dict[str, Any]) -> str:
    name = str(sample["measurand"])
    if sample.get("phase"):
        name += f"/{sample['phase']}"
    if sample["location"] != "Outlet":
        name += f"@{sample['location']}"
    return name


def owner(store: Store, tx_id: int | None) -> tuple[str | None, str | None]:
    """The charger that started a transaction (None if we never issued that id, or it
    expired after archival) and its status. (A transaction's owner never changes, so
    reading it before writing is safe.)"""
    if tx_id is None:
        return None, None
    started_by, status = store.redis.hmget(store.keys.transaction(tx_id), ["clientId", "status"])
    return started_by, status


def _queue_for_archive(w: Writes, k: Keys, tx_id: int) -> None:
    """Put a completed transaction in line for the archive, in the same commit, and have
    the task that commits it send a drain (`Writes.to_archive`)."""
    w.zadd(k.transactions_to_archive, {str(tx_id): tx_id})
    w.to_archive.append(tx_id)


def _record_orphan(w: Writes, key: str, entry: dict[str, Any]) -> None:
    w.rpush(key, json.dumps(entry, separators=(",", ":")))
    w.ltrim(key, -ORPHANS_KEPT, -1)


def add_samples(
    store: Store, w: Writes, cp_id: str, connector_id: int, tx_id: int | None, samples: list[dict[str, Any]]
) -> bool:
    """Keep samples under the transaction (if it is this charger's) and as the
    connector's latest. Samples for another charger's transaction are kept apart in
    `foreign_meter_values`, never in that transaction.

    Samples for a completed transaction (a charger's late queue) put it back in line for
    the archive, which adds them to its archived session.

    Returns whether the samples went into the transaction.
    """
    if not samples:
        return False
    k = store.keys
    started_by, status = owner(store, tx_id)
    own = tx_id is not None and started_by == cp_id
    if own:
        assert tx_id is not None
        w.rpush(k.transaction_meter(tx_id), *(json.dumps(s) for s in samples))
        w.ltrim(k.transaction_meter(tx_id), -MAX_SAMPLES_PER_TRANSACTION, -1)
        if status == "completed":
            _queue_for_archive(w, k, tx_id)
    elif started_by is not None:
        entry = {"clientId": cp_id, "transactionId": tx_id, "owner": started_by, "samples": len(samples)}
        _record_orphan(w, k.foreign_meter_values, entry)
    if connector_id >= 0:
        w.sadd(k.connectors(cp_id), connector_id)
        latest = {_latest_field(s): json.dumps(s) for s in samples}
        w.hset(k.latest_meter(cp_id, connector_id), mapping=latest)
    return own


def stop(store: Store, w: Writes, cp_id: str, tx_id: int, fields: dict[str, Any]) -> dict[str, str] | None:
    """Close a transaction; returns the transaction as it was before (its `status` says
    whether it was still active). None (and the stop recorded) if the id is unknown or
    belongs to another charger: the charger still gets a normal reply, since it would
    otherwise resend this StopTransaction forever."""
    k = store.keys
    before = store.redis.hgetall(k.transaction(tx_id))
    started_by, connector = before.get("clientId"), before.get("connectorId")
    meter_start, id_tag = before.get("meterStart"), before.get("idTag")
    if started_by != cp_id:
        _record_orphan(w, k.orphan_stops, {"clientId": cp_id, "transactionId": tx_id, **fields})
        return None
    energy = None
    if meter_start is not None and fields.get("meterStop") is not None:
        energy = int(fields["meterStop"]) - int(meter_start)
    w.hset(
        k.transaction(tx_id),
        mapping=strings({**fields, "status": "completed", "energyWh": energy}),
    )
    w.zrem(k.transactions_active, str(tx_id))
    _queue_for_archive(w, k, tx_id)
    if id_tag:
        w.srem(k.idtag_transactions(id_tag), tx_id)
    # Clear the connector's current transaction only if it is still this one: a newer
    # StartTransaction on that connector may already have replaced it.
    w.hdel_if_equal(k.connector(cp_id, int(connector or 0)), "transactionId", tx_id)
    return before


# -- archival (ocpp_worker.archive) ----------------------------------------------------

# Take up to ARGV[1] transactions waiting for the archive, oldest first, under a lease
# that ends at ARGV[2] (ms): another archiver does not take them meanwhile.
_TAKE = """
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], ARGV[2], id)
end
return ids
"""

# Leases that ended (the archiver died) go back to the waiting transactions.
_EXPIRED_LEASES = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[1], id, id)
end
return #ids
"""


def take_for_archive(store: Store, limit: int, lease_s: float) -> list[int]:
    """Up to `limit` completed transactions for this archiver, oldest first."""
    k = store.keys
    deadline_ms = round((time.time() + lease_s) * 1000)
    ids = store.redis.eval(_TAKE, 2, k.transactions_to_archive, k.transactions_archiving, limit, deadline_ms)
    return [int(i) for i in ids]


def requeue_for_archive(store: Store) -> int:
    """Put back what archivers took and never finished (their lease ended), and every
    completed transaction still listed that is neither waiting nor taken (lost before
    the waiting set existed, say); how many went back."""
    k = store.keys
    back = int(
        store.redis.eval(_EXPIRED_LEASES, 2, k.transactions_to_archive, k.transactions_archiving, _ms())
    )
    completed = store.redis.zdiff([k.transactions, k.transactions_active, k.transactions_archiving])
    if completed:
        back += int(store.redis.zadd(k.transactions_to_archive, {m: int(m) for m in completed}, nx=True))
    return back


def release_for_archive(store: Store, tx_ids: list[int]) -> None:
    """Give back transactions an archiver took and could not write (a database error)."""
    k = store.keys
    pipe = store.redis.pipeline(transaction=True)
    pipe.zrem(k.transactions_archiving, *(str(i) for i in tx_ids))
    pipe.zadd(k.transactions_to_archive, {str(i): i for i in tx_ids})
    pipe.execute()


def waiting_for_archive(store: Store) -> list[int]:
    """Completed transactions not archived yet (waiting, or taken by an archiver)."""
    k = store.keys
    return sorted(int(m) for m in store.redis.zunion([k.transactions_to_archive, k.transactions_archiving]))


def schedule_archive(store: Store) -> bool:
    """Whether the caller should send a drain task: no other one is on its way."""
    return bool(store.redis.set(store.keys.archive_scheduled, "1", nx=True, px=10_000))


def archive_drain_started(store: Store) -> None:
    """A drain task runs: a stop from now on schedules the next one."""
    store.redis.delete(store.keys.archive_scheduled)


def retire(store: Store, done: list[tuple[int, str]], released: list[int], retention_s: int) -> None:
    """After the sessions `done` ((id, charger)) are safely in the archive: they leave the
    lists (the archive answers for them now) and their hash and samples expire after
    `retention_s`, so the API still reads them from Redis meanwhile. `released`: taken
    but not archived (gone, or refused): only their lease ends. Repeating it changes
    nothing."""
    k = store.keys
    pipe = store.redis.pipeline(transaction=True)
    for tx_id, cp_id in done:
        pipe.zrem(k.transactions, str(tx_id))
        pipe.zrem(k.transactions_of(cp_id), str(tx_id))
        pipe.expire(k.transaction(tx_id), retention_s)
        pipe.expire(k.transaction_meter(tx_id), retention_s)
    finished = [str(tx_id) for tx_id, _ in done] + [str(tx_id) for tx_id in released]
    if finished:
        pipe.zrem(k.transactions_archiving, *finished)
        pipe.zrem(k.transactions_to_archive, *finished)
    pipe.execute()


def _ms() -> int:
    return round(time.time() * 1000)


def sample_counts(store: Store, tx_ids: list[int]) -> list[int]:
    """How many sampled values each transaction holds, in one round trip."""
    pipe = store.redis.pipeline(transaction=False)
    for tx_id in tx_ids:
        pipe.llen(store.keys.transaction_meter(tx_id))
    return [int(n) for n in pipe.execute()]


def archive_reads(store: Store, tx_ids: list[int]) -> list[tuple[dict[str, str], list[dict[str, Any]]]]:
    """Each transaction's hash and samples, in one round trip."""
    pipe = store.redis.pipeline(transaction=False)
    for tx_id in tx_ids:
        pipe.hgetall(store.keys.transaction(tx_id))
        pipe.lrange(store.keys.transaction_meter(tx_id), 0, -1)
    found = pipe.execute()
    return [(found[i], [json.loads(s) for s in found[i + 1]]) for i in range(0, len(found), 2)]


def samples_of(store: Store, tx_id: int, start: int = 0, end: int = -1) -> list[dict[str, Any]]:
    return [json.loads(s) for s in store.redis.lrange(store.keys.transaction_meter(tx_id), start, end)]


# -- reads for the API -----------------------------------------------------------


def list_ids(
    store: Store,
    client_id: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[int], int]:
    """One page of transaction ids, newest first, and the total that match.

    `status` is "active" or "completed"; completed = all (or the charger's) minus active.
    """
    k = store.keys
    base = k.transactions_of(client_id) if client_id is not None else k.transactions
    if status not in (None, "active", "completed"):
        raise ValueError(f"unknown transaction status {status!r}")
    if status is None or (status == "active" and client_id is None):
        key = base if status is None else k.transactions_active
        total = int(store.redis.zcard(key))
        members = store.redis.zrevrange(key, offset, offset + limit - 1) if limit > 0 else []
        return [int(m) for m in members], total
    if status == "active":
        members = store.redis.zinter([base, k.transactions_active])
    else:
        members = store.redis.zdiff([base, k.transactions_active])
    ids = sorted((int(m) for m in members), reverse=True)
    return ids[offset : offset + limit], len(ids)


def get_many(store: Store, tx_ids: list[int]) -> list[dict[str, str]]:
    """The hashes of several transactions in one round trip (empty for unknown ids)."""
    return hashes(store, (store.keys.transaction(tx_id) for tx_id in tx_ids))


def sample_count(store: Store, tx_id: int) -> int:
    return int(store.redis.llen(store.keys.transaction_meter(tx_id)))


ENERGY_REGISTER = "Energy.Active.Import.Register"  # the connector's latest-values field of the register
_WH_PER_UNIT = {"Wh": 1, "kWh": 1000}


def energy_so_far(store: Store, active: list[dict[str, str]]) -> list[int | None]:
    """Wh each active transaction has delivered so far: its connector's latest energy
    register reading minus `meterStart`, in one round trip.

    Only `energyWh` of a stopped transaction is exact; this is what an operator wants to
    see while it runs. None when no reading came in since the start (the latest one is
    older, or from before this transaction), or the reading is not a number in Wh/kWh.
    """
    pipe = store.redis.pipeline(transaction=False)
    for tx in active:
        connector = store.keys.latest_meter(tx.get("clientId", ""), int(tx.get("connectorId") or 0))
        pipe.hget(connector, ENERGY_REGISTER)
    result: list[int | None] = []
    for tx, latest in zip(active, pipe.execute(), strict=True):
        result.append(_delivered(tx, json.loads(latest)) if latest else None)
    return result


def with_energy_so_far(store: Store, txs: list[dict[str, str]]) -> list[dict[str, Any]]:
    """`txs` with `energySoFarWh` (`energy_so_far`) on the active ones, None on the others."""
    running = [tx for tx in txs if tx.get("status") == "active"]
    so_far = dict(zip((tx["transactionId"] for tx in running), energy_so_far(store, running), strict=True))
    return [{**tx, "energySoFarWh": so_far.get(tx["transactionId"])} for tx in txs]


def _delivered(tx: dict[str, str], sample: dict[str, Any]) -> int | None:
    started = timeutil.parse(tx.get("startTime", ""))
    taken = timeutil.parse(str(sample.get("timestamp", "")))
    factor = _WH_PER_UNIT.get(str(sample.get("unit", "Wh")))
    if started is None or taken is None or taken < started or factor is None:
        return None
    try:
        return round(float(sample["value"]) * factor) - int(tx.get("meterStart") or 0)
    except (KeyError, ValueError, OverflowError):
        return None
