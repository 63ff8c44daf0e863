"""Charge points and their connectors: what they told us in boots, heartbeats,
status and meter notifications."""

from __future__ import annotations

import json
from typing import Any

from ocpp_worker import timeutil
from ocpp_worker.state import liveness
from ocpp_worker.state.keys import Keys
from ocpp_worker.state.store import Store, Writes, hashes, strings

# What a charger's records may grow to (the newest are kept).
DATA_TRANSFERS_KEPT = 200
CSRS_KEPT = 1000

# BootNotification fields we keep, as the charger names them.
BOOT_FIELDS = (
    "chargePointVendor",
    "chargePointModel",
    "chargePointSerialNumber",
    "chargeBoxSerialNumber",
    "firmwareVersion",
    "iccid",
    "imsi",
    "meterType",
    "meterSerialNumber",
)


def touch(pipe: Any, keys: Keys, cp_id: str, now: str) -> None:
    """Queue on `pipe` the record that a charger spoke to us (every CALL does this);
    the caller executes it together with its own commands, in one round trip."""
    pipe.zadd(keys.chargepoints, {cp_id: _epoch(now)}, nx=True)
    pipe.hset(keys.chargepoint(cp_id), "lastSeen", now)


def record_boot(store: Store, w: Writes, cp_id: str, boot: dict[str, Any], status: str, now: str) -> None:
    """Replace the boot information (absent optional fields are cleared)."""
    key = store.keys.chargepoint(cp_id)
    w.hdel(key, *BOOT_FIELDS)
    w.hset(
        key,
        mapping=strings(
            {**{f: boot.get(f) for f in BOOT_FIELDS}, "registrationStatus": status, "bootedAt": now}
        ),
    )


def record_fields(store: Store, w: Writes, cp_id: str, fields: dict[str, Any]) -> None:
    w.hset(store.keys.chargepoint(cp_id), mapping=strings(fields))


def record_status(store: Store, w: Writes, cp_id: str, connector_id: int, status: dict[str, Any]) -> None:
    """Store a StatusNotification: the full state of one connector, replacing the last."""
    key = store.keys.connector(cp_id, connector_id)
    w.sadd(store.keys.connectors(cp_id), connector_id)
    w.hdel(key, "info", "vendorId", "vendorErrorCode")
    w.hset(key, mapping=strings(status))


def _append_capped(w: Writes, key: str, entry: dict[str, Any], cap: int) -> None:
    w.rpush(key, json.dumps(entry, separators=(",", ":")))
    w.ltrim(key, -cap, -1)


def record_data_transfer(store: Store, w: Writes, cp_id: str, entry: dict[str, Any]) -> None:
    _append_capped(w, store.keys.data_transfers(cp_id), entry, DATA_TRANSFERS_KEPT)


def record_csr(store: Store, w: Writes, cp_id: str, entry: dict[str, Any]) -> None:
    _append_capped(w, store.keys.csrs(cp_id), entry, CSRS_KEPT)


def get(store: Store, cp_id: str) -> dict[str, str] | None:
    """The charger's hash, or None if it never connected."""
    data = store.redis.hgetall(store.keys.chargepoint(cp_id))
    return data or None


def connectors(store: Store, cp_id: str) -> list[dict[str, Any]]:
    """Every connector a charger reported, in id order, with its latest meter values."""
    return connectors_of(store, [cp_id])[0]


def connectors_of(store: Store, cp_ids: list[str], *, meters: bool = True) -> list[list[dict[str, Any]]]:
    """`connectors` of several chargers in two round trips whatever their number (the
    status page lists hundreds); `meters=False` leaves the latest meter values out."""
    pipe = store.redis.pipeline(transaction=False)
    for cp_id in cp_ids:
        pipe.smembers(store.keys.connectors(cp_id))
    ids = [sorted(int(c) for c in members) for members in pipe.execute()]
    for cp_id, connector_ids in zip(cp_ids, ids, strict=True):
        for connector_id in connector_ids:
            pipe.hgetall(store.keys.connector(cp_id, connector_id))
            if meters:
                pipe.hgetall(store.keys.latest_meter(cp_id, connector_id))
    replies = iter(pipe.execute())
    result = []
    for connector_ids in ids:
        found = []
        for connector_id in connector_ids:
            state = next(replies)
            meter = next(replies) if meters else {}
            values = [json.loads(v) for _, v in sorted(meter.items())]
            found.append({"connectorId": connector_id, **state, "meterValues": values})
        result.append(found)
    return result


