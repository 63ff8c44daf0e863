"""Charger-initiated messages end to end: real charger → gateway → bridge → Celery
worker → Redis state → reply, checked by the `ocpp` client against the 1.6 schemas."""

from __future__ import annotations

import asyncio

from ocpp.v16 import call

from ocpp_worker.state import chargepoints, idtags, registrations, transactions


async def test_cold_boot_with_two_connectors(chargers, store, cp_id):
    cp = await chargers.connect(cp_id, connectors=2, boot=False)
    reply = await cp.boot()
    assert reply.status == "Accepted"
    assert reply.interval == 300
    assert reply.current_time.endswith("Z")

    info = chargepoints.get(store, cp_id)
    assert info["chargePointVendor"] == "OpenCSMS"
    assert info["chargePointModel"] == "Simulator"
    assert info["firmwareVersion"] == "1.0.0"
    assert info["registrationStatus"] == "Accepted"
    assert info["lastSeen"].endswith("Z")
    connectors = chargepoints.connectors(store, cp_id)
    assert [c["connectorId"] for c in connectors] == [0, 1, 2]
    assert all(c["status"] == "Available" and c["errorCode"] == "NoError" for c in connectors)

    heartbeat = await cp.call(call.Heartbeat())
    assert heartbeat.current_time.endswith("Z")
    assert chargepoints.get(store, cp_id)["lastHeartbeat"].endswith("Z")


async def test_boot_interval_follows_stored_heartbeat_interval(chargers, store, cp_id):
    store.redis.hset(store.keys.config(cp_id), "HeartbeatInterval", "42")
    cp = await chargers.connect(cp_id, boot=False)
    assert (await cp.boot()).interval == 42


async def test_full_charging_session_state(chargers, store, cp_id):
    idtags.put(store, "SESSION-TAG", "Accepted")
    cp = await chargers.connect(cp_id)
    authorized = await cp.call(call.Authorize(id_tag="SESSION-TAG"))
    assert authorized.id_tag_info["status"] == "Accepted"

    tx_id = await cp.start_session(1, "SESSION-TAG")
    tx = transactions.get(store, tx_id)
    assert tx["status"] == "active" and tx["clientId"] == cp_id and tx["connectorId"] == "1"
    assert store.redis.hget(store.keys.connector(cp_id, 1), "transactionId") == str(tx_id)

    for _ in range(3):
        await cp.meter(1, wh=1000)
    await cp.stop_session(1)

    tx = transactions.get(store, tx_id)
    assert tx["status"] == "completed"
    assert int(tx["meterStop"]) - int(tx["meterStart"]) == 3000 == int(tx["energyWh"])
    assert tx["stopReason"] == "Local"
    assert tx["startTime"].endswith("Z") and tx["stopTime"].endswith("Z")
    samples = transactions.samples_of(store, tx_id)
    assert [s["measurand"] for s in samples] == ["Energy.Active.Import.Register", "Power.Active.Import"] * 3
    assert [s["value"] for s in samples[::2]] == ["1000", "2000", "3000"]
    assert all(s["timestamp"].endswith("Z") and s["context"] == "Sample.Periodic" for s in samples)
    assert not store.redis.hexists(store.keys.connector(cp_id, 1), "transactionId")
    latest = {m["measurand"]: m["value"] for m in chargepoints.connectors(store, cp_id)[1]["meterValues"]}
    assert latest == {"Energy.Active.Import.Register": "3000", "Power.Active.Import": "11000"}
    assert store.redis.zscore(store.keys.transactions_active, str(tx_id)) is None


async def test_id_tag_statuses(chargers, store, cp_id):
    idtags.put(store, "BLOCKED-1", "Blocked")
    idtags.put(store, "OLD-1", "Accepted", expiry_date="2020-01-01T00:00:00Z")
    idtags.put(store, "CHILD-1", "Accepted", expiry_date="2099-01-01T00:00:00Z", parent_id_tag="PARENT")
    cp = await chargers.connect(cp_id)

    async def status(tag: str) -> dict:
        return (await cp.call(call.Authorize(id_tag=tag))).id_tag_info

    assert (await status("NEVER-SEEN"))["status"] == "Invalid"
    assert (await status("BLOCKED-1"))["status"] == "Blocked"
    assert (await status("OLD-1"))["status"] == "Expired"
    child = await status("CHILD-1")
    assert child == {"status": "Accepted", "expiry_date": "2099-01-01T00:00:00Z", "parent_id_tag": "PARENT"}

    started = await cp.call(
        call.StartTransaction(
            connector_id=1, id_tag="BLOCKED-1", meter_start=0, timestamp="2026-01-01T00:00:00Z"
        )
    )
    assert started.id_tag_info["status"] == "Blocked"
    assert started.transaction_id >= 1000


