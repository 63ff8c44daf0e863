"""Queued commands end to end: queued through the real API (gunicorn) for a registered
charger that is offline, every process restarted, then a real `ocpp`
ChargePoint connects and boots and gets them, in order, and its answers are recorded."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.chargers import ChargerFactory
from tests.support.stack import ManagedProcess, free_port, private_stack, start_gunicorn

TOKEN = "commands-test-" + os.urandom(6).hex()


def log_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def http(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}", **(headers or {})}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=all_headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


PREFER = {"Prefer": "respond-async"}


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_commands_queued_offline_survive_restarts_and_are_delivered_in_order(tmp_path: Path) -> None:
    cp_id = "CP-QUEUED-" + os.urandom(3).hex()
    env = {"API_TOKEN": TOKEN, "OCPP_COMMAND_SWEEP_S": "1"}
    with private_stack(tmp_path, env, workers=()) as (stack, store):
        stack.start_worker("w1", queues="ocpp,ocpp.metering")
        stack.start_worker("bg1", queues="ocpp.commands")
        # celery beat sends ocpp.commands.sweep every second to the background worker
        beat = stack.start("beat", [sys.executable, "-m", "celery", "-A", "ocpp_worker", "beat"])
        port = free_port()
        api: ManagedProcess = start_gunicorn(stack.env, log_dir(tmp_path / "api1"), port)
        status, _, _ = http(port, "PUT", f"/api/v1/chargepoints/{cp_id}", {"securityProfile": 0})
        assert status == 201
        # without the preference: the call fails as before (registered, never connected: 404)
        status, _, body = http(port, "POST", f"/api/v1/chargepoints/{cp_id}/reset", {"type": "Soft"})
        assert status == 404, body
        # a bad payload is refused at once, never queued
        status, _, body = http(
            port, "POST", f"/api/v1/chargepoints/{cp_id}/call/Reset", {"type": "Sideways"}, PREFER
        )
        assert status == 400, body
        status, headers, body = http(
            port,
            "PUT",
            f"/api/v1/chargepoints/{cp_id}/configuration/live",
            {"key": "MeterValueSampleInterval", "value": "30"},
            PREFER,
        )
        assert status == 202, body
        first = body["data"]
        assert headers["Location"] == f"/api/v1/commands/{first['id']}"
        assert headers["Preference-Applied"] == "respond-async"
        assert first["status"] == "queued" and first["action"] == "ChangeConfiguration"
        status, _, body = http(
            port,
            "POST",
            "/api/v1/transactions/remote-start",
            {"clientId": cp_id, "idTag": "QUEUED-TAG"},
            PREFER,
        )
        assert status == 202, body
        second = body["data"]
        status, _, body = http(
            port,
            "POST",
            f"/api/v1/chargepoints/{cp_id}/trigger?expiresIn=1",
            {"requestedMessage": "Heartbeat"},
            PREFER,
        )
        assert status == 202, body
        short = body["data"]

        # restart every process between queueing and delivery: the API, the workers, the
        # gateway and the bridge (the queue lives in Redis only)
        api.stop()
        stack.processes.pop("w1").stop()
        stack.processes.pop("bg1").stop()
        stack.processes.pop("gateway").stop()
        stack.processes.pop("bridge").stop()
        stack.start_gateway()
        stack.start_bridge()
        stack.start_worker("w2", queues="ocpp,ocpp.metering")
        stack.start_worker("bg2", queues="ocpp.commands")
        port = free_port()
        api = start_gunicorn(stack.env, log_dir(tmp_path / "api2"), port)
        try:
            status, _, body = http(port, "GET", f"/api/v1/commands/{first['id']}")
            assert status == 200 and body["data"]["status"] == "queued"
            # while the charger is offline only the beat's sweep can expire a command
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                _, _, got = http(port, "GET", f"/api/v1/commands/{short['id']}")
                if got["data"]["status"] != "queued":
                    break
                await asyncio.sleep(0.2)
            assert got["data"]["status"] == "expired", (got, beat.output()[-2000:])

            factory = ChargerFactory(stack.ws_url)
            try:
                cp = await factory.connect(cp_id)  # boots: Accepted
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    _, _, got = http(port, "GET", f"/api/v1/commands/{second['id']}")
                    if got["data"]["status"] not in ("queued", "sent"):
                        break
                    await asyncio.sleep(0.1)
                received = [action for action, _ in cp.received]
            finally:
                await factory.close_all()
            assert received == ["ChangeConfiguration", "RemoteStartTransaction"], received
            _, _, a = http(port, "GET", f"/api/v1/commands/{first['id']}")
            _, _, b = http(port, "GET", f"/api/v1/commands/{second['id']}")
            assert a["data"]["status"] == "answered", a
            assert a["data"]["answer"] == {"status": "Accepted"}
            assert b["data"]["status"] == "answered", b
            assert b["data"]["answer"] == {"status": "Accepted"}
            assert a["data"]["sentAt"] <= b["data"]["sentAt"]
            # the accepted ChangeConfiguration is stored, as a live call's would be
            assert store.redis.hget(store.keys.config(cp_id), "MeterValueSampleInterval") == "30"
            status, _, listed = http(port, "GET", f"/api/v1/chargepoints/{cp_id}/commands")
            assert status == 200
            assert [c["id"] for c in listed["data"]["items"]] == [first["id"], second["id"], short["id"]]
        finally:
            api.stop()
