"""The registry of connected chargers (``ocpp:clients`` + ``ocpp:client:{id}``), as
the gateway writes it. Every registration carries a TTL that the gateway refreshes,
so the chargers of a gateway that died vanish by themselves."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ocpp_worker.state.keys import Keys

# Remove a registration only if it is still this connection's: after a reconnect
# the newer connection owns it (maybe on another gateway).
_UNREGISTER = """
if redis.call('HGET', KEYS[1], 'conn') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


def _expiry_ms(ttl: int) -> int:
    return int((time.time() + ttl) * 1000)


async def register(r: Any, keys: Keys, cp_id: str, fields: dict[str, str], ttl: int) -> dict[str, str]:
    """Register a connection; returns the registration it replaced (maybe empty)."""
    key = keys.client(cp_id)
    pipe = r.pipeline(transaction=True)
    pipe.hgetall(key)
    pipe.delete(key)
    pipe.hset(key, mapping=fields)
    pipe.expire(key, ttl)
    pipe.zadd(keys.clients, {cp_id: _expiry_ms(ttl)})
    replies = await pipe.execute()
    previous: dict[str, str] = replies[0]
    return previous


async def unregister(r: Any, keys: Keys, cp_id: str, conn_id: str) -> None:
    await r.eval(_UNREGISTER, 2, keys.client(cp_id), keys.clients, conn_id, cp_id)


async def refresh(r: Any, keys: Keys, gateway_id: str, cp_ids: Iterable[str], ttl: int) -> None:
    """Extend this gateway's registrations and drop the expired ones of dead gateways."""
    expiry = _expiry_ms(ttl)
    pipe = r.pipeline(transaction=False)
    for cp_id in cp_ids:
        pipe.expire(keys.client(cp_id), ttl)
        pipe.zadd(keys.clients, {cp_id: expiry})
    pipe.zadd(keys.gateways, {gateway_id: expiry})
    pipe.expire(keys.gateway_outbox(gateway_id), ttl * 2)
    now_ms = int(time.time() * 1000)
    pipe.zremrangebyscore(keys.clients, "-inf", now_ms)
    pipe.zremrangebyscore(keys.gateways, "-inf", now_ms)
    await pipe.execute()
