"""The registry of connected chargers (``ocpp:clients`` + ``ocpp:client:{id}``), as
the gateway writes it. Every registration carries a TTL that the gateway refreshes,
so the chargers of a gateway that died vanish by themselves."""

from __future__ import annotations

import time
from collections.abc import Mapping
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


async def unregister(r: Any, keys: Keys, cp_id: str, conn_id: str) -> bool:
    """Whether the registration was this connection's (and is now removed)."""
    return bool(await r.eval(_UNREGISTER, 2, keys.client(cp_id), keys.clients, conn_id, cp_id))


# Extend a registration we own, or write it again if it is gone (Redis restarted, or
# the key expired while Redis was unreachable); leave it alone if a newer connection
# owns it, possibly on another gateway.
_REFRESH = """
local owner = redis.call('HGET', KEYS[1], 'conn')
if owner and owner ~= ARGV[1] then return 0 end
if not owner then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""


async def refresh(
    r: Any, keys: Keys, gateway_id: str, registrations: Mapping[str, dict[str, str]], ttl: int
) -> None:
    """Keep this gateway's registrations alive; drop the expired ones of dead gateways.

    `registrations` maps each charger connected here to its registration fields.
    """
    expiry = _expiry_ms(ttl)
    pipe = r.pipeline(transaction=False)
    for cp_id, fields in registrations.items():
        pairs = [item for field in fields.items() for item in field]
        args = [fields["conn"], ttl, expiry, cp_id, *pairs]
        pipe.eval(_REFRESH, 2, keys.client(cp_id), keys.clients, *args)
    pipe.zadd(keys.gateways, {gateway_id: expiry})
    pipe.expire(keys.gateway_outbox(gateway_id), ttl * 2)
    now_ms = int(time.time() * 1000)
    pipe.zremrangebyscore(keys.clients, "-inf", now_ms)
    pipe.zremrangebyscore(keys.gateways, "-inf", now_ms)
    await pipe.execute()


async def has_booted(r: Any, keys: Keys, cp_id: str) -> bool:
    """Whether a charger has ever had a BootNotification accepted."""
    status = await r.hget(keys.chargepoint(cp_id), "registrationStatus")
    return bool(status == "Accepted")
