"""A charger's message log and records through the API, after real frames through the
stack: /messages, /firmware, /diagnostics, /log-upload, /data-transfers, /csrs."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.api.conftest import data_of_400, ok
from tests.support.chargers import raw_socket, recv_json

BOOT = {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.2.3"}


def url(cp_id: str, tail: str) -> str:
    return f"/api/v1/chargepoints/{cp_id}/{tail}"


async def exchange(ws: Any, frames: list[list[Any]]) -> None:
    """Send each CALL and wait for its answer (CALLRESULT expected)."""
    for frame in frames:
        await ws.send(json.dumps(frame))
        answer = await recv_json(ws)
        assert answer[:2] == [3, frame[1]], answer


async def logged(api: Any, cp_id: str, n: int) -> dict[str, Any]:
    """The first page of a charger's messages once it holds `n` of them (the gateway
    writes the log a little after it handles the frames)."""
    deadline = time.monotonic() + 10
    while True:
        data = ok(await api.get(url(cp_id, f"messages?limit={n}")))
        if len(data["items"]) >= n or time.monotonic() > deadline:
            return data
        await asyncio.sleep(0.05)


async def test_messages_newest_first_by_cursor_and_action(api, stack, cp_id):
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await exchange(
            ws,
            [
                [2, "b1", "BootNotification", BOOT],
                [2, "h1", "Heartbeat", {}],
                [2, "h2", "Heartbeat", {}],
                [2, "d1", "DataTransfer", {"vendorId": "com.example", "data": "x" * 9000}],
            ],
        )
    first = await logged(api, cp_id, 8)
    assert first["total"] == 8
    items = first["items"]
    assert [(m["direction"], m["messageType"], m["messageId"], m["action"]) for m in items] == [
        ("out", "CALLRESULT", "d1", "DataTransfer"),
        ("in", "CALL", "d1", "DataTransfer"),
        ("out", "CALLRESULT", "h2", "Heartbeat"),
        ("in", "CALL", "h2", "Heartbeat"),
        ("out", "CALLRESULT", "h1", "Heartbeat"),
        ("in", "CALL", "h1", "Heartbeat"),
        ("out", "CALLRESULT", "b1", "BootNotification"),
        ("in", "CALL", "b1", "BootNotification"),
    ]
    big = items[1]
    assert big["truncated"] and big["size"] > 9000 and len(big["frame"]) == 8192
    assert json.loads(items[-1]["frame"]) == [2, "b1", "BootNotification", BOOT]
    assert all(m["at"].endswith("Z") for m in items)

    page1 = ok(await api.get(url(cp_id, "messages?limit=3")))
    assert [m["messageId"] for m in page1["items"]] == ["d1", "d1", "h2"]
    page2 = ok(await api.get(url(cp_id, f"messages?limit=3&before={page1['next']}")))
    assert [m["id"] for m in page2["items"]] == [m["id"] for m in items[3:6]]

    beats = ok(await api.get(url(cp_id, "messages?action=Heartbeat")))
    assert [(m["direction"], m["messageId"]) for m in beats["items"]] == [
        ("out", "h2"),
        ("in", "h2"),
        ("out", "h1"),
        ("in", "h1"),
    ]
    assert beats["next"] is None and beats["total"] == 8
    none = ok(await api.get(url(cp_id, "messages?action=Reset")))
    assert none["items"] == [] and none["next"] is None
    assert ok(await api.get(url(cp_id, "messages?before=0-0")))["items"] == []


async def test_messages_of_a_charger_that_never_spoke_are_empty(api, stack, cp_id):
    assert ok(await api.get(url(cp_id, "messages"))) == {"items": [], "total": 0, "next": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("before=-1", "before"),
        ("before=1-2-3", "before"),
        ("before=99999999999999999999-0", "before"),
        ("action=" + "A" * 51, "action"),
        ("action=", "action"),
    ],
)
async def test_bad_message_queries_are_400(api, stack, cp_id, query, field):
    errors = data_of_400(await api.get(url(cp_id, f"messages?{query}")), "invalid query parameters")
    assert field in errors


async def test_records_of_a_charger(api, stack, cp_id):
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await exchange(
            ws,
            [
                [2, "b1", "BootNotification", BOOT],
                [2, "f1", "FirmwareStatusNotification", {"status": "Downloading"}],
                [2, "g1", "DiagnosticsStatusNotification", {"status": "Uploaded"}],
                [2, "l1", "LogStatusNotification", {"status": "Uploading", "requestId": 7}],
                [2, "t1", "DataTransfer", {"vendorId": "com.example", "messageId": "m", "data": "one"}],
                [2, "t2", "DataTransfer", {"vendorId": "com.example", "data": "y" * 5000}],
                [2, "c1", "SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAA=="}],
            ],
        )
    firmware = ok(await api.get(url(cp_id, "firmware")))
    assert firmware["firmwareVersion"] == "1.2.3" and firmware["status"] == "Downloading"
    assert firmware["statusAt"].endswith("Z") and firmware["requestId"] is None
    diagnostics = ok(await api.get(url(cp_id, "diagnostics")))
    assert diagnostics["status"] == "Uploaded" and diagnostics["statusAt"].endswith("Z")
    upload = ok(await api.get(url(cp_id, "log-upload")))
    assert (upload["status"], upload["requestId"]) == ("Uploading", 7)

    transfers = ok(await api.get(url(cp_id, "data-transfers")))
    assert transfers["total"] == 2
    newest, oldest = transfers["items"]
    assert (newest["truncated"], newest["dataLength"], len(newest["data"])) == (True, 5000, 4096)
    assert (oldest["vendorId"], oldest["messageId"], oldest["data"]) == ("com.example", "m", "one")
    assert oldest["receivedAt"].endswith("Z")
    second = ok(await api.get(url(cp_id, "data-transfers?offset=1&limit=5")))
    assert second == {"items": [oldest], "total": 2}

    csrs = ok(await api.get(url(cp_id, "csrs?status=Pending")))
    assert csrs["total"] == 1 and csrs["items"][0]["status"] == "Pending"
    assert csrs["items"][0]["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----")
    assert ok(await api.get(url(cp_id, "csrs?status=Signed"))) == {"items": [], "total": 0}
    assert ok(await api.get(url(cp_id, "csrs")))["total"] == 1
    data_of_400(await api.get(url(cp_id, "csrs?status=pending")), "invalid query parameters")


@pytest.mark.parametrize("tail", ["firmware", "diagnostics", "log-upload", "data-transfers", "csrs"])
async def test_records_of_an_unknown_charger_are_404(api, stack, cp_id, tail):
    response = await api.get(url(cp_id, tail))
    assert response.status_code == 404
