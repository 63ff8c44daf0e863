"""Prometheus metrics after real charger traffic: a private stack whose gateway, bridge
and prefork worker each serve OCPP_METRICS_PORT and whose gunicorn API serves
/metrics (multiprocess mode, 2 workers), scraped over HTTP before and after a charger
(the `ocpp` package's ChargePoint), hand-made bad frames, refused handshakes and API
calls."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from api import create_app
from ocpp_worker.simulate import SimulatedChargePoint
from ocpp_worker.state import registrations
from tests.support.chargers import raw_socket, recv_json
from tests.support.observed import ObservedStack, Samples, answers, http_get, observed_stack, parse, value
from tests.support.stack import ROOT, free_port

pytestmark = pytest.mark.timeout(150)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObservedStack]:
    with observed_stack(Path(tmp_path_factory.mktemp("metrics"))) as stack:
        yield stack


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def api_post(observed: ObservedStack, path: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(
        observed.api_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {observed.token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


async def refused_status(url: str, headers: dict[str, str] | None = None) -> int:
    with pytest.raises(InvalidStatus) as caught:
        await websockets.connect(url, subprotocols=["ocpp1.6"], additional_headers=headers or {})  # type: ignore[list-item]
    return int(caught.value.response.status_code)


async def eventually(check, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)


async def test_charger_traffic_moves_every_process_metrics(observed: ObservedStack) -> None:
    before = {role: observed.scrape(role) for role in ("gateway", "bridge", "worker", "api")}
    cp_id = f"MET-{uuid.uuid4().hex[:8]}"
    ws = await websockets.connect(f"{observed.ws_url}/{cp_id}", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    cp = SimulatedChargePoint(cp_id, ws, connectors=1, power_w=0, response_timeout=15)
    listener = asyncio.create_task(cp.start())
    try:
        await cp.boot()
        for _ in range(3):
            await cp.call(call.Heartbeat())
        # a CSMS call through gunicorn, answered by the charger
        reset = await asyncio.to_thread(
            api_post, observed, f"/api/v1/chargepoints/{cp_id}/reset", {"type": "Soft"}
        )
        assert reset == 200
        gateway = observed.scrape("gateway")
        assert value(gateway, "ocpp_gateway_connected_chargers") >= 1
        # hand-made frames on another socket: a schema error (the worker's CALLERROR), an
        # action nobody defines and a frame that is not JSON (both the bridge's own)
        async with raw_socket(observed.ws_url, f"{cp_id}-raw") as raw:
            await raw.send('[2,"bad-1","Heartbeat",{"unexpected":1}]')
            assert (await recv_json(raw, 15))[2] == "FormationViolation"
            await raw.send('[2,"bad-2","NoSuchAction",{}]')
            assert (await recv_json(raw, 15))[2] == "NotImplemented"
            await raw.send("this is not JSON")
            await asyncio.wait_for(raw.wait_closed(), 15)
            assert raw.close_code == 1007
    finally:
        listener.cancel()
        await ws.close()
    # refused handshakes: an id no charger may have, a disabled charger, a wrong key
    host = f"ws://127.0.0.1:{observed.ws_port}"
    assert await refused_status(f"{host}/ocpp/not%20an%20id") == 400
    store = observed.store
    assert store is not None
    registrations.put(store, store.keys, f"{cp_id}-off", enabled=False)
    assert await refused_status(f"{observed.ws_url}/{cp_id}-off") == 403
    registrations.put(store, store.keys, f"{cp_id}-key", security_profile=1)
    registrations.set_key(store, store.keys, f"{cp_id}-key", "the-right-key-0123456789")
    wrong = base64.b64encode(f"{cp_id}-key:a-wrong-key-0123456789".encode()).decode()
    assert await refused_status(f"{observed.ws_url}/{cp_id}-key", {"Authorization": f"Basic {wrong}"}) == 401

    after: dict[str, Samples] = {}

    def settled() -> bool:
        after.update({role: observed.scrape(role) for role in ("gateway", "bridge", "worker", "api")})
        worker_done = delta(
            before["worker"],
            after["worker"],
            "ocpp_worker_handler_duration_seconds_count",
            action="Heartbeat",
        )
        return worker_done >= 4  # 3 from the charger + the bad one (its CALLERROR is an answer too)

    await eventually(settled)
    b, a = before, after
    # gateway: frames in and out by action, refusals by reason, outbox lag
    received = "ocpp_gateway_frames_received_total"
    sent = "ocpp_gateway_frames_sent_total"
    assert delta(b["gateway"], a["gateway"], received, type="call", action="BootNotification") == 1
    assert delta(b["gateway"], a["gateway"], received, type="call", action="Heartbeat") == 4
    assert delta(b["gateway"], a["gateway"], received, type="call", action="other") == 1  # NoSuchAction
    assert delta(b["gateway"], a["gateway"], received, type="result", action="Reset") == 1
    assert delta(b["gateway"], a["gateway"], received, type="other", action="none") == 1  # not JSON
    assert delta(b["gateway"], a["gateway"], sent, type="result", action="Heartbeat") == 3
    assert delta(b["gateway"], a["gateway"], sent, type="error", action="Heartbeat") == 1
    assert delta(b["gateway"], a["gateway"], sent, type="call", action="Reset") == 1
    refusals = "ocpp_gateway_handshake_refusals_total"
    assert delta(b["gateway"], a["gateway"], refusals, reason="InvalidChargePointId") == 1
    assert delta(b["gateway"], a["gateway"], refusals, reason="DisabledChargePoint") == 1
    assert delta(b["gateway"], a["gateway"], refusals, reason="InvalidBasicAuth") == 1
    assert delta(b["gateway"], a["gateway"], "ocpp_gateway_outbox_lag_seconds_count") >= 6
    # bridge: CALLs handed on by action, bad frames by code, the stream's backlog
    dispatched = "ocpp_bridge_frames_dispatched_total"
    assert delta(b["bridge"], a["bridge"], dispatched, action="Heartbeat") == 4
    assert delta(b["bridge"], a["bridge"], dispatched, action="BootNotification") == 1
    assert delta(b["bridge"], a["bridge"], "ocpp_bridge_bad_frames_total", code="NotImplemented") == 1
    assert delta(b["bridge"], a["bridge"], "ocpp_bridge_bad_frames_total", code="close_1007") == 1
    assert ("ocpp_bridge_inbound_lag_entries", ()) in a["bridge"]
    assert value(a["bridge"], "ocpp_bridge_inbound_pending_entries") >= 0
    # worker: the pool's processes summed (multiprocess mode): latency and CALLERRORs
    latency = "ocpp_worker_handler_duration_seconds"
    assert delta(b["worker"], a["worker"], f"{latency}_count", action="BootNotification") == 1
    assert delta(b["worker"], a["worker"], f"{latency}_sum", action="Heartbeat") > 0
    errors = "ocpp_worker_call_errors_total"
    assert delta(b["worker"], a["worker"], errors, action="Heartbeat", code="FormationViolation") == 1
    # API: the reset call by route and status, and its round trip to the charger
    route = "/api/v1/chargepoints/<charger:cp_id>/reset"
    requests = "ocpp_api_request_duration_seconds_count"
    assert delta(b["api"], a["api"], requests, method="POST", route=route, status="200") == 1
    calls = "ocpp_api_charger_call_duration_seconds_count"
    assert delta(b["api"], a["api"], calls, action="Reset", outcome="result") == 1


async def test_api_metrics_sum_every_gunicorn_worker_and_count_failed_calls(observed: ObservedStack) -> None:
    before = observed.scrape("api")
    for _ in range(8):  # spread over the two worker processes by the kernel
        assert http_get(f"{observed.api_url}/health")[0] == 200
    offline = await asyncio.to_thread(
        api_post, observed, "/api/v1/chargepoints/NEVER-SEEN-CP/reset", {"type": "Soft"}
    )
    assert offline == 404
    after = observed.scrape("api")
    requests = "ocpp_api_request_duration_seconds_count"
    assert delta(before, after, requests, method="GET", route="/health", status="200") == 8
    assert (
        delta(before, after, requests, route="/api/v1/chargepoints/<charger:cp_id>/reset", status="404") == 1
    )
    calls = "ocpp_api_charger_call_duration_seconds_count"
    assert delta(before, after, calls, action="Reset", outcome="unknown_charger") == 1
    # an unknown URL counts under route "none", not under its path
    assert http_get(f"{observed.api_url}/no/such/route", observed.token)[0] == 404
    assert value(observed.scrape("api"), requests, route="none", status="404") >= 1


def test_api_metrics_need_the_token_unless_public(observed: ObservedStack, store) -> None:  # type: ignore[no-untyped-def]
    assert http_get(f"{observed.api_url}/metrics")[0] == 401
    assert http_get(f"{observed.api_url}/metrics", "wrong-token")[0] == 401
    status, text = http_get(f"{observed.api_url}/metrics", observed.token)
    assert status == 200 and "ocpp_api_request_duration_seconds" in text
    public = create_app(
        settings=dataclasses.replace(store.settings, metrics_public=True),
        store=store,
        config={"API_TOKEN": "t0ken-1234"},
    )
    response = public.test_client().get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    closed = create_app(settings=store.settings, store=store, config={"API_TOKEN": "t0ken-1234"})
    assert closed.test_client().get("/metrics").status_code == 401


def test_gunicorn_metrics_directory_is_fresh_per_start_and_removed_at_exit(tmp_path: Path) -> None:
    """Counts of an earlier start are not added to this one's; nothing is left behind."""
    base = tmp_path / "multiproc"
    base.mkdir()
    port = free_port()
    env = {**os.environ, "HTTP_PORT": str(port), "API_WORKERS": "1", "API_THREADS": "2"}
    env.update({"PROMETHEUS_MULTIPROC_DIR": str(base), "API_TOKEN": ""})
    for _ in range(2):
        api = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "api/gunicorn_conf.py", "api.wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not answers(f"http://127.0.0.1:{port}/metrics"):
                assert api.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
            http_get(f"http://127.0.0.1:{port}/health")
            assert len(list(base.iterdir())) == 1  # this start's own directory, inside the one named
            samples = parse(http_get(f"http://127.0.0.1:{port}/metrics")[1])
            count = value(samples, "ocpp_api_request_duration_seconds_count", route="/health")
            assert count == 1  # this start's one /health, never the earlier start's
        finally:
            api.terminate()
            api.wait(20)
        assert list(base.iterdir()) == []  # removed at exit


def test_a_metrics_port_in_use_stops_the_bridge_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "OCPP_METRICS_PORT": str(port),
            "OCPP_KEY_PREFIX": f"ocpptest-{uuid.uuid4().hex[:8]}:",
        }
        result = subprocess.run(
            [sys.executable, "-m", "ocpp_worker.bridge"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.stderr
