"""The domain event stream (``{p}events``, `Keys.events`): written, trimmed and read.

An event is one stream entry: ``type``, ``time`` (ISO 8601 UTC), ``cp`` (the charger
id), ``data`` (JSON) and ``v`` (the schema version of `ocpp_worker.events`); its
stream id is the event id. `queue` adds one to a pipeline or to a handler's `Writes`,
so it is committed with the state change it reports (one MULTI, one Lua commit), and
caps the stream by count (``MAXLEN ~``) and by age (``XTRIM MINID ~``): both
approximate, so Redis drops whole nodes at a time, the cheap way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ocpp_worker import timeutil
from ocpp_worker.config import Settings
from ocpp_worker.state.keys import Keys
from ocpp_worker.state.store import Store

SCHEMA_VERSION = 1
READ_CHUNK = 500  # entries per XRANGE
SCAN_MAX = 5_000  # entries one read looks at, filtered or not
LAST_POSSIBLE_ID = f"{2**64 - 1}-{2**64 - 1}"


def min_id(settings: Settings, now: datetime) -> str:
    """The oldest stream id the age cap keeps at `now`."""
    oldest_ms = int((now.timestamp() - settings.events_hours * 3600) * 1000)
    return f"{max(oldest_ms, 0)}-0"


def queue(
    pipe: Any,
    keys: Keys,
    settings: Settings,
    event_type: str,
    cp_id: str,
    data: Any,
    now: datetime,
    changed: tuple[str, dict[str, str]] | None = None,
) -> None:
    """Queue one event on `pipe`: a `Writes`, or a redis-py pipeline (sync or asyncio;
    the caller executes it).

    `changed` = (hash key, {field: new value}): publish only if, when the writes are
    committed, one of those fields holds another value (`Writes.xadd_if_changed`; a
    `Writes` only). The first field's old value becomes the event's
    ``data.previousStatus`` (null if it had none): no read before the commit.
    Nothing when events are off (`Settings.events_enabled`, OCPP_EVENTS=0)."""
    if not settings.events_enabled:
        return
    fields = {
        "type": event_type,
        "time": timeutil.iso(now),
        "cp": cp_id,
        "data": json.dumps(data, separators=(",", ":")),
        "v": str(SCHEMA_VERSION),
    }
    if changed is None:
        pipe.xadd(keys.events, fields, maxlen=settings.events_max, approximate=True)
    else:
        pipe.xadd_if_changed(keys.events, fields, settings.events_max, *changed)
    pipe.xtrim(keys.events, minid=min_id(settings, now), approximate=True)


def publish(store: Store, event_type: str, cp_id: str, data: Any, now: datetime | None = None) -> None:
    """Publish one event by itself (a process without a pipeline of its own)."""
    pipe = store.redis.pipeline(transaction=True)
    queue(pipe, store.keys, store.settings, event_type, cp_id, data, now or timeutil.utc_now())
    pipe.execute()


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next: str  # the cursor to read on from: the last entry looked at (or the given one)


def entry(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """An event as clients get it, from its stream entry."""
    try:
        data = json.loads(fields.get("data", "null"))
    except ValueError:
        data = None
    if "prev" in fields and isinstance(data, dict):  # published with `changed`
        data["previousStatus"] = fields["prev"] or None
    return {
        "id": entry_id,
        "type": fields.get("type", ""),
        "time": fields.get("time", ""),
        "chargerId": fields.get("cp", ""),
        "version": int(fields.get("v") or SCHEMA_VERSION),
        "data": data,
    }


def _after(cursor: str) -> str:
    """XRANGE's exclusive lower bound for `cursor` (Redis refuses "(0-0")."""
    return "-" if all(int(part) == 0 for part in cursor.split("-")) else f"({cursor}"


def read(
    store: Store,
    after: str,
    limit: int,
    event_type: str | None = None,
    cp_id: str | None = None,
    scan_max: int = SCAN_MAX,
) -> Page:
    """Up to `limit` events after the stream id `after`, oldest first, of one type
    and/or one charger if given. Looks at no more than `scan_max` entries: a filtered
    read may come back short, and `next` is where to go on in any case."""
    items: list[dict[str, Any]] = []
    cursor, scanned = after, 0
    if after == LAST_POSSIBLE_ID:  # nothing can follow it (and Redis refuses its "(")
        return Page(items, after)
    while len(items) < limit and scanned < scan_max:
        count = min(READ_CHUNK, scan_max - scanned)
        found = store.redis.xrange(store.keys.events, _after(cursor), "+", count=count)
        for entry_id, fields in found:
            scanned += 1
            cursor = entry_id
            if (event_type is None or fields.get("type") == event_type) and (
                cp_id is None or fields.get("cp") == cp_id
            ):
                items.append(entry(entry_id, fields))
                if len(items) == limit:
                    break
        if len(found) < count:
            break
    return Page(items, cursor)


def last_id(store: Store) -> str:
    """The id of the newest event ("0-0" when there is none)."""
    newest = store.redis.xrevrange(store.keys.events, "+", "-", count=1)
    return str(newest[0][0]) if newest else "0-0"


def count(store: Store) -> int:
    return int(store.redis.xlen(store.keys.events))
