"""How far behind the bridges are: the inbound stream's backlog, read for the metrics.

The bridges delete each entry once it is handled (`bridge.consumer`), so every entry
still in the stream is work not done: the stream's length is the backlog, its first
entry the oldest frame waiting, and the group's pending entries those a bridge has
read but not yet acknowledged. Ages are measured on Redis' clock (TIME), the one that
wrote the entry ids, so a skewed clock here does not skew them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from ocpp_worker.state.keys import Keys


@dataclass(frozen=True)
class Backlog:
    waiting: int  # entries no bridge has read yet
    pending: int  # entries read by a bridge and not acknowledged
    oldest_age_s: float  # age of the oldest entry not handled yet (0 when none)
    oldest_pending_age_s: float  # age of the oldest pending entry (0 when none)


def _age_s(now_ms: float, entry_id: str | None) -> float:
    if not entry_id:
        return 0.0
    return max(0.0, (now_ms - int(entry_id.partition("-")[0])) / 1000)


def read(redis: Any, keys: Keys, group: str) -> Backlog:
    """One round trip: TIME, XLEN, XPENDING (summary) and the first entry's id."""
    pipe = redis.pipeline(transaction=False)
    pipe.time()
    pipe.xlen(keys.inbound)
    pipe.xpending(keys.inbound, group)
    pipe.xrange(keys.inbound, count=1)
    (seconds, micros), length, pending, first = pipe.execute(raise_on_error=False)
    if isinstance(pending, ResponseError):  # no group yet (no bridge has started)
        pending = {"pending": 0, "min": None}
    now_ms = seconds * 1000 + micros / 1000
    count = int(pending["pending"])
    return Backlog(
        waiting=max(0, int(length) - count),
        pending=count,
        oldest_age_s=_age_s(now_ms, first[0][0] if first else None),
        oldest_pending_age_s=_age_s(now_ms, pending["min"]),
    )
