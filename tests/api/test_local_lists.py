"""Local authorization lists through the API, against real chargers (SendLocalList,
GetLocalListVersion validated by the `ocpp` package against the 1.6 schemas)."""

from __future__ import annotations

from tests.api.conftest import envelope_of, eventually, ok

ACCEPTED = {"status": "Accepted"}


def url_of(cp_id: str) -> str:
    return f"/api/v1/chargepoints/{cp_id}/local-list"


async def test_full_then_differential_and_the_confirmed_version(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=0)
    url = url_of(cp_id)
    empty = ok(await api.get(url))
    assert (empty["wantedVersion"], empty["confirmedVersion"], empty["entries"]) == (0, None, [])
    assert empty["nextUpdateType"] == "Full"

    first = ok(
        await api.put(
            url,
            json={
                "entries": [
                    {"idTag": "TAG-A"},
                    {
                        "idTag": "TAG-B",
                        "idTagInfo": {"status": "Blocked", "expiryDate": "2030-01-01T00:00:00"},
                    },
                ]
            },
        )
    )
    assert first["sent"] == {"updateType": "Full", "listVersion": 1, "entries": 2, "status": "Accepted"}
    assert (first["wantedVersion"], first["confirmedVersion"], first["inSync"]) == (1, 1, True)
    assert first["entries"] == [
        {"idTag": "TAG-A", "idTagInfo": ACCEPTED},
        {"idTag": "TAG-B", "idTagInfo": {"status": "Blocked", "expiryDate": "2030-01-01T00:00:00.000Z"}},
    ]
    assert cp.local_list_version == 1
    assert cp.local_list == {
        "TAG-A": {"status": "Accepted"},
        "TAG-B": {"status": "Blocked", "expiry_date": "2030-01-01T00:00:00.000Z"},
    }
    assert first["nextUpdateType"] == "Differential"

    # TAG-A changes, TAG-B goes, TAG-C comes: three entries, one without idTagInfo
    second = ok(
        await api.put(
            url,
            json={"entries": [{"idTag": "TAG-A", "idTagInfo": {"status": "Expired"}}, {"idTag": "TAG-C"}]},
        )
    )
    assert second["sent"] == {
        "updateType": "Differential",
        "listVersion": 2,
        "entries": 3,
        "status": "Accepted",
    }
    assert cp.local_list == {"TAG-A": {"status": "Expired"}, "TAG-C": {"status": "Accepted"}}
    assert cp.local_list_version == 2
    shown = ok(await api.get(url))
    assert (shown["confirmedVersion"], shown["confirmedEntries"], shown["inSync"]) == (2, 2, True)
    assert shown["lastAnswer"]["status"] == "Accepted"
    assert shown["lastAnswer"]["updateType"] == "Differential"

    # nothing changed: a Differential with no entries still moves the version
    third = ok(await api.put(url, json={"entries": shown["entries"]}))
    assert third["sent"] == {
        "updateType": "Differential",
        "listVersion": 3,
        "entries": 0,
        "status": "Accepted",
    }
    assert [r[1]["update_type"] for r in cp.received if r[0] == "SendLocalList"] == [
        "Full",
        "Differential",
        "Differential",
    ]


async def test_refusals_are_recorded_and_version_mismatch_forces_full(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=0)
    url = url_of(cp_id)
    ok(await api.put(url, json={"entries": [{"idTag": "TAG-A"}]}))

    cp.answers["SendLocalList"] = "VersionMismatch"
    refused = ok(await api.put(url, json={"entries": [{"idTag": "TAG-B"}]}))
    assert refused["sent"]["updateType"] == "Differential"
    assert refused["sent"]["status"] == "VersionMismatch"
    assert (refused["wantedVersion"], refused["confirmedVersion"], refused["inSync"]) == (2, 1, False)
    assert refused["lastAnswer"]["status"] == "VersionMismatch"
    assert refused["nextUpdateType"] == "Full"
    assert cp.local_list == {"TAG-A": {"status": "Accepted"}}

    for status in ("Failed", "NotSupported"):
        cp.answers["SendLocalList"] = status
        refused = ok(await api.put(url, json={"entries": [{"idTag": "TAG-B"}]}))
        assert refused["sent"] == {
            "updateType": "Full",
            "listVersion": refused["wantedVersion"],
            "entries": 1,
            "status": status,
        }
        assert refused["confirmedVersion"] == 1
        assert refused["lastAnswer"]["status"] == status

    del cp.answers["SendLocalList"]
    accepted = ok(await api.put(url, json={"entries": [{"idTag": "TAG-B"}]}))
    assert accepted["sent"]["updateType"] == "Full"
    assert accepted["confirmedVersion"] == accepted["wantedVersion"] == cp.local_list_version
    assert cp.local_list == {"TAG-B": {"status": "Accepted"}}


