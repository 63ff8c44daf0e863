"""Reservations (OCPP 1.6 Reservation profile): what we asked a charger to reserve, its
answer, and what became of it.

A reservation is stored only once the charger answered ReserveNow (Accepted: active;
Faulted / Occupied / Rejected / Unavailable: refused, kept with that answer), so a call
that failed leaves no trace. Its status then changes by CancelReservation's Accepted
(cancelled), by a StartTransaction carrying its id (used), or by its expiryDate passing
(expired, applied when read: nothing needs to run at the moment it expires).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ocpp_worker import events, timeutil
from ocpp_worker.state.store import Store, Writes, hashes, strings

STATUSES = ("active", "used", "cancelled", "expired", "refused")


def allocate_id(store: Store) -> int:
    """A reservationId no other reservation of this central system has had."""
    return int(store.redis.incr(store.keys.reservation_counter))


def record(
    store: Store, cp_id: str, reservation_id: int, request: dict[str, Any], answer: str, now: str
) -> None:
    """Keep the reservation the charger answered `answer` (ReserveNow's status) to."""
    k = store.keys
    pipe = store.redis.pipeline(transaction=True)
    pipe.hset(
        k.reservation(reservation_id),
        mapping=strings(
            {
                **request,
                "clientId": cp_id,
                "answer": answer,
                "status": "active" if answer == "Accepted" else "refused",
                "createdAt": now,
            }
        ),
    )
    pipe.zadd(k.reservations_of(cp_id), {str(reservation_id): reservation_id})
    events.reservation_created(
        pipe, store, cp_id, {**request, "reservationId": reservation_id}, answer, _at(now)
    )
    pipe.execute()


def _at(now: str) -> datetime:
    return timeutil.parse(now) or timeutil.utc_now()


def _current(reservation: dict[str, str], now: datetime) -> dict[str, str]:
    """The reservation as it is at `now`: an active one past its expiryDate is expired."""
    expiry = timeutil.parse(reservation.get("expiryDate", ""))
    if reservation.get("status") == "active" and expiry is not None and expiry <= now:
        return {**reservation, "status": "expired"}
    return reservation


def get(store: Store, cp_id: str, reservation_id: int, now: datetime) -> dict[str, str] | None:
    """One of the charger's reservations, or None (unknown, or another charger's)."""
    found = store.redis.hgetall(store.keys.reservation(reservation_id))
    if not found or found.get("clientId") != cp_id:
        return None
    return _current(found, now)


def cancelled(store: Store, cp_id: str, reservation_id: int, answer: str, now: str) -> None:
    """Record CancelReservation's answer; Accepted cancels the reservation (an event
    if it was still active)."""
    fields: dict[str, Any] = {"cancelAnswer": answer}
    key = store.keys.reservation(reservation_id)
    pipe = store.redis.pipeline(transaction=True)
    if answer == "Accepted":
        fields.update(status="cancelled", cancelledAt=now)
        if store.redis.hget(key, "status") == "active":
            events.reservation_cancelled(pipe, store, cp_id, reservation_id, _at(now))
    pipe.hset(key, mapping=fields)
    pipe.execute()


def listing(
    store: Store, cp_id: str, now: datetime, offset: int, limit: int
) -> tuple[list[dict[str, str]], int]:
    """One page of the charger's reservations, newest first, and their total."""
    key = store.keys.reservations_of(cp_id)
    total = int(store.redis.zcard(key))
    ids = store.redis.zrevrange(key, offset, offset + limit - 1)
    found = hashes(store, (store.keys.reservation(int(i)) for i in ids))
    return [_current(r, now) for r in found if r], total


def consume(store: Store, w: Writes, cp_id: str, reservation_id: int, tx_id: int, now: datetime) -> str:
    """What a StartTransaction carrying `reservation_id` does to it, as recorded on the
    transaction: "used" (an active reservation of this charger, now used by `tx_id`),
    "unknown" (never issued), "foreign" (another charger's), or the status it had
    (expired, cancelled, used, refused). Only "used" changes the reservation."""
    found = store.redis.hgetall(store.keys.reservation(reservation_id))
    if not found:
        return "unknown"
    if found.get("clientId") != cp_id:
        return "foreign"
    status = _current(found, now)["status"]
    if status != "active":
        return status
    w.hset(
        store.keys.reservation(reservation_id),
        mapping={"status": "used", "transactionId": tx_id, "usedAt": timeutil.iso(now)},
    )
    events.reservation_used(w, store, cp_id, reservation_id, tx_id, now)
    return "used"
