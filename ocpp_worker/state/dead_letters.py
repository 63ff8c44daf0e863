"""The dead-letter stream (``{p}server:dead``): charger CALLs we gave up on after
`Settings.max_attempts` failed runs (a handler that kept raising, a frame that kept
killing its worker). The charger got an InternalError; the operator finds the frame
and the reason here (`GET /api/v1/dead-letters`)."""

from __future__ import annotations

from typing import Any

from ocpp_worker import timeutil
from ocpp_worker.state.store import Store, Writes

DEAD_LETTERS_KEPT = 10_000


def record(
    store: Store,
    w: Writes,
    *,
    cp_id: str,
    unique_id: str,
    action: str,
    frame: str,
    reason: str,
    attempts: int,
) -> None:
    w.xadd(
        store.keys.dead_letters,
        {
            "cp": cp_id,
            "id": unique_id,
            "action": action,
            "frame": frame,
            "reason": reason[:2000],
            "attempts": str(attempts),
            "at": timeutil.iso(timeutil.utc_now()),
        },
        maxlen=DEAD_LETTERS_KEPT,
        approximate=True,
    )


def newest(store: Store, limit: int = 100, before: str = "+") -> list[dict[str, Any]]:
    """The newest dead letters first, each with its stream id as ``deadLetterId``."""
    entries = store.redis.xrevrange(store.keys.dead_letters, max=before, min="-", count=limit)
    return [{"deadLetterId": entry_id, **fields} for entry_id, fields in entries]


def count(store: Store) -> int:
    return int(store.redis.xlen(store.keys.dead_letters))
