"""Registered chargers (who may connect, under which OCPP 1.6 security profile, and
with which AuthorizationKey) and every charger's security events. docs/SECURITY.md
explains the policy; the gateway enforces it at the handshake (`gateway/admission.py`).

Per charger, all under its `charger_tag`:

* the registration record (`Keys.registration`, listed in `Keys.registrations`);
* its AuthorizationKey as scrypt hashes only (`Keys.credentials`: ``key``, and
  ``staged`` while a rotation waits for the charger to reconnect with it);
* its security events (`Keys.security_events`, a capped stream whose entry ids are the
  paging cursor) and their counts by kind (`Keys.security_event_counts`).

The record's ``keyVersion`` changes whenever the hashes do, so a gateway caching a
verified password can tell from the record it reads on every handshake whether its
cache still holds, without reading the hashes.

Functions take the project's `Store` or its bare sync client (the gateway has no
`Store`) plus the key names; `*_async` twins take the gateway's asyncio client.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from ocpp_worker import timeutil
from ocpp_worker.state import key_hashes
from ocpp_worker.state.client import RedisClient
from ocpp_worker.state.key_hashes import generate_key
from ocpp_worker.state.keys import Keys
from ocpp_worker.state.store import Store, hashes, redis_of

__all__ = [
    "BOOT_STATUSES",
    "PROFILES",
    "GatewayEvent",
    "Registration",
    "SecurityEvent",
    "delete",
    "event_counts",
    "events_page",
    "generate_key",
    "get",
    "get_async",
    "list_page",
    "put",
    "queue_event",
    "record_event",
    "record_refusal_async",
    "set_key",
    "stage_rotation",
    "verify_key",
    "withdraw_rotation",
]

PROFILES = (0, 1, 2, 3)  # 0: none; 1: Basic auth; 2: TLS + Basic auth; 3: TLS client certificate
BOOT_STATUSES = ("Accepted", "Pending")  # what BootNotification answers a registered charger
DESCRIPTION_MAX = 500
PAGE_MAX = 1000

EVENTS_KEPT = 1000  # per charger, the newest
KIND_MAX = 50  # SecurityEventNotification.type is CiString50Type
DETAIL_MAX = 1000  # its techInfo is CiString255Type; ours are shorter still
# Events of an id with no registration (closed registration refusing strangers) expire:
# anyone may knock with any id, so what they cost us in Redis is bounded by rate x this.
UNREGISTERED_EVENTS_TTL_S = 24 * 3600


class GatewayEvent(StrEnum):
    """The security events the central system records itself."""

    UNKNOWN_CHARGE_POINT = "UnknownChargePoint"
    DISABLED_CHARGE_POINT = "DisabledChargePoint"
    MISSING_BASIC_AUTH = "MissingBasicAuth"
    INVALID_BASIC_AUTH = "InvalidBasicAuth"
    INVALID_CLIENT_CERTIFICATE = "InvalidClientCertificate"
    PLAIN_CONNECTION_REFUSED = "PlainConnectionRefused"
    AUTHORIZATION_KEY_ROTATED = "AuthorizationKeyRotated"
    CSR_REJECTED = "CsrRejected"  # a SignCertificate CSR we refused to sign


# The charger's own SecurityEventNotification types (1.6 security whitepaper, appendix).
CHARGER_EVENTS = frozenset(
    {
        "FirmwareUpdated",
        "FailedToAuthenticateAtCentralSystem",
        "CentralSystemFailedToAuthenticate",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "ReconfigurationOfSecurityParameters",
        "MemoryExhaustion",
        "InvalidMessages",
        "AttemptedReplayAttacks",
        "TamperDetectionActivated",
        "InvalidFirmwareSignature",
        "InvalidFirmwareSigningCertificate",
        "InvalidCentralSystemCertificate",
        "InvalidChargePointCertificate",
        "InvalidTLSVersion",
        "InvalidTLSCipherSuite",
    }
)
# A charger may send any type: the list keeps it, but it is counted as "Other", so a
# charger cannot grow its counts hash without bound.
COUNTED_KINDS = CHARGER_EVENTS | {kind.value for kind in GatewayEvent}
OTHER_KIND = "Other"

_STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")


@dataclass(frozen=True)
class Registration:
    cp_id: str
    description: str
    security_profile: int
    enabled: bool
    boot_status: str
    created_at: str
    updated_at: str
    has_key: bool
    # Opaque; changes whenever the charger's key hashes do (a cache's validity token).
    key_version: str = ""


@dataclass(frozen=True)
class SecurityEvent:
    id: str  # stream entry id: the cursor of `events_page`
    kind: str
    detail: str
    at: str  # when it happened (the charger's clock for its own events)
    source: str  # "gateway" or "charger"
    received_at: str


def _text(value: object, name: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"{name} must be a string of at most {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be valid Unicode text") from None
    return value


def _from_hash(cp_id: str, fields: Mapping[str, str]) -> Registration | None:
    """The record, read fail-closed: a field that is not what `put` writes counts as
    the strictest value (profile 3, disabled, Pending)."""
    if not fields:
        return None
    profile = fields.get("securityProfile", "")
    return Registration(
        cp_id=cp_id,
        description=fields.get("description", ""),
        security_profile=int(profile) if profile in ("0", "1", "2", "3") else 3,
        enabled=fields.get("enabled") == "1",
        boot_status="Accepted" if fields.get("bootStatus") == "Accepted" else "Pending",
        created_at=fields.get("createdAt", ""),
        updated_at=fields.get("updatedAt", ""),
        has_key=bool(fields.get("keyVersion")),
        key_version=fields.get("keyVersion", ""),
    )


# -- registration records -------------------------------------------------------------


def get(store: Store | RedisClient, keys: Keys, cp_id: str) -> Registration | None:
    return _from_hash(cp_id, redis_of(store).hgetall(keys.registration(cp_id)))


async def get_async(r: Any, keys: Keys, cp_id: str) -> Registration | None:
    """`get` on an asyncio client (the gateway's handshake)."""
    return _from_hash(cp_id, await r.hgetall(keys.registration(cp_id)))


def put(
    store: Store | RedisClient,
    keys: Keys,
    cp_id: str,
    *,
    description: str = "",
    security_profile: int = 0,
    enabled: bool = True,
    boot_status: str = "Accepted",
    now: datetime | None = None,
) -> tuple[Registration, bool]:
    """Create or replace a charger's registration (its key and creation time are kept);
    returns the record and whether it is new. ValueError for a value out of range."""
    _text(cp_id, "the charge point id", 1000)
    if not cp_id:
        raise ValueError("the charge point id is empty")
    _text(description, "description", DESCRIPTION_MAX)
    if type(security_profile) is not int or security_profile not in PROFILES:
        raise ValueError("securityProfile must be 0, 1, 2 or 3")
    if not isinstance(enabled, bool):
        raise ValueError("enabled must be true or false")
    if boot_status not in BOOT_STATUSES:
        raise ValueError("bootStatus must be Accepted or Pending")
    at = timeutil.iso(now or timeutil.utc_now())
    key = keys.registration(cp_id)
    pipe = redis_of(store).pipeline(transaction=True)
    pipe.exists(key)
    pipe.hsetnx(key, "createdAt", at)
    pipe.hset(
        key,
        mapping={
            "description": description,
            "securityProfile": str(security_profile),
            "enabled": "1" if enabled else "0",
            "bootStatus": boot_status,
            "updatedAt": at,
        },
    )
    pipe.zadd(keys.registrations, {cp_id: 0})
    pipe.hgetall(key)
    replies = pipe.execute()
    record = _from_hash(cp_id, replies[-1])
    assert record is not None
    return record, not replies[0]


def delete(store: Store | RedisClient, keys: Keys, cp_id: str) -> bool:
    """Remove the record, the key hashes and any pending rotation; False if there was
    no record. The security events stay: they are the charger's history."""
    pipe = redis_of(store).pipeline(transaction=True)
    pipe.delete(keys.registration(cp_id))
    pipe.delete(keys.credentials(cp_id))
    pipe.zrem(keys.registrations, cp_id)
    return bool(pipe.execute()[0])


def list_page(
    store: Store | RedisClient, keys: Keys, limit: int, after: str | None = None
) -> list[Registration]:
    """Up to `limit` (at most PAGE_MAX) registrations in id order (bytewise), starting
    after the id `after`: pass the last id of a page to get the next one."""
    limit = min(limit, PAGE_MAX)
    if limit <= 0:
        return []
    r = redis_of(store)
    ids = r.zrangebylex(keys.registrations, f"({after}" if after else "-", "+", start=0, num=limit)
    found = hashes(r, (keys.registration(cp_id) for cp_id in ids))
    records = (_from_hash(cp_id, fields) for cp_id, fields in zip(ids, found, strict=True))
    return [record for record in records if record is not None]  # deleted meanwhile: skipped


# -- AuthorizationKeys ------------------------------------------------------------------

# Store a key hash in `ARGV[1]` ("key", or "staged" for a rotation) of a registered
# charger and give the record a new keyVersion. Setting the key drops a pending
# rotation; staging when there is no current key makes it the key (a profile-0 charger
# given its first key before its profile is raised has no old key to keep valid).
_SET_KEY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local field = ARGV[1]
if field == 'staged' and redis.call('HEXISTS', KEYS[2], 'key') == 0 then field = 'key' end
redis.call('HSET', KEYS[2], field, ARGV[2])
if field == 'key' then redis.call('HDEL', KEYS[2], 'staged') end
redis.call('HSET', KEYS[1], 'keyVersion', ARGV[3], 'updatedAt', ARGV[4])
return 1
"""

# The charger proved it holds the staged key: it becomes the key, the old one is gone.
# 1 also when a concurrent handshake promoted the same key first; 0 when the staged
# key was replaced meanwhile (the operator set another key).
_PROMOTE = """
if redis.call('HGET', KEYS[2], 'key') == ARGV[1] then return 1 end
if redis.call('HGET', KEYS[2], 'staged') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'key', ARGV[1])
redis.call('HDEL', KEYS[2], 'staged')
redis.call('HSET', KEYS[1], 'keyVersion', ARGV[2], 'updatedAt', ARGV[3])
return 2
"""

# A staged key the charger refused stops being valid (if it is still the staged one).
_WITHDRAW = """
if redis.call('HGET', KEYS[2], 'staged') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[2], 'staged')
redis.call('HSET', KEYS[1], 'keyVersion', ARGV[2], 'updatedAt', ARGV[3])
return 1
"""


def _new_version() -> str:
    return secrets.token_hex(8)


def _store_key(store: Store | RedisClient, keys: Keys, cp_id: str, field: str, key: str) -> None:
    stored = key_hashes.hash_key(key)  # ValueError for an invalid key, before any write
    now = timeutil.iso(timeutil.utc_now())
    done = redis_of(store).eval(
        _SET_KEY, 2, keys.registration(cp_id), keys.credentials(cp_id), field, stored, _new_version(), now
    )
    if not done:
        raise LookupError(f"no registration for {cp_id!r}")


def set_key(store: Store | RedisClient, keys: Keys, cp_id: str, key: str) -> None:
    """Make `key` the charger's AuthorizationKey (a pending rotation is dropped).
    ValueError for a key outside the whitepaper's rules (`key_hashes.check_key`),
    LookupError when the charger is not registered."""
    _store_key(store, keys, cp_id, "key", key)


def stage_rotation(store: Store | RedisClient, keys: Keys, cp_id: str, new_key: str) -> None:
    """Record the key the charger Accepted in a ChangeConfiguration AuthorizationKey:
    both it and the current key are valid until the charger connects with the new one
    (whitepaper: the charger reconnects with it), which `verify_key` then makes the only
    key. A charger with no key yet gets it as its key at once. Errors as `set_key`."""
    _store_key(store, keys, cp_id, "staged", new_key)


def withdraw_rotation(store: Store | RedisClient, keys: Keys, cp_id: str, key: str) -> bool:
    """The charger refused `key` (ChangeConfiguration Rejected or NotSupported, or a
    CALLERROR): it is no longer valid beside the current key. True if it was staged.
    (A timeout leaves it staged: the charger may have taken it.) One scrypt run."""
    r = redis_of(store)
    staged = r.hget(keys.credentials(cp_id), "staged")
    if not staged or not key_hashes.matches(staged, key):
        return False
    now = timeutil.iso(timeutil.utc_now())
    return bool(
        r.eval(_WITHDRAW, 2, keys.registration(cp_id), keys.credentials(cp_id), staged, _new_version(), now)
    )


def verify_key(store: Store | RedisClient, keys: Keys, cp_id: str, password: str | bytes) -> bool:
    """Whether `password` is the charger's key or its staged rotation key; a staged key
    that matches becomes the key, and the old one stops working.

    Takes one or two scrypt runs (tens of milliseconds of CPU each): never call it on an event loop.
    A password that no key could be (`key_hashes.check_key`) is refused without one.
    """
    try:
        text = password.decode("ascii") if isinstance(password, bytes) else password
        key_hashes.check_key(text)
    except (UnicodeDecodeError, ValueError):
        return False
    r = redis_of(store)
    current, staged = r.hmget(keys.credentials(cp_id), ["key", "staged"])
    if current and key_hashes.matches(current, text):
        return True
    if not staged or not key_hashes.matches(staged, text):
        return False
    now = timeutil.iso(timeutil.utc_now())
    outcome = r.eval(
        _PROMOTE, 2, keys.registration(cp_id), keys.credentials(cp_id), staged, _new_version(), now
    )
    if outcome == 2:
        record_event(
            r,
            keys,
            cp_id,
            GatewayEvent.AUTHORIZATION_KEY_ROTATED,
            "the charge point connected with its new AuthorizationKey; the old one is no longer valid",
            now,
        )
    return bool(outcome)


# -- security events --------------------------------------------------------------------


class EventSink(Protocol):
    """Where an event's commands are queued: a sync or asyncio pipeline, or a handler's
    `Writes` (applied with its reply)."""

    def xadd(
        self, name: str, fields: dict[str, str], /, maxlen: int | None = None, approximate: bool = True
    ) -> Any: ...
    def hincrby(self, name: str, key: str, amount: int = 1, /) -> Any: ...
    def expire(self, name: str, time: int, /) -> Any: ...


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters, storable whatever the input (lone surrogates -> '?')."""
    return text[:limit].encode("utf-8", "replace").decode("utf-8")


