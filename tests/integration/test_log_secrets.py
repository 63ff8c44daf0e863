"""No secret in any log line: a session at LOG_LEVEL=DEBUG (every frame logged) on a
private stack with an API token, a charger that connects with HTTP Basic auth (its
AuthorizationKey set through the API), a wrong key tried, and a key rotation
(ChangeConfiguration AuthorizationKey, through the generic call route and the rotate
route); then every process's log is read for the secrets, raw and base64-encoded."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from ocpp_worker.simulate import SimulatedChargePoint, connect_options
from tests.support.observed import ObservedStack, observed_stack

pytestmark = pytest.mark.timeout(150)


@pytest.fixture(scope="module")
def debug_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObservedStack]:
    env = {"LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json"}
    with observed_stack(Path(tmp_path_factory.mktemp("secrets")), env) as stack:
        yield stack


def api(stack: ObservedStack, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {stack.token}", "Content-Type": "application/json"}
    request = urllib.request.Request(stack.api_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def encodings(secret: str, cp_id: str) -> set[str]:
    """The secret as it could show: itself, and in a Basic credential."""
    return {secret, base64.b64encode(f"{cp_id}:{secret}".encode()).decode()}


async def test_no_secret_reaches_any_log_at_debug(debug_stack: ObservedStack) -> None:
    stack = debug_stack
    cp_id = f"SECRET-{uuid.uuid4().hex[:8]}"
    first_key = f"first-key-{uuid.uuid4().hex[:16]}"
    wrong_key = f"wrong-key-{uuid.uuid4().hex[:16]}"
    second_key = f"second-key-{uuid.uuid4().hex[:16]}"
    assert (
        await asyncio.to_thread(api, stack, "PUT", f"/api/v1/chargepoints/{cp_id}", {"securityProfile": 1})
    )[0] in (200, 201)
    status, _ = await asyncio.to_thread(
        api, stack, "PUT", f"/api/v1/chargepoints/{cp_id}/credentials", {"authorizationKey": first_key}
    )
    assert status == 204
    # a wrong key: refused at the handshake (its refusal is logged)
    with pytest.raises(InvalidStatus):
        await websockets.connect(
            f"{stack.ws_url}/{cp_id}", **connect_options(stack.ws_url, cp_id, password=wrong_key)
        )
    ws = await websockets.connect(
        f"{stack.ws_url}/{cp_id}", **connect_options(stack.ws_url, cp_id, password=first_key)
    )
    cp = SimulatedChargePoint(cp_id, ws, connectors=1, power_w=0, response_timeout=15)
    listener = asyncio.create_task(cp.start())
    try:
        await cp.boot()
        await cp.call(call.Heartbeat())
        payload = {"key": "AuthorizationKey", "value": second_key}
        status, body = await asyncio.to_thread(
            api, stack, "POST", f"/api/v1/chargepoints/{cp_id}/call/ChangeConfiguration", payload
        )
        assert (status, body["data"]) == (200, {"status": "Accepted"}), body
        status, body = await asyncio.to_thread(
            api, stack, "POST", f"/api/v1/chargepoints/{cp_id}/credentials/rotate", {}
        )
        assert status == 200 and body["data"]["status"] == "Accepted", body
        generated = body["data"]["authorizationKey"]
        assert generated
    finally:
        listener.cancel()
        await ws.close()
    await asyncio.sleep(1)  # the last lines written

    secrets = {stack.token, *encodings(first_key, cp_id), *encodings(wrong_key, cp_id)}
    secrets |= encodings(second_key, cp_id) | encodings(generated, cp_id)
    logs = {process.name: process.output() for process in stack.processes()}
    assert set(logs) == {"gateway", "bridge", "w1", "api"}
    for name, text in logs.items():
        for secret in secrets:
            assert secret not in text, f"a secret in the {name}'s log"
    # ...and the logs did show the session, at DEBUG, as JSON lines
    gateway = [json.loads(line) for line in logs["gateway"].splitlines() if line.startswith("{")]
    frames = [
        line
        for line in gateway
        if line.get("direction") == "out" and line.get("action") == "ChangeConfiguration"
    ]
    assert len(frames) == 2 and all('"value":"[REDACTED]"' in line["message"] for line in frames), frames
    assert any(line.get("outcome") == "refused" and line.get("charger_id") == cp_id for line in gateway)
    assert any(line.get("outcome") == "connected" and line.get("charger_id") == cp_id for line in gateway)
    api_lines = [json.loads(line) for line in logs["api"].splitlines() if line.startswith("{")]
    assert any(
        line.get("action") == "ChangeConfiguration"
        and line.get("outcome") == "result"
        and "latency_ms" in line
        for line in api_lines
    )
    assert all({"time", "level", "logger", "message", "role"} <= set(line) for line in gateway + api_lines)
