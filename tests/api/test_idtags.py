"""The idTag registry, as Authorize and StartTransaction see it."""

from __future__ import annotations

from ocpp.v16 import call

from tests.api.conftest import envelope_of, ok


async def test_idtag_lifecycle(api, stack, cp_id):
    tag = f"L{cp_id[-8:]}"
    url = f"/api/v1/idtags/{tag}"
    envelope_of(await api.get(url), 404)
    created = ok(await api.put(url, json={"status": "Accepted", "parentIdTag": "FLEET-1"}), 201)
    assert created == {
        "idTag": tag,
        "status": "Accepted",
        "parentIdTag": "FLEET-1",
        "effectiveStatus": "Accepted",
    }
    replaced = ok(await api.put(url, json={"status": "Blocked", "expiryDate": "2099-01-01T00:00:00+02:00"}))
    assert replaced == {
        "idTag": tag,
        "status": "Blocked",
        "expiryDate": "2098-12-31T22:00:00.000Z",
        "effectiveStatus": "Blocked",
    }
    assert ok(await api.get(url)) == replaced
    listed = ok(await api.get("/api/v1/idtags?limit=500"))
    assert replaced in listed["items"] and listed["total"] == len(listed["items"])
    assert envelope_of(await api.delete(url), 200)["data"] is None
    envelope_of(await api.get(url), 404)
    envelope_of(await api.delete(url), 404)


async def test_idtag_list_paginates_in_idtag_order(api, stack, cp_id):
    prefix = cp_id[-6:]
    for name in ("C", "A", "B"):
        ok(await api.put(f"/api/v1/idtags/{prefix}{name}", json={"status": "Accepted"}), 201)
    everything = [t["idTag"] for t in ok(await api.get("/api/v1/idtags?limit=500"))["items"]]
    assert everything == sorted(everything)
    mine = [t for t in everything if t.startswith(prefix)]
    assert mine == [f"{prefix}A", f"{prefix}B", f"{prefix}C"]
    start = everything.index(f"{prefix}B")
    page = ok(await api.get(f"/api/v1/idtags?limit=1&offset={start}"))
    assert [t["idTag"] for t in page["items"]] == [f"{prefix}B"]


async def test_expired_tag_is_expired_for_the_api_and_for_authorize(api, chargers, cp_id):
    tag = f"E{cp_id[-8:]}"
    body = {"status": "Accepted", "expiryDate": "2020-01-01T00:00:00Z"}
    assert ok(await api.put(f"/api/v1/idtags/{tag}", json=body), 201)["effectiveStatus"] == "Expired"
    cp = await chargers.connect(cp_id, connectors=0)
    answer = await cp.call(call.Authorize(id_tag=tag))
    assert answer.id_tag_info["status"] == "Expired"
    ok(await api.put(f"/api/v1/idtags/{tag}", json={"status": "Accepted"}))
    answer = await cp.call(call.Authorize(id_tag=tag))
    assert answer.id_tag_info["status"] == "Accepted"


async def test_bad_idtag_bodies_are_400(api, stack):
    for body in (
        {},
        {"status": "Fine"},
        {"status": "Accepted", "expiryDate": "next tuesday"},
        {"status": "Accepted", "parentIdTag": "P" * 21},
        {"status": "Accepted", "colour": "red"},
        "Accepted",
    ):
        assert envelope_of(await api.put("/api/v1/idtags/BAD-BODY", json=body), 400)["data"]
    envelope_of(await api.put("/api/v1/idtags/BAD-BODY", data="{not json"), 400)
    envelope_of(await api.put("/api/v1/idtags/" + "X" * 21, json={"status": "Accepted"}), 400)
    envelope_of(await api.get("/api/v1/idtags/BAD-BODY"), 404)
