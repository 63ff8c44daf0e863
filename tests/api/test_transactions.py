"""Remote start and stop of a real charging session, and the transaction reads."""

from __future__ import annotations

import pytest

from tests.api.conftest import envelope_of, eventually, ok
from tests.api.test_chargepoints import ISO_UTC


async def test_remote_start_watch_meter_values_remote_stop(api, chargers, cp_id):
    tag = f"T{cp_id[-6:]}"
    assert ok(await api.put(f"/api/v1/idtags/{tag}", json={"status": "Accepted"}), 201)
    cp = await chargers.connect(cp_id)

    body = {"clientId": cp_id, "connectorId": 1, "idTag": tag}
    assert ok(await api.post("/api/v1/transactions/remote-start", json=body)) == {"status": "Accepted"}

    async def active():
        return ok(await api.get(f"/api/v1/transactions?clientId={cp_id}&status=active"))["items"]

    [tx] = await eventually(active)
    assert tx["status"] == "active" and tx["idTag"] == tag and tx["connectorId"] == 1
    assert isinstance(tx["transactionId"], int) and tx["meterStart"] == 0
    assert ISO_UTC.match(tx["startTime"]) and tx.get("stopTime") is None
    tx_id = tx["transactionId"]
    assert ok(await api.get(f"/api/v1/transactions/{tx_id}")) == tx

    # A second start on the same connector: the charger refuses, and we say so.
    assert ok(await api.post("/api/v1/transactions/remote-start", json=body)) == {"status": "Rejected"}

    await cp.meter(1, 1000)
    await cp.meter(1, 2000)
    samples = ok(await api.get(f"/api/v1/transactions/{tx_id}/meter-values"))
    assert samples["total"] == 4
    energy = [s["value"] for s in samples["items"] if s["measurand"] == "Energy.Active.Import.Register"]
    assert energy == ["1000", "3000"]
    assert all(ISO_UTC.match(s["timestamp"]) for s in samples["items"])
    assert tx["energySoFarWh"] is None  # no reading yet when it started
    running = ok(await api.get(f"/api/v1/transactions/{tx_id}"))
    assert running["status"] == "active" and running["energySoFarWh"] == 3000  # latest register - meterStart
    page = ok(await api.get(f"/api/v1/transactions/{tx_id}/meter-values?limit=1&offset=2"))
    assert page == {"items": [samples["items"][2]], "total": 4}

    stop = {"clientId": cp_id, "transactionId": tx_id}
    assert ok(await api.post("/api/v1/transactions/remote-stop", json=stop)) == {"status": "Accepted"}

    async def completed():
        found = ok(await api.get(f"/api/v1/transactions/{tx_id}"))
        return found if found["status"] == "completed" else None

    done = await eventually(completed)
    assert (done["meterStop"], done["energyWh"], done["stopReason"]) == (3000, 3000, "Remote")
    assert done["energySoFarWh"] is None  # completed: energyWh is the exact figure
    assert ISO_UTC.match(done["stopTime"])
    assert ok(await api.get(f"/api/v1/transactions?clientId={cp_id}&status=active")) == {
        "items": [],
        "total": 0,
    }
    finished = ok(await api.get(f"/api/v1/transactions?clientId={cp_id}&status=completed"))
    assert finished == {"items": [done], "total": 1}
    assert ok(await api.post("/api/v1/transactions/remote-stop", json=stop)) == {"status": "Rejected"}


async def test_transaction_list_filters_and_paginates_newest_first(api, chargers, cp_id, store):
    from ocpp_worker.state import idtags

    idtags.put(store, "LIST-TAG", "Accepted")
    cp = await chargers.connect(cp_id)
    first = await cp.start_session(1, "LIST-TAG")
    await cp.stop_session(1)
    second = await cp.start_session(2, "LIST-TAG")

    mine = ok(await api.get(f"/api/v1/transactions?clientId={cp_id}"))
    assert [t["transactionId"] for t in mine["items"]] == [second, first]
    assert mine["total"] == 2
    active = ok(await api.get(f"/api/v1/transactions?clientId={cp_id}&status=active"))
    assert [t["transactionId"] for t in active["items"]] == [second]
    done = ok(await api.get(f"/api/v1/transactions?clientId={cp_id}&status=completed"))
    assert [t["transactionId"] for t in done["items"]] == [first]
    page = ok(await api.get(f"/api/v1/transactions?clientId={cp_id}&limit=1&offset=1"))
    assert page["total"] == 2 and [t["transactionId"] for t in page["items"]] == [first]

    everyone = ok(await api.get("/api/v1/transactions?status=active&limit=500"))
    assert second in [t["transactionId"] for t in everyone["items"]]
    assert first not in [t["transactionId"] for t in everyone["items"]]
    assert all(t["status"] == "active" for t in everyone["items"])
    finished = ok(await api.get("/api/v1/transactions?status=completed&limit=500"))
    assert first in [t["transactionId"] for t in finished["items"]]
    assert second not in [t["transactionId"] for t in finished["items"]]
    assert all(t["status"] == "completed" for t in finished["items"])
    assert ok(await api.get("/api/v1/transactions?clientId=nobody-at-all")) == {"items": [], "total": 0}
    envelope_of(await api.get("/api/v1/transactions?status=paused"), 400)


async def test_unknown_transaction_is_404(api, chargers, cp_id):
    envelope_of(await api.get("/api/v1/transactions/999999999"), 404)
    envelope_of(await api.get("/api/v1/transactions/999999999/meter-values"), 404)
    envelope_of(await api.get("/api/v1/transactions/abc"), 404)
    await chargers.connect(cp_id, connectors=0)
    stop = {"clientId": cp_id, "transactionId": 999999999}
    envelope_of(await api.post("/api/v1/transactions/remote-stop", json=stop), 404)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"clientId": "CP"},
        {"idTag": "T"},
        {"clientId": "CP", "idTag": "T", "connectorId": "one"},
        {"clientId": "CP", "idTag": "T", "connectorId": 0},
        {"clientId": "CP", "idTag": "X" * 21},
        {"clientId": 7, "idTag": "T"},
        {"clientId": "CP", "idTag": "T", "colour": "red"},
    ],
)
async def test_bad_remote_start_bodies_are_400(api, stack, body):
    data = envelope_of(await api.post("/api/v1/transactions/remote-start", json=body), 400)["data"]
    assert data


async def test_bad_remote_stop_and_charging_profile_are_400_and_not_sent(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=1)
    envelope_of(await api.post("/api/v1/transactions/remote-stop", json={"clientId": cp_id}), 400)
    body = {"clientId": cp_id, "transactionId": "12"}
    envelope_of(await api.post("/api/v1/transactions/remote-stop", json=body), 400)
    body = {"clientId": cp_id, "idTag": "T", "chargingProfile": {"stackLevel": "high"}}
    data = envelope_of(await api.post("/api/v1/transactions/remote-start", json=body), 400)["data"]
    assert data["errorCode"]
    assert not [r for r in cp.received if r[0] == "RemoteStartTransaction"]
