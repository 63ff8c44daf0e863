"""The idTag registry that Authorize, StartTransaction and StopTransaction consult."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ocpp.v16.enums import AuthorizationStatus

from ocpp_worker import timeutil
from ocpp_worker.state.store import Store, hashes, strings

STATUSES = tuple(status.value for status in AuthorizationStatus)


def get(store: Store, id_tag: str) -> dict[str, str] | None:
    data = store.redis.hgetall(store.keys.idtag(id_tag))
    return data or None


def put(
    store: Store,
    id_tag: str,
    status: str,
    expiry_date: str | None = None,
    parent_id_tag: str | None = None,
) -> bool:
    """Create or replace a tag; True if it is new."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    key = store.keys.idtag(id_tag)
    pipe = store.redis.pipeline(transaction=True)
    pipe.exists(key)
    pipe.delete(key)
    pipe.hset(
        key,
        mapping=strings({"status": status, "expiryDate": expiry_date, "parentIdTag": parent_id_tag}),
    )
    pipe.zadd(store.keys.idtags, {id_tag: 0})
    existed = pipe.execute()[0]
    return not existed


def delete(store: Store, id_tag: str) -> bool:
    pipe = store.redis.pipeline(transaction=True)
    pipe.delete(store.keys.idtag(id_tag))
    pipe.zrem(store.keys.idtags, id_tag)
    return bool(pipe.execute()[0])


def id_tag_info(store: Store, id_tag: str, now: datetime) -> dict[str, Any]:
    """The IdTagInfo for a tag (OCPP 1.6 §7.24): unknown tags are Invalid unless the
    deployment accepts them, and a passed expiryDate makes a tag Expired."""
    tag = get(store, id_tag)
    if tag is None:
        status = "Accepted" if store.settings.accept_unknown_idtags else "Invalid"
        return {"status": status}
    info: dict[str, Any] = {"status": tag.get("status", "Invalid")}
    expiry = tag.get("expiryDate")
    if expiry:
        info["expiryDate"] = expiry
        moment = timeutil.parse(expiry)
        if moment is not None and moment <= now and info["status"] == "Accepted":
            info["status"] = "Expired"
    if tag.get("parentIdTag"):
        info["parentIdTag"] = tag["parentIdTag"]
    return info


def list_tags(store: Store, offset: int = 0, limit: int = 100) -> tuple[list[dict[str, str]], int]:
    """One page of registered tags in idTag order (each hash plus its `idTag`), and the total."""
    total = int(store.redis.zcard(store.keys.idtags))
    names = store.redis.zrange(store.keys.idtags, offset, offset + limit - 1) if limit > 0 else []
    tags = hashes(store, (store.keys.idtag(name) for name in names))
    return [{"idTag": name, **tag} for name, tag in zip(names, tags, strict=True)], total


def names(store: Store) -> list[str]:
    """Every registered idTag, in order."""
    return list(store.redis.zrange(store.keys.idtags, 0, -1))
