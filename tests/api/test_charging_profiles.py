"""Smart charging through the API, against real chargers (the `ocpp` package checks
SetChargingProfile, ClearChargingProfile and GetCompositeSchedule against 1.6)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import envelope_of, eventually, ok


def profile(
    profile_id: int, stack: int, purpose: str = "TxDefaultProfile", limit: float = 16.5
) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": "2026-01-01T00:00:00Z",
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": limit},
                {"startPeriod": 7200, "limit": 6.0},
            ],
        },
    }


def url_of(cp_id: str) -> str:
    return f"/api/v1/chargepoints/{cp_id}/charging-profiles"


async def stored(api, cp_id: str) -> dict[int, tuple[int, int]]:
    """chargingProfileId -> (connectorId, stackLevel) of the stored profiles."""
    data = ok(await api.get(url_of(cp_id)))
    assert data["total"] == len(data["items"])
    return {
        e["csChargingProfiles"]["chargingProfileId"]: (
            e["connectorId"],
            e["csChargingProfiles"]["stackLevel"],
        )
        for e in data["items"]
    }


async def put(api, cp_id: str, connector: int, body: dict[str, Any]) -> Any:
    return await api.put(url_of(cp_id), json={"connectorId": connector, "csChargingProfiles": body})


async def test_accepted_profiles_are_stored_with_the_replacement_rules(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    assert ok(await put(api, cp_id, 1, profile(1, 0))) == {"status": "Accepted"}
    [entry] = ok(await api.get(url_of(cp_id)))["items"]
    assert entry["connectorId"] == 1
    assert entry["csChargingProfiles"] == profile(1, 0)  # 16.5 and 6.0 survive as sent
    assert entry["setAt"].endswith("Z")
    assert cp.charging_profiles[1][1]["charging_schedule"]["charging_schedule_period"][0]["limit"] == 16.5

    ok(await put(api, cp_id, 1, profile(2, 1)))
    assert await stored(api, cp_id) == {1: (1, 0), 2: (1, 1)}
    # same stackLevel and purpose on the same connector: replaces profile 1
    ok(await put(api, cp_id, 1, profile(3, 0)))
    assert await stored(api, cp_id) == {2: (1, 1), 3: (1, 0)}
    # same chargingProfileId: replaces profile 2, wherever it was
    ok(await put(api, cp_id, 2, profile(2, 5)))
    assert await stored(api, cp_id) == {2: (2, 5), 3: (1, 0)}
    # same stackLevel and purpose on another connector, or another purpose: no replacement
    ok(await put(api, cp_id, 2, profile(4, 0)))
    ok(await put(api, cp_id, 0, profile(5, 0, "ChargePointMaxProfile", 32.0)))
    assert await stored(api, cp_id) == {2: (2, 5), 3: (1, 0), 4: (2, 0), 5: (0, 0)}

    items = ok(await api.get(url_of(cp_id)))["items"]
    assert [e["connectorId"] for e in items] == [0, 1, 2, 2]  # by connector, purpose, stack level


async def test_clear_removes_what_the_charger_cleared(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    for profile_id, connector, stack, purpose in [
        (1, 1, 0, "TxDefaultProfile"),
        (2, 1, 1, "TxDefaultProfile"),
        (3, 2, 0, "TxDefaultProfile"),
        (4, 0, 0, "ChargePointMaxProfile"),
    ]:
        ok(await put(api, cp_id, connector, profile(profile_id, stack, purpose)))

    assert ok(await api.delete(f"{url_of(cp_id)}?id=3")) == {"status": "Accepted", "removed": [3]}
    assert set(await stored(api, cp_id)) == {1, 2, 4}
    assert set(cp.charging_profiles) == {1, 2, 4}

    cleared = ok(
        await api.delete(
            f"{url_of(cp_id)}?connectorId=1&chargingProfilePurpose=TxDefaultProfile&stackLevel=1"
        )
    )
    assert cleared == {"status": "Accepted", "removed": [2]}
    assert set(await stored(api, cp_id)) == {1, 4}

    # the charger had nothing to clear: Unknown, the store is unchanged
    assert ok(await api.delete(f"{url_of(cp_id)}?id=99")) == {"status": "Unknown", "removed": []}
    assert set(await stored(api, cp_id)) == {1, 4}

    cleared = ok(await api.delete(url_of(cp_id)))  # no criteria: every profile
    assert cleared["status"] == "Accepted"
    assert sorted(cleared["removed"]) == [1, 4]
    assert await stored(api, cp_id) == {}
    assert cp.charging_profiles == {}


async def test_composite_schedule_is_the_chargers_answer(api, chargers, cp_id):
    await chargers.connect(cp_id)
    url = f"/api/v1/chargepoints/{cp_id}/composite-schedule"
    assert ok(await api.get(f"{url}?connectorId=1&duration=3600")) == {"status": "Rejected"}
    ok(await put(api, cp_id, 1, profile(1, 0)))
    answer = ok(await api.get(f"{url}?connectorId=1&duration=3600&chargingRateUnit=A"))
    assert answer["status"] == "Accepted"
    assert answer["connectorId"] == 1
    assert answer["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 16.5}]
    envelope_of(await api.get(f"{url}?connectorId=1"), 400)
    envelope_of(await api.get(f"{url}?connectorId=1&duration=60&chargingRateUnit=kW"), 400)


async def test_refusals_callerrors_and_offline_leave_the_store_unchanged(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    ok(await put(api, cp_id, 1, profile(1, 0)))
    before = ok(await api.get(url_of(cp_id)))

    for status in ("Rejected", "NotSupported"):
        cp.answers["SetChargingProfile"] = status
        assert ok(await put(api, cp_id, 1, profile(1, 0, limit=8.0))) == {"status": status}
        assert ok(await put(api, cp_id, 1, profile(2, 1))) == {"status": status}
    cp.answers["SetChargingProfile"] = "CALLERROR"
    assert envelope_of(await put(api, cp_id, 1, profile(2, 1)), 502)["data"]["errorCode"] == "InternalError"
    cp.answers["ClearChargingProfile"] = "CALLERROR"
    envelope_of(await api.delete(f"{url_of(cp_id)}?id=1"), 502)
    cp.answers["GetCompositeSchedule"] = "CALLERROR"
    envelope_of(
        await api.get(f"/api/v1/chargepoints/{cp_id}/composite-schedule?connectorId=1&duration=60"), 502
    )
    assert ok(await api.get(url_of(cp_id))) == before

    await cp._connection.close()

    async def offline():
        return not ok(await api.get(f"/api/v1/chargepoints/{cp_id}"))["connected"]

    assert await eventually(offline)
    envelope_of(await put(api, cp_id, 1, profile(2, 1)), 503)
    envelope_of(await api.delete(f"{url_of(cp_id)}?id=1"), 503)
    envelope_of(
        await api.get(f"/api/v1/chargepoints/{cp_id}/composite-schedule?connectorId=1&duration=60"), 503
    )
    assert ok(await api.get(url_of(cp_id))) == before


async def test_bad_profiles_are_400_and_never_sent(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    envelope_of(await put(api, cp_id, 1, profile(1, 0, limit=16.55)), 400)  # multipleOf 0.1
    envelope_of(await put(api, cp_id, 1, {**profile(1, 0), "chargingProfileKind": "Weekly"}), 400)
    envelope_of(
        await api.put(url_of(cp_id), json={"connectorId": "1", "csChargingProfiles": profile(1, 0)}), 400
    )
    envelope_of(await api.put(url_of(cp_id), json={"connectorId": 1}), 400)
    envelope_of(await api.delete(f"{url_of(cp_id)}?chargingProfilePurpose=Cheap"), 400)
    assert not [r for r in cp.received if r[0] == "SetChargingProfile"]
    assert await stored(api, cp_id) == {}
    envelope_of(await api.get(url_of(cp_id + "-unknown")), 404)


async def test_a_remote_starts_tx_profile_follows_its_transaction(api, chargers, cp_id):
    tag = f"TX{cp_id[-6:]}"
    ok(await api.put(f"/api/v1/idtags/{tag}", json={"status": "Accepted"}), 201)
    await chargers.connect(cp_id)
    tx_profile = profile(77, 0, purpose="TxProfile", limit=10.5)
    tx_profile["chargingProfileKind"] = "Relative"
    del tx_profile["chargingSchedule"]["startSchedule"]
    body = {"clientId": cp_id, "connectorId": 1, "idTag": tag, "chargingProfile": tx_profile}
    assert ok(await api.post("/api/v1/transactions/remote-start", json=body)) == {"status": "Accepted"}

    async def linked() -> Any:
        [entry] = ok(await api.get(url_of(cp_id)))["items"]
        return entry if entry.get("transactionId") else None

    entry = await eventually(linked)
    [tx] = ok(await api.get(f"/api/v1/transactions?clientId={cp_id}&status=active"))["items"]
    assert entry["transactionId"] == tx["transactionId"] and entry["remoteStart"] == tag
    assert entry["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 10.5

    stop = {"clientId": cp_id, "transactionId": tx["transactionId"]}
    assert ok(await api.post("/api/v1/transactions/remote-stop", json=stop)) == {"status": "Accepted"}

    async def dropped() -> bool:
        return ok(await api.get(url_of(cp_id)))["items"] == []  # the charger discards it with its transaction

    assert await eventually(dropped)
