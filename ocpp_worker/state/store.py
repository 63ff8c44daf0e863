"""The handle every state function takes: one Redis client, the key names, the settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ocpp_worker.config import Settings, get_settings
from ocpp_worker.state import client
from ocpp_worker.state.client import RedisClient
from ocpp_worker.state.keys import Keys


class Writes:
    """The writes of one charger CALL, recorded while its handler runs and applied by
    Redis in one script together with its reply (`state.replies.commit`): a CALL has
    its whole effect and its answer, or neither. The methods mirror redis-py's for the
    few commands handlers need; `hdel_if_equal` is a compare-and-delete."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        # transactions these writes give the archive work for (a stop, samples that came
        # after it): once they are committed the task sends a drain (`ocpp_worker.archive`)
        self.to_archive: list[int] = []

    def _add(self, *args: object) -> None:
        self.commands.append([str(arg) for arg in args])

    def hset(
        self, key: str, field: str | None = None, value: object = None, mapping: dict[str, Any] | None = None
    ) -> None:
        pairs = dict(mapping or {})
        if field is not None:
            pairs[field] = value
        if pairs:
            self._add("HSET", key, *(item for pair in pairs.items() for item in pair))

    def hdel(self, key: str, *fields: str) -> None:
        if fields:
            self._add("HDEL", key, *fields)

    def hdel_if_equal(self, key: str, field: str, value: object) -> None:
        self._add("HDEL_IF_EQUAL", key, field, value)

    def hincrby(self, key: str, field: str, amount: int = 1) -> None:
        self._add("HINCRBY", key, field, amount)

    def expire(self, key: str, seconds: int) -> None:
        self._add("EXPIRE", key, seconds)

    def sadd(self, key: str, *members: object) -> None:
        if members:
            self._add("SADD", key, *members)

    def srem(self, key: str, *members: object) -> None:
        if members:
            self._add("SREM", key, *members)

    def rpush(self, key: str, *values: str) -> None:
        if values:
            self._add("RPUSH", key, *values)

    def ltrim(self, key: str, start: int, end: int) -> None:
        self._add("LTRIM", key, start, end)

    def zadd(self, key: str, mapping: dict[str, float], nx: bool = False) -> None:
        if mapping:
            flags = ("NX",) if nx else ()
            self._add("ZADD", key, *flags, *(item for m, score in mapping.items() for item in (score, m)))

    def zrem(self, key: str, *members: str) -> None:
        if members:
            self._add("ZREM", key, *members)

    def xadd(
        self, key: str, fields: dict[str, str], maxlen: int | None = None, approximate: bool = True
    ) -> None:
        cap = ("MAXLEN", "~" if approximate else "=", maxlen) if maxlen is not None else ()
        self._add("XADD", key, *cap, "*", *(item for pair in fields.items() for item in pair))

    def xadd_if_changed(
        self, key: str, fields: dict[str, str], maxlen: int, hash_key: str, compare: dict[str, str]
    ) -> None:
        """XADD, at commit time, only if a field of `hash_key` differs from `compare`'s
        value; the entry gets the first compared field's old value as ``prev`` ("" if none).
        Queue it before the writes that change those fields."""
        pairs = [item for pair in compare.items() for item in pair]
        xadd = [key, "MAXLEN", "~", maxlen, "*", *(item for pair in fields.items() for item in pair)]
        self._add("XADD_IF_CHANGED", hash_key, len(compare), *pairs, *xadd)

    def xtrim(self, key: str, minid: str, approximate: bool = True) -> None:
        """Drop the entries older than `minid` (as redis-py's ``xtrim(key, minid=…)``)."""
        self._add("XTRIM", key, "MINID", "~" if approximate else "=", minid)


@dataclass
class Store:
    redis: RedisClient
    settings: Settings
    keys: Keys = field(init=False)

    def __post_init__(self) -> None:
        self.keys = Keys(self.settings.key_prefix)

    @classmethod
    def connect(cls, settings: Settings | None = None) -> Store:
        """A store on a pooled, decoding Redis client for these settings."""
        settings = settings or get_settings()
        return cls(client.connect(settings.redis_url), settings)


def strings(mapping: dict[str, Any]) -> dict[str, str]:
    """A hash mapping without empty values, every value a string (Redis stores strings)."""
    return {k: str(v) for k, v in mapping.items() if v is not None and v != ""}


def redis_of(store: Store | RedisClient) -> RedisClient:
    """The client of a `Store`, or the client itself (processes that have no `Store`)."""
    return store.redis if isinstance(store, Store) else store


def hashes(store: Store | RedisClient, keys: Iterable[str]) -> list[dict[str, str]]:
    """Several hashes in one round trip (an empty dict for a missing key)."""
    pipe = redis_of(store).pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    return list(pipe.execute())
