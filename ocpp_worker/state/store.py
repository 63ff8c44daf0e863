"""The handle every state function takes: one Redis client, the key names, the settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis

from ocpp_worker.config import Settings, get_settings
from ocpp_worker.state.keys import Keys

#: The MULTI/EXEC pipeline a handler queues its writes on (`CallContext.writes`). It is
#: executed together with the reply, so a CALL has its whole effect and its reply, or
#: neither (see `handlers.dispatch`).
Writes = Any


@dataclass
class Store:
    # redis-py's annotations cannot express decode_responses=True (every reply is typed
    # bytes | str | Awaitable), so the client is untyped at this one boundary.
    redis: Any
    settings: Settings
    keys: Keys = field(init=False)

    def __post_init__(self) -> None:
        self.keys = Keys(self.settings.key_prefix)

    @classmethod
    def connect(cls, settings: Settings | None = None) -> Store:
        """A store on a pooled, decoding Redis client for these settings."""
        settings = settings or get_settings()
        client = redis.Redis.from_url(settings.redis_url, decode_responses=True, health_check_interval=30)
        return cls(client, settings)


def strings(mapping: dict[str, Any]) -> dict[str, str]:
    """A hash mapping without empty values, every value a string (Redis stores strings)."""
    return {k: str(v) for k, v in mapping.items() if v is not None and v != ""}


def hashes(store: Store, keys: Iterable[str]) -> list[dict[str, str]]:
    """Several hashes in one round trip (an empty dict for a missing key)."""
    pipe = store.redis.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    return list(pipe.execute())