def counted_kind(kind: str) -> str:
    return kind if kind in COUNTED_KINDS else OTHER_KIND


def queue_event(
    sink: EventSink,
    keys: Keys,
    cp_id: str,
    kind: str,
    detail: str,
    at: str,
    *,
    source: str = "gateway",
    expire_after: int | None = None,
) -> None:
    """Queue one security event of a charger on `sink`: appended to its stream (the
    newest EVENTS_KEPT kept) and counted by kind. `expire_after` (seconds) for an id
    that has no registration."""
    kind = _clip(kind, KIND_MAX)
    stream, counts = keys.security_events(cp_id), keys.security_event_counts(cp_id)
    fields = {"kind": kind, "detail": _clip(detail, DETAIL_MAX), "at": _clip(at, 40), "source": source}
    sink.xadd(stream, fields, maxlen=EVENTS_KEPT, approximate=False)
    sink.hincrby(counts, counted_kind(kind), 1)
    if expire_after is not None:
        sink.expire(stream, expire_after)
        sink.expire(counts, expire_after)


def record_event(
    store: Store | RedisClient,
    keys: Keys,
    cp_id: str,
    kind: str,
    detail: str,
    at: str,
    *,
    source: str = "gateway",
    expire_after: int | None = None,
) -> None:
    """Record one security event now (`queue_event` in its own round trip)."""
    pipe = redis_of(store).pipeline(transaction=True)
    queue_event(pipe, keys, cp_id, kind, detail, at, source=source, expire_after=expire_after)
    pipe.execute()


