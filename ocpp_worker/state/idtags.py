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


# One round trip for the whole policy: the tag, its parent's hash (the parent's key is
# built here from ARGV[1], the idtag key prefix, since it is only known once the tag is
# read) and the ids of the tag's active transactions.
_LOOKUP = """
local tag = redis.call('HGETALL', KEYS[1])
local parent = {}
for i = 1, #tag, 2 do
  if tag[i] == 'parentIdTag' and tag[i + 1] ~= '' then
    parent = redis.call('HGETALL', ARGV[1] .. tag[i + 1])
  end
end
return {tag, parent, redis.call('SMEMBERS', KEYS[2])}
"""

# A parent in one of these states refuses its children with that same status.
_PARENT_REFUSALS = ("Blocked", "Expired", "Invalid")


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _own_status(tag: dict[str, str], now: datetime) -> str:
    """A registered tag's status, Expired once its expiryDate has passed."""
    status = tag.get("status", "Invalid")
    moment = timeutil.parse(tag.get("expiryDate") or "")
    if moment is not None and moment <= now and status == "Accepted":
        return "Expired"
    return status


def id_tag_info(
    store: Store, id_tag: str, now: datetime, concurrent_check: bool = False, own_tx: int | None = None
) -> dict[str, Any]:
    """The IdTagInfo for a tag (OCPP 1.6 §7.24), in one round trip.

    The rule, in order: an unknown tag is Invalid (Accepted if the deployment accepts
    unknown tags); a registered one has its status, Expired once its expiryDate passed;
    an Accepted tag whose registered parentIdTag is Blocked, Expired or Invalid gets the
    parent's status (an unregistered parent does not refuse: it is only a group name);
    with `concurrent_check`, an Accepted tag that is already in an active transaction
    (on any charger; `own_tx`, the transaction being started, does not count) is
    ConcurrentTx, unless the deployment allows concurrent transactions.
    """
    flat_tag, flat_parent, active = store.redis.eval(
        _LOOKUP, 2, store.keys.idtag(id_tag), store.keys.idtag_transactions(id_tag), store.keys.idtag("")
    )
    tag, parent = _pairs(flat_tag), _pairs(flat_parent)
    if not tag:
        info: dict[str, Any] = {"status": "Accepted" if store.settings.accept_unknown_idtags else "Invalid"}
    else:
        info = {"status": _own_status(tag, now)}
        if tag.get("expiryDate"):
            info["expiryDate"] = tag["expiryDate"]
        if tag.get("parentIdTag"):
            info["parentIdTag"] = tag["parentIdTag"]
    if info["status"] == "Accepted" and parent:
        parent_status = _own_status(parent, now)
        if parent_status in _PARENT_REFUSALS:
            info["status"] = parent_status
    others = set(active) - {str(own_tx)}
    if (
        info["status"] == "Accepted"
        and concurrent_check
        and others
        and not store.settings.allow_concurrent_tx
    ):
        info["status"] = "ConcurrentTx"
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
