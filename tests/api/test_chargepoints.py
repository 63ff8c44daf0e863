"""Reads: /health, /clients, chargepoints and connectors, from what real chargers sent."""

from __future__ import annotations

import asyncio
import re
import time

from tests.api.conftest import envelope_of, eventually, ok

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


async def test_health_reports_redis_workers_and_gateways(api, stack):
    data = ok(await api.get("/health"))
    assert data["status"] == "ok"
    assert ISO_UTC.match(data["timestamp"])
    assert data["redis"] == {"ok": True}
    assert data["workers"]["ok"] and data["workers"]["count"] >= 1
    assert data["gateways"]["ok"] and data["gateways"]["count"] >= 1  # other tests may add gateways


async def test_clients_lists_connected_chargers_and_drops_closed_ones(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    clients = ok(await api.get("/clients?limit=500"))
    [mine] = [c for c in clients["items"] if c["id"] == cp_id]
    assert mine["remote"] == "127.0.0.1"
    assert mine["gateway"]
    assert ISO_UTC.match(mine["connectedAt"])
    assert clients["total"] >= 1

    await cp._connection.close()
    started = time.monotonic()

    async def gone():
        items = ok(await api.get("/clients?limit=500"))["items"]
        return all(c["id"] != cp_id for c in items)

    assert await eventually(gone, timeout=5)
    assert time.monotonic() - started < 5
    assert ok(await api.get(f"/api/v1/chargepoints/{cp_id}"))["connected"] is False


async def test_chargepoint_detail_shows_boot_status_and_connectors(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=2)
    await cp.meter(1, 2500)
    from ocpp.v16 import call

    await cp.call(call.Heartbeat())
    data = ok(await api.get(f"/api/v1/chargepoints/{cp_id}"))
    assert data["id"] == cp_id
    assert data["connected"] is True
    assert (data["vendor"], data["model"], data["firmwareVersion"]) == ("OpenCSMS", "Simulator", "1.0.0")
    assert data["serialNumber"] == f"SIM-{cp_id}"[:25]
    assert data["status"] == "Available"
    assert ISO_UTC.match(data["lastHeartbeat"])
    assert [c["connectorId"] for c in data["connectors"]] == [0, 1, 2]
    one = data["connectors"][1]
    assert (one["status"], one["errorCode"]) == ("Available", "NoError")
    assert ISO_UTC.match(one["timestamp"])
    energy = [m for m in one["meterValues"] if m["measurand"] == "Energy.Active.Import.Register"]
    assert energy[0]["value"] == "2500" and energy[0]["unit"] == "Wh"

    connectors = ok(await api.get(f"/api/v1/chargepoints/{cp_id}/connectors"))
    assert connectors["total"] == 3
    assert connectors["items"] == data["connectors"]
    assert ok(await api.get(f"/api/v1/chargepoints/{cp_id}/connectors/1")) == one


async def test_connector_shows_transaction_id_as_integer(api, chargers, cp_id, store):
    from ocpp_worker.state import idtags

    idtags.put(store, "TX-INT", "Accepted")
    cp = await chargers.connect(cp_id)
    tx_id = await cp.start_session(2, "TX-INT")
    connector = ok(await api.get(f"/api/v1/chargepoints/{cp_id}/connectors/2"))
    assert connector["transactionId"] == tx_id
    assert connector["status"] == "Charging"


async def test_unknown_chargepoint_and_connector_are_404(api, chargers, cp_id):
    for url in (
        f"/api/v1/chargepoints/{cp_id}",
        f"/api/v1/chargepoints/{cp_id}/connectors",
        f"/api/v1/chargepoints/{cp_id}/connectors/1",
    ):
        envelope_of(await api.get(url), 404)
    await chargers.connect(cp_id, connectors=1)
    envelope_of(await api.get(f"/api/v1/chargepoints/{cp_id}/connectors/7"), 404)
    envelope_of(await api.get(f"/api/v1/chargepoints/{cp_id}/connectors/x"), 404)


async def test_chargepoint_list_paginates_and_filters_by_connected(api, chargers, cp_id):
    ids = [f"{cp_id}-{i}" for i in range(3)]
    cps = await asyncio.gather(*(chargers.connect(i, connectors=0) for i in ids))
    await cps[0]._connection.close()

    async def offline():
        return not ok(await api.get(f"/api/v1/chargepoints/{ids[0]}"))["connected"]

    assert await eventually(offline)

    everything = ok(await api.get("/api/v1/chargepoints?limit=500"))
    listed = {c["id"]: c for c in everything["items"]}
    assert set(ids) <= set(listed)
    assert everything["total"] == len(everything["items"])
    assert [listed[i]["connected"] for i in ids] == [False, True, True]
    assert listed[ids[1]]["status"] == "Available" and listed[ids[1]]["vendor"] == "OpenCSMS"

    online = {c["id"] for c in ok(await api.get("/api/v1/chargepoints?connected=true&limit=500"))["items"]}
    offline_ids = {
        c["id"] for c in ok(await api.get("/api/v1/chargepoints?connected=false&limit=500"))["items"]
    }
    assert {ids[1], ids[2]} <= online and ids[0] not in online
    assert ids[0] in offline_ids and not (offline_ids & online)

    total = everything["total"]
    first = ok(await api.get("/api/v1/chargepoints?limit=1&offset=0"))
    second = ok(await api.get("/api/v1/chargepoints?limit=1&offset=1"))
    assert first["total"] == second["total"] == total
    assert len(first["items"]) == len(second["items"]) == 1
    assert first["items"][0]["id"] != second["items"][0]["id"]
    assert [c["id"] for c in everything["items"][:2]] == [first["items"][0]["id"], second["items"][0]["id"]]


async def test_list_parameters_are_validated(api, stack):
    for url in (
        "/api/v1/chargepoints?limit=0",
        "/api/v1/chargepoints?limit=501",
        "/api/v1/chargepoints?offset=-1",
        "/api/v1/chargepoints?limit=ten",
        "/api/v1/chargepoints?connected=maybe",
        "/clients?limit=9999",
    ):
        body = envelope_of(await api.get(url), 400)
        assert body["data"], url
    assert len(ok(await api.get("/api/v1/chargepoints?limit=500"))["items"]) <= 500
