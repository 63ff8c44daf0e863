"""Charging sessions: ids, start, meter values, stop.

Transaction ids come from one Redis counter so that every worker on every machine
hands out unique, strictly increasing ids; the first on an empty store is 1000.
"""

from __future__ import annotations

import json
from typing import Any

from ocpp_worker import timeutil
from ocpp_worker.state.store import Store, hashes, strings

FIRST_TRANSACTION_ID = 1000
REQUEST_MEMORY_SECONDS = 7 * 24 * 3600

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


def start(store: Store, tx_id: int, cp_id: str, connector_id: int, fields: dict[str, Any]) -> None:
    """Write the transaction and make it the connector's current one, atomically."""
    k = store.keys
    pipe = store.redis.pipeline(transaction=True)
    pipe.hset(
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
    pipe.zadd(k.transactions, {str(tx_id): tx_id})
    pipe.zadd(k.transactions_active, {str(tx_id): tx_id})
    pipe.zadd(k.transactions_of(cp_id), {str(tx_id): tx_id})
    pipe.sadd(k.connectors(cp_id), connector_id)
    pipe.hset(k.connector(cp_id, connector_id), "transactionId", tx_id)
    pipe.execute()


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


def add_samples(
    store: Store, cp_id: str, connector_id: int, tx_id: int | None, samples: list[dict[str, Any]]
) -> bool:
    """Keep samples under the transaction (if we know it) and as the connector's latest.

    Returns whether the transaction was known.
    """
    if not samples:
        return False
    k = store.keys
    known = tx_id is not None and bool(store.redis.exists(k.transaction(tx_id)))
    pipe = store.redis.pipeline(transaction=True)
    if known:
        assert tx_id is not None
        pipe.rpush(k.transaction_meter(tx_id), *(json.dumps(s) for s in samples))
    if connector_id >= 0:
        pipe.sadd(k.connectors(cp_id), connector_id)
        latest = {_latest_field(s): json.dumps(s) for s in samples}
        pipe.hset(k.latest_meter(cp_id, connector_id), mapping=latest)
    pipe.execute()
    return known


def stop(store: Store, cp_id: str, tx_id: int, fields: dict[str, Any]) -> bool:
    """Close a transaction. Returns False (and records the stop) if the id is unknown
    or belongs to another charger: the charger still gets a normal reply, since it
    would otherwise resend this StopTransaction forever."""
    k = store.keys
    current = store.redis.hmget(k.transaction(tx_id), ["clientId", "connectorId", "meterStart"])
    owner, connector, meter_start = current
    if owner != cp_id:
        entry = {"clientId": cp_id, "transactionId": tx_id, **fields}
        pipe = store.redis.pipeline(transaction=False)
        pipe.rpush(k.orphan_stops, json.dumps(entry))
        pipe.ltrim(k.orphan_stops, -10000, -1)
        pipe.execute()
        return False
    energy = None
    if meter_start is not None and fields.get("meterStop") is not None:
        energy = int(fields["meterStop"]) - int(meter_start)
    pipe = store.redis.pipeline(transaction=True)
    pipe.hset(
        k.transaction(tx_id),
        mapping=strings({**fields, "status": "completed", "energyWh": energy}),
    )
    pipe.zrem(k.transactions_active, str(tx_id))
    pipe.execute()
    _release_connector(store, cp_id, int(connector or 0), tx_id)
    return True


# Clear the connector's current transaction only if it is still this one: a newer
# StartTransaction on that connector may already have replaced it.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'transactionId') == ARGV[1] then
  return redis.call('HDEL', KEYS[1], 'transactionId')
end
return 0
"""


def _release_connector(store: Store, cp_id: str, connector_id: int, tx_id: int) -> None:
    store.redis.eval(_RELEASE, 1, store.keys.connector(cp_id, connector_id), str(tx_id))


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