def _epoch(iso_time: str) -> float:
    moment = timeutil.parse(iso_time)
    return moment.timestamp() if moment else 0.0


# -- reads for the API (listing, the connected-charger registry) -------------------


def _now_ms() -> int:
    return int(timeutil.utc_now().timestamp() * 1000)


def connected_ids(store: Store) -> list[str]:
    """Chargers whose gateway registration has not expired, in id order.

    The registry's score is the registration's expiry; an entry whose gateway died
    lingers until some gateway prunes it, so the score is checked here too.
    """
    return sorted(store.redis.zrangebyscore(store.keys.clients, _now_ms(), "+inf"))


def registration(store: Store, cp_id: str) -> dict[str, str] | None:
    """The gateway registration of a connected charger ({gateway, conn, connectedAt,
    remote}), or None when it is not connected."""
    pipe = store.redis.pipeline(transaction=False)
    pipe.zscore(store.keys.clients, cp_id)
    pipe.hgetall(store.keys.client(cp_id))
    expiry, fields = pipe.execute()
    if expiry is None or expiry < _now_ms() or not fields.get("gateway"):
        return None
    return dict(fields)


def registrations(store: Store, cp_ids: list[str]) -> dict[str, dict[str, str]]:
    """The registrations of those chargers that are connected, by id."""
    replies = hashes(store, (store.keys.client(cp_id) for cp_id in cp_ids))
    return {cp_id: fields for cp_id, fields in zip(cp_ids, replies, strict=True) if fields.get("gateway")}


def list_ids(
    store: Store, offset: int = 0, limit: int = 100, connected: bool | None = None
) -> tuple[list[str], int]:
    """One page of the chargers ever seen, in first-seen order, and their total count;
    `connected` keeps only the connected (True) or the disconnected (False) ones."""
    if connected is None:
        total = int(store.redis.zcard(store.keys.chargepoints))
        if limit <= 0:
            return [], total
        return list(store.redis.zrange(store.keys.chargepoints, offset, offset + limit - 1)), total
    online = set(connected_ids(store))
    ids = [cp for cp in store.redis.zrange(store.keys.chargepoints, 0, -1) if (cp in online) == connected]
    return ids[offset : offset + limit], len(ids)


def get_many(store: Store, cp_ids: list[str]) -> list[dict[str, str]]:
    """The hashes of several chargers in one round trip (empty for unknown ids)."""
    return hashes(store, (store.keys.chargepoint(cp_id) for cp_id in cp_ids))


def connector_states(store: Store, cp_ids: list[str], connector_id: int = 0) -> list[dict[str, str]]:
    """One connector's hash (default 0, the charger itself) for several chargers."""
    return hashes(store, (store.keys.connector(cp_id, connector_id) for cp_id in cp_ids))


def live_gateways(store: Store) -> list[str]:
    """Gateway processes whose registration has not expired."""
    return list(store.redis.zrangebyscore(store.keys.gateways, _now_ms(), "+inf"))


def summary(cp_id: str, info: dict[str, str], connected: bool, charger: dict[str, str]) -> dict[str, Any]:
    """A charger as the API, the status page and the CLI show it: its hash with the
    BootNotification names shortened, whether it is connected, the status of connector
    0 (`charger`), and whether it went silent (`state.liveness`, marked by celery beat)."""
    return {
        "id": cp_id,
        "connected": connected,
        "stale": liveness.is_stale(info),
        "staleSince": liveness.stale_since(info),
        "vendor": info.get("chargePointVendor"),
        "model": info.get("chargePointModel"),
        "serialNumber": info.get("chargePointSerialNumber"),
        "chargeBoxSerialNumber": info.get("chargeBoxSerialNumber"),
        "firmwareVersion": info.get("firmwareVersion"),
        "registrationStatus": info.get("registrationStatus"),
        "status": charger.get("status"),
        "lastHeartbeat": info.get("lastHeartbeat"),
        "lastSeen": info.get("lastSeen"),
        "bootedAt": info.get("bootedAt"),
    }


def summaries(store: Store, cp_ids: list[str]) -> list[dict[str, Any]]:
    """`summary` of each of these chargers (a page of `list_ids`), in a few round trips."""
    online = set(connected_ids(store))
    infos = get_many(store, cp_ids)
    chargers = connector_states(store, cp_ids, 0)
    return [
        summary(cp_id, info, cp_id in online, charger)
        for cp_id, info, charger in zip(cp_ids, infos, chargers, strict=True)
    ]
