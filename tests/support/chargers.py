"""Real chargers for tests: the `ocpp` package's ChargePoint over a real WebSocket
(it validates every reply of ours against the official 1.6 schemas)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import websockets
from ocpp.v16 import ChargePoint

from ocpp_worker.simulate import SimulatedChargePoint


class ChargerFactory:
    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self._open: list[tuple[Any, asyncio.Task[Any]]] = []

    async def connect(
        self, cp_id: str, *, connectors: int = 2, boot: bool = True, timeout: float = 15
    ) -> SimulatedChargePoint:
        ws = await websockets.connect(f"{self.ws_url}/{cp_id}", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        # power_w=0: the meter moves only by what a test sends, never by elapsed time
        cp = SimulatedChargePoint(cp_id, ws, connectors=connectors, power_w=0, response_timeout=timeout)
        listener = asyncio.create_task(cp.start())
        self._open.append((ws, listener))
        if boot:
            await cp.boot()
        return cp

    async def close_all(self) -> None:
        for ws, listener in self._open:
            listener.cancel()
            with contextlib.suppress(Exception):
                await ws.close()
        self._open.clear()


async def recv_json(ws: Any, timeout: float = 5) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


@contextlib.asynccontextmanager
async def raw_socket(ws_url: str, cp_id: str) -> AsyncIterator[Any]:
    """A bare OCPP WebSocket for sending hand-made (malformed) frames."""
    async with websockets.connect(f"{ws_url}/{cp_id}", subprotocols=["ocpp1.6"], max_size=None) as ws:  # type: ignore[list-item]
        yield ws


def basic(user: str, password: str) -> dict[str, str]:
    """The `Authorization: Basic` header of security profiles 1 and 2."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


@contextlib.asynccontextmanager
async def plain_charger(
    url: str, cp_id: str, headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None
) -> AsyncIterator[ChargePoint]:
    """The `ocpp` package's bare ChargePoint, connected (its listener running), with
    handshake headers and a TLS context of the test's choosing; a refused handshake raises."""
    ws = await asyncio.wait_for(
        websockets.connect(
            f"{url}/{cp_id}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=headers or {},
            ssl=context,
        ),
        10,
    )
    cp = ChargePoint(cp_id, ws, response_timeout=15)
    listener = asyncio.create_task(cp.start())
    try:
        yield cp
    finally:
        listener.cancel()
        await ws.close()