async def test_transaction_ids_unique_and_increasing_across_50_chargers(chargers, store, cp_id):
    idtags.put(store, "FLEET", "Accepted")
    fleet = await asyncio.gather(*(chargers.connect(f"{cp_id}-{i}", connectors=1) for i in range(50)))

    async def two_sessions(cp) -> list[int]:
        return [await cp.session(1, "FLEET", samples=1) for _ in range(2)]

    ids_per_charger = await asyncio.gather(*(two_sessions(cp) for cp in fleet))
    all_ids = [tx for ids in ids_per_charger for tx in ids]
    assert len(set(all_ids)) == 100
    assert min(all_ids) >= 1000
    assert all(first < second for first, second in ids_per_charger)
    for cp, ids in zip(fleet, ids_per_charger, strict=True):
        assert all(transactions.get(store, tx)["clientId"] == cp.id for tx in ids)


async def test_stop_for_unknown_transaction_is_answered_and_recorded(chargers, store, cp_id):
    cp = await chargers.connect(cp_id)
    reply = await cp.call(
        call.StopTransaction(meter_stop=10, timestamp="2026-01-01T00:00:00+02:00", transaction_id=987654321)
    )
    assert reply.id_tag_info is None
    orphans = [o for o in store.redis.lrange(store.keys.orphan_stops, 0, -1) if cp_id in o]
    assert len(orphans) == 1 and '"2025-12-31T22:00:00.000Z"' in orphans[0]


async def test_offline_timestamps_are_the_chargers_own(chargers, store, cp_id):
    cp = await chargers.connect(cp_id)
    started = await cp.call(
        call.StartTransaction(
            connector_id=1, id_tag="X", meter_start=5, timestamp="2025-03-01T10:00:00+01:00"
        )
    )
    tx = transactions.get(store, started.transaction_id)
    assert tx["startTime"] == "2025-03-01T09:00:00.000Z"


async def test_data_transfer_unknown_vendor(chargers, cp_id):
    cp = await chargers.connect(cp_id)
    reply = await cp.call(call.DataTransfer(vendor_id="com.nobody", message_id="x", data="y"))
    assert reply.status == "UnknownVendorId"


async def test_firmware_diagnostics_and_security_messages_are_recorded(chargers, store, cp_id):
    cp = await chargers.connect(cp_id)
    await cp.call(call.DiagnosticsStatusNotification(status="Uploaded"))
    await cp.call(call.FirmwareStatusNotification(status="Installed"))
    await cp.call(call.LogStatusNotification(status="Uploaded", request_id=7))
    await cp.call(
        call.SecurityEventNotification(
            type="FirmwareUpdated", timestamp="2026-01-01T00:00:00Z", tech_info="v2"
        )
    )
    signed = await cp.call(call.SignCertificate(csr="-----BEGIN CERTIFICATE REQUEST-----"))
    assert signed.status == "Accepted"
    info = chargepoints.get(store, cp_id)
    assert info["diagnosticsStatus"] == "Uploaded"
    assert info["firmwareStatus"] == "Installed"
    assert info["logStatus"] == "Uploaded" and info["logRequestId"] == "7"
    (event,) = registrations.events_page(store, store.keys, cp_id, 10)
    assert (event.kind, event.detail, event.source) == ("FirmwareUpdated", "v2", "charger")
    assert "BEGIN CERTIFICATE REQUEST" in store.redis.lindex(store.keys.csrs(cp_id), -1)
    await cp.call(call.SignedFirmwareStatusNotification(status="SignatureVerified", request_id=3))
    assert chargepoints.get(store, cp_id)["firmwareStatus"] == "SignatureVerified"
