"""The API as deployed: gunicorn (api/gunicorn_conf.py) as a subprocess, over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, DataTransferStatus

from ocpp_worker.simulate import SimulatedChargePoint
from tests.api.conftest import HttpApi
from tests.support.stack import ManagedProcess, free_port

ANSWER_DELAY = 1.0
CHARGERS = 50


class SlowChargePoint(SimulatedChargePoint):
    """Takes ANSWER_DELAY to answer a DataTransfer: 50 of them answered one after the
    other would take 50 s, at once about 1 s."""

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kw: Any) -> Any:
        await asyncio.sleep(ANSWER_DELAY)
        return call_result.DataTransfer(status=DataTransferStatus.accepted, data=self.id)


@contextlib.asynccontextmanager
async def slow_chargers(ws_url: str, ids: list[str]):  # type: ignore[no-untyped-def]
    sockets, listeners = [], []

    async def connect(cp_id: str) -> SlowChargePoint:
        ws = await websockets.connect(f"{ws_url}/{cp_id}", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        sockets.append(ws)
        cp = SlowChargePoint(cp_id, ws, connectors=0, response_timeout=15)
        listeners.append(asyncio.create_task(cp.start()))
        await cp.boot()
        return cp

    try:
        yield await asyncio.gather(*(connect(i) for i in ids))
    finally:
        for task in listeners:
            task.cancel()
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()


@pytest.mark.timeout(60)
async def test_fifty_simultaneous_calls_take_one_round_trip(gunicorn_api: HttpApi, stack, cp_id):
    ids = [f"{cp_id}-{i:02d}" for i in range(CHARGERS)]
    async with slow_chargers(stack.ws_url, ids):

        def data_transfer(charger: str) -> tuple[int, dict[str, Any]]:
            return gunicorn_api.request(
                "POST", f"/api/v1/chargepoints/{charger}/call/DataTransfer", {"vendorId": "com.example"}
            )

        def all_at_once() -> list[tuple[int, dict[str, Any]]]:
            with ThreadPoolExecutor(CHARGERS) as pool:
                return list(pool.map(data_transfer, ids))

        started = time.monotonic()
        results = await asyncio.to_thread(all_at_once)
        elapsed = time.monotonic() - started
    assert [status for status, _ in results] == [200] * CHARGERS, results
    assert [body["data"] for _, body in results] == [{"status": "Accepted", "data": i} for i in ids]
    assert ANSWER_DELAY <= elapsed < 5, elapsed


async def test_real_http_envelope_token_and_quiet_logs(gunicorn_api: HttpApi, chargers, cp_id):
    await chargers.connect(cp_id, connectors=0)
    status, body = gunicorn_api.request("GET", "/health", token=None)
    assert status == 200 and body["success"] is True and body["data"]["workers"]["count"] >= 1
    status, body = gunicorn_api.request("GET", f"/api/v1/chargepoints/{cp_id}", token=None)
    assert (status, body["success"], body["data"]) == (401, False, None)
    status, body = gunicorn_api.request("GET", f"/api/v1/chargepoints/{cp_id}", token="wrong")
    assert status == 401
    status, body = await asyncio.to_thread(
        gunicorn_api.request, "POST", f"/api/v1/chargepoints/{cp_id}/reset", {"type": "Soft"}
    )
    assert (status, body["data"]) == (200, {"status": "Accepted"})
    status, body = gunicorn_api.request("GET", f"/api/v1/chargepoints/{cp_id}")
    assert status == 200 and body["data"]["connected"] is True
    status, body = gunicorn_api.request("GET", "/no/such/thing")
    assert (status, body["success"]) == (404, False)
    status, body = gunicorn_api.request("PATCH", "/api/v1/idtags")
    assert (status, body["success"]) == (405, False)
    log = gunicorn_api.process.output()
    assert "/api/v1/chargepoints" in log  # the access log is on...
    assert gunicorn_api.token not in log  # ...and never shows the token


def test_sigterm_stops_gunicorn_promptly(stack, tmp_path: Path):
    port = free_port()
    env = {**os.environ, "HTTP_PORT": str(port), "API_WORKERS": "1", "API_THREADS": "4"}
    process = ManagedProcess(
        "gunicorn-term",
        [sys.executable, "-m", "gunicorn", "-c", "api/gunicorn_conf.py", "api.wsgi:app"],
        env,
        tmp_path,
    )
    http = HttpApi(f"http://127.0.0.1:{port}", "", process)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError):
                if http.request("GET", "/health", token=None, timeout=2)[0] == 200:
                    break
            assert process.alive() and time.monotonic() < deadline, process.output()[-2000:]
            time.sleep(0.1)
        assert f"0.0.0.0:{port}" in process.output() and "gthread" in process.output()
        started = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)
        process.proc.wait(12)
        assert time.monotonic() - started < 12
    finally:
        process.stop()
