"""GET /api/v1/events: paging by cursor, filters, hostile cursors, over real chargers."""

from __future__ import annotations

from ocpp.v16 import call

from ocpp_worker.state import events
from tests.api.conftest import envelope_of, eventually, ok

URL = "/api/v1/events"


async def test_catch_up_by_cursor_with_filters(api, chargers, cp_id, store):
    start = events.last_id(store)
    cp = await chargers.connect(cp_id)  # connects, boots, reports connectors 0-2 Available
    await cp.call(
        call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
    )  # a repeat
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))

    async def mine() -> list[dict]:
        found = ok(await api.get(f"{URL}?after={start}&chargerId={cp_id}&limit=500"))["items"]
        return found if len(found) >= 6 else []

    found = await eventually(mine)
    assert [(e["type"], e["data"].get("connectorId"), e["data"].get("status")) for e in found] == [
        ("chargepoint.connected", None, None),
        ("chargepoint.booted", None, None),
        ("connector.status_changed", 0, "Available"),
        ("connector.status_changed", 1, "Available"),
        ("connector.status_changed", 2, "Available"),
        ("connector.status_changed", 1, "Preparing"),
    ]
    # page through the same events two at a time: each page starts after the last cursor
    cursor, paged = start, []
    for _ in range(10):
        page = ok(await api.get(f"{URL}?after={cursor}&chargerId={cp_id}&limit=2"))
        if not page["items"]:
            assert page["next"] == cursor
            break
        assert len(page["items"]) <= 2
        paged += page["items"]
        cursor = page["next"]
    assert paged == found
    statuses = ok(await api.get(f"{URL}?after={start}&chargerId={cp_id}&type=connector.status_changed"))
    assert [e["data"]["status"] for e in statuses["items"]] == ["Available"] * 3 + ["Preparing"]


async def test_bad_arguments_are_400(api):
    for query in (
        "after=abc",
        "after=1-2-3",
        "after=18446744073709551616-0",
        "type=transaction.nope",
        "limit=0",
        "limit=501",
        "chargerId=",
        "chargerId=" + "x" * 257,
    ):
        envelope_of(await api.get(f"{URL}?{query}"), 400)
    last = f"{2**64 - 1}-{2**64 - 1}"
    assert ok(await api.get(f"{URL}?after={last}")) == {"items": [], "next": last}
    assert ok(await api.get(f"{URL}?after=0-0&limit=1"))["next"] != ""


async def test_a_closed_connection_is_a_disconnected_event(api, chargers, cp_id, store):
    start = events.last_id(store)
    await chargers.connect(cp_id, boot=False)
    await chargers.close_all()

    async def disconnected() -> list[dict]:
        page = ok(await api.get(f"{URL}?after={start}&chargerId={cp_id}"))["items"]
        return page if page and page[-1]["type"] == "chargepoint.disconnected" else []

    found = await eventually(disconnected)
    assert [e["type"] for e in found] == ["chargepoint.connected", "chargepoint.disconnected"]
    assert found[0]["data"] == {"remoteAddress": "127.0.0.1"}
    assert found[1]["data"]["closeCode"] == 1000