async def record_refusal_async(
    r: Any, keys: Keys, reason: str, cp_id: str | None, detail: str, registered: bool
) -> None:
    """A refused handshake: counted by `reason` in `Keys.refusals` and, when the id is a
    valid one, a security event of that charger (expiring if it is not registered)."""
    pipe = r.pipeline(transaction=True)
    pipe.hincrby(keys.refusals, reason, 1)
    if cp_id is not None:
        at = timeutil.iso(timeutil.utc_now())
        expire_after = None if registered else UNREGISTERED_EVENTS_TTL_S
        queue_event(pipe, keys, cp_id, reason, detail, at, expire_after=expire_after)
    await pipe.execute()


def _event(entry_id: str, fields: Mapping[str, str]) -> SecurityEvent:
    millis = int(entry_id.split("-", 1)[0])
    received = timeutil.iso(datetime.fromtimestamp(millis / 1000, tz=UTC))
    return SecurityEvent(
        id=entry_id,
        kind=fields.get("kind", ""),
        detail=fields.get("detail", ""),
        at=fields.get("at", ""),
        source=fields.get("source", ""),
        received_at=received,
    )


def events_page(
    store: Store | RedisClient, keys: Keys, cp_id: str, limit: int, before: str | None = None
) -> list[SecurityEvent]:
    """Up to `limit` (at most PAGE_MAX) of a charger's security events, newest first,
    older than the event id `before` (the last id of the previous page). ValueError for
    a `before` that is not an event id."""
    if before is not None and not _STREAM_ID.fullmatch(before):
        raise ValueError("before must be an event id such as 1767225600000-0")
    limit = min(limit, PAGE_MAX)
    if limit <= 0:
        return []
    entries = redis_of(store).xrevrange(
        keys.security_events(cp_id), max=f"({before}" if before else "+", min="-", count=limit
    )
    return [_event(entry_id, fields) for entry_id, fields in entries]


def event_counts(store: Store | RedisClient, keys: Keys, cp_id: str) -> dict[str, int]:
    """How many security events of each kind a charger has had (trimmed ones included);
    kinds outside the whitepaper's and ours are counted as "Other"."""
    return {
        kind: int(count) for kind, count in redis_of(store).hgetall(keys.security_event_counts(cp_id)).items()
    }
