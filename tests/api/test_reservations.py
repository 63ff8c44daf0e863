"""Reservations through the API with real chargers: ReserveNow's answers, a CALLERROR and
an offline charger (nothing stored), CancelReservation, expiry, and a reservation used
by the charger's StartTransaction."""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call

from ocpp_worker.state import transactions
from tests.api.conftest import envelope_of, eventually, ok

LATER = "2099-01-01T00:00:00Z"


def url(cp_id: str, tail: str = "") -> str:
    return f"/api/v1/chargepoints/{cp_id}/reservations{tail}"


def body(**changes: Any) -> dict[str, Any]:
    return {"connectorId": 1, "idTag": "RES-TAG", "expiryDate": LATER, **changes}


async def listed(api: Any, cp_id: str) -> list[tuple[int, str]]:
    return [(r["reservationId"], r["status"]) for r in ok(await api.get(url(cp_id)))["items"]]


async def test_accepted_then_rejected_then_cancelled(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    accepted = ok(await api.post(url(cp_id), json=body(parentIdTag="RES-FLEET")), 201)
    assert accepted["status"] == "active" and accepted["answer"] == "Accepted"
    assert accepted["clientId"] == cp_id and accepted["expiryDate"] == "2099-01-01T00:00:00.000Z"
    assert cp.received[-1] == ("ReserveNow", {"connector_id": 1, "reservation_id": accepted["reservationId"]})

    cp.answers["ReserveNow"] = "Occupied"
    refused = ok(await api.post(url(cp_id), json=body()), 201)
    assert refused["reservationId"] > accepted["reservationId"]
    assert (refused["status"], refused["answer"]) == ("refused", "Occupied")

    cp.answers["CancelReservation"] = "Rejected"
    kept = ok(await api.delete(url(cp_id, f"/{accepted['reservationId']}")))
    assert (kept["status"], kept["cancelAnswer"]) == ("active", "Rejected")
    del cp.answers["CancelReservation"]
    cancelled = ok(await api.delete(url(cp_id, f"/{accepted['reservationId']}")))
    assert (cancelled["status"], cancelled["cancelAnswer"]) == ("cancelled", "Accepted")
    assert cp.received[-1] == ("CancelReservation", {"reservation_id": accepted["reservationId"]})

    assert await listed(api, cp_id) == [
        (refused["reservationId"], "refused"),
        (accepted["reservationId"], "cancelled"),
    ]
    envelope_of(await api.delete(url(cp_id, "/999999999")), 404)
    envelope_of(await api.post(url(cp_id), json=body(connectorId="one")), 400)


async def test_callerror_is_502_and_offline_is_503_with_nothing_stored(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    kept = ok(await api.post(url(cp_id), json=body()), 201)
    cp.answers["ReserveNow"] = "CALLERROR"
    envelope_of(await api.post(url(cp_id), json=body()), 502)
    cp.answers["CancelReservation"] = "CALLERROR"
    envelope_of(await api.delete(url(cp_id, f"/{kept['reservationId']}")), 502)
    assert await listed(api, cp_id) == [(kept["reservationId"], "active")]

    await cp._connection.close()

    async def offline() -> bool:
        return not ok(await api.get(f"/api/v1/chargepoints/{cp_id}"))["connected"]

    assert await eventually(offline)
    envelope_of(await api.post(url(cp_id), json=body()), 503)
    envelope_of(await api.delete(url(cp_id, f"/{kept['reservationId']}")), 503)
    assert await listed(api, cp_id) == [(kept["reservationId"], "active")]


async def test_an_active_reservation_expires_when_its_date_passes(api, chargers, cp_id):
    await chargers.connect(cp_id)
    soon = ok(await api.post(url(cp_id), json=body(expiryDate="2000-01-01T00:00:00Z")), 201)
    assert soon["status"] == "expired"  # the simulator accepts any date; we apply it on read
    later = ok(await api.post(url(cp_id), json=body()), 201)
    assert await listed(api, cp_id) == [
        (later["reservationId"], "active"),
        (soon["reservationId"], "expired"),
    ]


async def test_start_transaction_uses_the_reservation_and_records_bad_ones(api, chargers, store, cp_id):
    cp = await chargers.connect(cp_id)
    await chargers.connect(f"{cp_id}-other")
    mine = ok(await api.post(url(cp_id), json=body()), 201)
    foreign = ok(await api.post(url(f"{cp_id}-other"), json=body(idTag="RES-OTHER")), 201)

    async def start(reservation_id: int, tag: str) -> int:
        started = await cp.call(
            call.StartTransaction(
                connector_id=1,
                id_tag=tag,
                meter_start=0,
                timestamp="2026-01-01T00:00:00Z",
                reservation_id=reservation_id,
            )
        )
        return int(started.transaction_id)

    tx_id = await start(mine["reservationId"], "RES-TAG")
    used = [r for r in ok(await api.get(url(cp_id)))["items"] if r["reservationId"] == mine["reservationId"]]
    assert (used[0]["status"], used[0]["transactionId"]) == ("used", tx_id)
    assert transactions.get(store, tx_id)["reservationStatus"] == "used"
    tx = ok(await api.get(f"/api/v1/transactions/{tx_id}"))
    assert (tx["reservationId"], tx["reservationStatus"]) == (mine["reservationId"], "used")

    again = await start(mine["reservationId"], "RES-TAG2")
    assert transactions.get(store, again)["reservationStatus"] == "used"  # it was used already
    assert ok(await api.get(url(cp_id)))["items"][0]["transactionId"] == tx_id  # still the first
    stolen = await start(foreign["reservationId"], "RES-TAG3")
    assert transactions.get(store, stolen)["reservationStatus"] == "foreign"
    assert ok(await api.get(url(f"{cp_id}-other")))["items"][0]["status"] == "active"
    unknown = await start(2_000_000_000, "RES-TAG4")
    assert transactions.get(store, unknown)["reservationStatus"] == "unknown"