async def test_callerror_is_502_and_offline_is_503_with_the_confirmed_state_unchanged(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=0)
    url = url_of(cp_id)
    before = ok(await api.put(url, json={"entries": [{"idTag": "TAG-A"}]}))

    cp.answers["SendLocalList"] = "CALLERROR"
    data = envelope_of(await api.put(url, json={"entries": [{"idTag": "TAG-B"}]}), 502)["data"]
    assert data["errorCode"] == "InternalError"
    after = ok(await api.get(url))
    assert after["confirmedVersion"] == before["confirmedVersion"] == 1
    assert after["lastAnswer"] == before["lastAnswer"]
    assert after["nextUpdateType"] == "Full"  # the charger may or may not hold version 2

    cp.answers["GetLocalListVersion"] = "CALLERROR"
    envelope_of(await api.post(f"{url}/sync"), 502)

    await cp._connection.close()

    async def offline():
        return not ok(await api.get(f"/api/v1/chargepoints/{cp_id}"))["connected"]

    assert await eventually(offline)
    envelope_of(await api.put(url, json={"entries": [{"idTag": "TAG-C"}]}), 503)
    envelope_of(await api.post(f"{url}/sync"), 503)
    final = ok(await api.get(url))
    assert (final["confirmedVersion"], final["confirmedEntries"]) == (1, 1)
    assert cp.local_list == {"TAG-A": {"status": "Accepted"}}


async def test_sync_resends_in_full_only_when_the_versions_differ(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=0)
    url = url_of(cp_id)
    ok(await api.put(url, json={"entries": [{"idTag": "TAG-A"}, {"idTag": "TAG-B"}]}))
    sends = len([r for r in cp.received if r[0] == "SendLocalList"])

    same = ok(await api.post(f"{url}/sync"))
    assert "sent" not in same
    assert (same["reportedVersion"], same["inSync"]) == (1, True)
    assert same["lastAnswer"]["status"] == "InSync"

    cp.local_list, cp.local_list_version = {}, 7  # the charger lost its list, say
    resent = ok(await api.post(f"{url}/sync"))
    assert resent["sent"] == {"updateType": "Full", "listVersion": 8, "entries": 2, "status": "Accepted"}
    assert resent["confirmedVersion"] == resent["wantedVersion"] == cp.local_list_version == 8
    assert set(cp.local_list) == {"TAG-A", "TAG-B"}
    assert len([r for r in cp.received if r[0] == "SendLocalList"]) == sends + 1

    cp.answers["GetLocalListVersion"] = "NotSupported"
    unsupported = ok(await api.post(f"{url}/sync"))
    assert "sent" not in unsupported
    assert unsupported["reportedVersion"] == -1
    assert unsupported["lastAnswer"]["status"] == "NotSupported"


async def test_bounds_and_bad_bodies_change_nothing(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=0)
    url = url_of(cp_id)
    # more than the charger's SendLocalListMaxLength (100 by default) in one call
    too_many = {"entries": [{"idTag": f"TAG-{n}"} for n in range(101)]}
    body = envelope_of(await api.put(url, json=too_many), 400)
    assert "SendLocalListMaxLength" in body["message"]
    envelope_of(await api.put(url, json={"entries": [{"idTag": "T"}] * 10_001}), 400)
    envelope_of(await api.put(url, json={"entries": [{"idTag": "T"}, {"idTag": "T"}]}), 400)
    envelope_of(await api.put(url, json={"entries": [{"idTag": "T" * 21}]}), 400)
    envelope_of(await api.put(url, json={"entries": [{"idTag": "T", "idTagInfo": {"status": "Fine"}}]}), 400)
    assert ok(await api.get(url))["wantedVersion"] == 0
    assert not [r for r in cp.received if r[0] == "SendLocalList"]
    envelope_of(await api.get(url_of(cp_id + "-unknown")), 404)
