"""The baseline: a single-process central system written as the ``ocpp`` package's
documentation shows one (``websockets.serve``, one ``ocpp.v16.ChargePoint`` subclass
per connection, ``@on(Action...)`` handlers, the package's own schema validation and
its INFO logging), keeping the same state in Redis as the project does, under its
own prefix, with redis.asyncio:

* the connection registry (``client:{id}`` hash with a 30 s TTL refreshed every 10 s,
  ``clients`` sorted set), removed at disconnect;
* per CALL: ``business:chargepoints`` (first seen) and ``lastSeen``;
* BootNotification fields, registrationStatus, bootedAt (interval from ``config:{id}``);
* Heartbeat: lastHeartbeat;  StatusNotification: the connector hash and set;
* Authorize / Start / Stop: the idTag hash (unknown tags Accepted when
  OCPP_ACCEPT_UNKNOWN_IDTAGS=1, else Invalid);
* StartTransaction: an id from one counter (first 1000), the transaction hash, the
  all / active / per-charger sorted sets, the connector's transactionId;
* MeterValues: the samples on the transaction's list (if it is this charger's,
  capped at 20,000) and the connector's latest values;
* StopTransaction: the transaction completed with meterStop and energyWh, out of the
  active set, the connector's transactionId cleared.

Each handler's writes go in one MULTI pipeline, like the project's.

    python -m bench.baseline_server --port 9100 --redis 127.0.0.1:6379 --prefix base:
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as cp
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus

SAMPLE_DEFAULTS = {
    "context": "Sample.Periodic",
    "format": "Raw",
    "measurand": "Energy.Active.Import.Register",
    "location": "Outlet",
    "unit": "Wh",
}
MAX_SAMPLES = 20_000
CLIENT_TTL_S = 30
REFRESH_S = 10

log = logging.getLogger("baseline")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def strings(mapping: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in mapping.items() if v is not None and v != ""}


class State:
    """The Redis side: one pooled client, the key names."""

    def __init__(self, r: Any, prefix: str, accept_unknown: bool) -> None:
        self.r = r
        self.p = prefix
        self.accept_unknown = accept_unknown
        self.connected: dict[str, dict[str, str]] = {}

    def cp(self, cp_id: str) -> str:
        return f"{self.p}business:cp:{{{cp_id}}}"

    def connector(self, cp_id: str, n: int) -> str:
        return f"{self.cp(cp_id)}:connector:{n}"

    def transaction(self, tx_id: int) -> str:
        return f"{self.p}business:transaction:{tx_id}"

    def touch(self, pipe: Any, cp_id: str, now: str) -> None:
        pipe.zadd(f"{self.p}business:chargepoints", {cp_id: time.time()}, nx=True)
        pipe.hset(self.cp(cp_id), "lastSeen", now)

    async def id_tag_info(self, id_tag: str) -> dict[str, Any]:
        tag = await self.r.hgetall(f"{self.p}business:idtag:{id_tag}")
        if not tag:
            status = AuthorizationStatus.accepted if self.accept_unknown else AuthorizationStatus.invalid
            return {"status": status}
        info: dict[str, Any] = {"status": tag.get("status", "Invalid")}
        if tag.get("expiryDate"):
            info["expiry_date"] = tag["expiryDate"]
        if tag.get("parentIdTag"):
            info["parent_id_tag"] = tag["parentIdTag"]
        return info

    async def register(self, cp_id: str, fields: dict[str, str]) -> None:
        key = f"{self.p}client:{{{cp_id}}}"
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=fields)
        pipe.expire(key, CLIENT_TTL_S)
        pipe.zadd(f"{self.p}clients", {cp_id: int((time.time() + CLIENT_TTL_S) * 1000)})
        await pipe.execute()
        self.connected[cp_id] = fields

    async def unregister(self, cp_id: str, conn: str) -> None:
        if self.connected.get(cp_id, {}).get("conn") == conn:
            del self.connected[cp_id]
            pipe = self.r.pipeline(transaction=True)
            pipe.delete(f"{self.p}client:{{{cp_id}}}")
            pipe.zrem(f"{self.p}clients", cp_id)
            await pipe.execute()

    async def refresh(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            expiry = int((time.time() + CLIENT_TTL_S) * 1000)
            pipe = self.r.pipeline(transaction=False)
            for cp_id in self.connected:
                pipe.expire(f"{self.p}client:{{{cp_id}}}", CLIENT_TTL_S)
                pipe.zadd(f"{self.p}clients", {cp_id: expiry})
            pipe.zremrangebyscore(f"{self.p}clients", "-inf", int(time.time() * 1000))
            with contextlib.suppress(aioredis.RedisError):
                await pipe.execute()


class ChargePoint(cp):  # type: ignore[misc]
    state: State

    @on(Action.boot_notification)  # type: ignore[misc]
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> Any:
        now = now_iso()
        interval = await self.state.r.hget(f"{self.state.p}config:{{{self.id}}}", "HeartbeatInterval")
        pipe = self.state.r.pipeline(transaction=True)
        fields = {
            "charge_point_vendor": charge_point_vendor,
            "charge_point_model": charge_point_model,
            **kwargs,
        }
        camel = {
            "".join(w.capitalize() if i else w for i, w in enumerate(k.split("_"))): v
            for k, v in fields.items()
        }
        pipe.hset(
            self.state.cp(self.id),
            mapping=strings({**camel, "registrationStatus": RegistrationStatus.accepted, "bootedAt": now}),
        )
        self.state.touch(pipe, self.id, now)
        await pipe.execute()
        return call_result.BootNotification(
            current_time=now, interval=int(interval or 300), status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)  # type: ignore[misc]
    async def on_heartbeat(self, **kwargs: Any) -> Any:
        now = now_iso()
        pipe = self.state.r.pipeline(transaction=True)
        pipe.hset(self.state.cp(self.id), "lastHeartbeat", now)
        self.state.touch(pipe, self.id, now)
        await pipe.execute()
        return call_result.Heartbeat(current_time=now)

    @on(Action.status_notification)  # type: ignore[misc]
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **kwargs: Any
    ) -> Any:
        now = now_iso()
        key = self.state.connector(self.id, connector_id)
        pipe = self.state.r.pipeline(transaction=True)
        pipe.sadd(f"{self.state.cp(self.id)}:connectors", connector_id)
        pipe.hdel(key, "info", "vendorId", "vendorErrorCode")
        pipe.hset(
            key,
            mapping=strings(
                {
                    "status": status,
                    "errorCode": error_code,
                    "info": kwargs.get("info"),
                    "vendorId": kwargs.get("vendor_id"),
                    "vendorErrorCode": kwargs.get("vendor_error_code"),
                    "timestamp": kwargs.get("timestamp") or now,
                    "updatedAt": now,
                }
            ),
        )
        self.state.touch(pipe, self.id, now)
        await pipe.execute()
        return call_result.StatusNotification()

    @on(Action.authorize)  # type: ignore[misc]
    async def on_authorize(self, id_tag: str, **kwargs: Any) -> Any:
        info = await self.state.id_tag_info(id_tag)
        pipe = self.state.r.pipeline(transaction=True)
        self.state.touch(pipe, self.id, now_iso())
        await pipe.execute()
        return call_result.Authorize(id_tag_info=info)

    @on(Action.start_transaction)  # type: ignore[misc]
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs: Any
    ) -> Any:
        now = now_iso()
        s = self.state
        info = await s.id_tag_info(id_tag)
        counter = f"{s.p}business:transaction-id"
        await s.r.set(counter, 999, nx=True)
        tx_id = int(await s.r.incr(counter))
        pipe = s.r.pipeline(transaction=True)
        pipe.hset(
            s.transaction(tx_id),
            mapping=strings(
                {
                    "transactionId": tx_id,
                    "clientId": self.id,
                    "connectorId": connector_id,
                    "idTag": id_tag,
                    "idTagStatus": info["status"],
                    "meterStart": meter_start,
                    "startTime": timestamp,
                    "reservationId": kwargs.get("reservation_id"),
                    "createdAt": now,
                    "status": "active",
                }
            ),
        )
        for key in ("transactions", "transactions:active", f"transactions:cp:{{{self.id}}}"):
            pipe.zadd(f"{s.p}business:{key}", {str(tx_id): tx_id})
        pipe.sadd(f"{s.cp(self.id)}:connectors", connector_id)
        pipe.hset(s.connector(self.id, connector_id), "transactionId", tx_id)
        s.touch(pipe, self.id, now)
        await pipe.execute()
        return call_result.StartTransaction(transaction_id=tx_id, id_tag_info=info)

    @on(Action.meter_values)  # type: ignore[misc]
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> Any:
        now = now_iso()
        s = self.state
        tx_id = kwargs.get("transaction_id")
        samples = []
        for mv in meter_value:
            for sv in mv.get("sampled_value", []):
                samples.append({"timestamp": mv.get("timestamp") or now, **SAMPLE_DEFAULTS, **sv})
        owner = await s.r.hget(s.transaction(tx_id), "clientId") if tx_id is not None else None
        pipe = s.r.pipeline(transaction=True)
        if owner == self.id:
            key = f"{s.transaction(tx_id)}:meter"  # type: ignore[arg-type]
            pipe.rpush(key, *(json.dumps(x) for x in samples))
            pipe.ltrim(key, -MAX_SAMPLES, -1)
        if samples:
            pipe.sadd(f"{s.cp(self.id)}:connectors", connector_id)
            latest = {str(x["measurand"]): json.dumps(x) for x in samples}
            pipe.hset(f"{s.connector(self.id, connector_id)}:meter", mapping=latest)
        s.touch(pipe, self.id, now)
        await pipe.execute()
        return call_result.MeterValues()

    @on(Action.stop_transaction)  # type: ignore[misc]
    async def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs: Any
    ) -> Any:
        now = now_iso()
        s = self.state
        owner, connector, meter_start = await s.r.hmget(
            s.transaction(transaction_id), ["clientId", "connectorId", "meterStart"]
        )
        pipe = s.r.pipeline(transaction=True)
        if owner == self.id:
            energy = meter_stop - int(meter_start) if meter_start is not None else None
            pipe.hset(
                s.transaction(transaction_id),
                mapping=strings(
                    {
                        "meterStop": meter_stop,
                        "stopTime": timestamp,
                        "stopReason": kwargs.get("reason") or "Local",
                        "stopIdTag": kwargs.get("id_tag"),
                        "stoppedAt": now,
                        "status": "completed",
                        "energyWh": energy,
                    }
                ),
            )
            pipe.zrem(f"{s.p}business:transactions:active", str(transaction_id))
            pipe.hdel(s.connector(self.id, int(connector or 0)), "transactionId")
        else:
            pipe.rpush(
                f"{s.p}business:orphan-stops",
                json.dumps({"clientId": self.id, "transactionId": transaction_id}),
            )
        s.touch(pipe, self.id, now)
        await pipe.execute()
        if kwargs.get("id_tag") is None:
            return call_result.StopTransaction()
        return call_result.StopTransaction(id_tag_info=await s.id_tag_info(kwargs["id_tag"]))


async def on_connect(websocket: Any, state: State) -> None:
    """As the ocpp package's central_system example: check the subprotocol, make a
    ChargePoint for the path's id, run it until the charger leaves."""
    try:
        requested = websocket.request.headers["Sec-WebSocket-Protocol"]
    except KeyError:
        log.error("Client hasn't requested any Subprotocol. Closing Connection")
        return await websocket.close()
    if not websocket.subprotocol:
        log.warning(
            "Protocols Mismatched | Expected Subprotocols: %s, but client supports %s", "ocpp1.6", requested
        )
        return await websocket.close()
    charge_point_id = websocket.request.path.strip("/")
    charger = ChargePoint(charge_point_id, websocket)
    charger.state = state
    conn = uuid.uuid4().hex
    await state.register(
        charge_point_id,
        {
            "gateway": "baseline",
            "conn": conn,
            "connectedAt": now_iso(),
            "remote": str(websocket.remote_address[0]),
        },
    )
    try:
        await charger.start()
    except websockets.exceptions.ConnectionClosed:
        pass
    finally:
        with contextlib.suppress(aioredis.RedisError):
            await state.unregister(charge_point_id, conn)


async def serve(port: int, redis_addr: str, prefix: str) -> None:
    host, _, rport = redis_addr.rpartition(":")
    # a blocking pool, as the project's gateway has: at most 64 connections, callers wait for one
    pool = aioredis.BlockingConnectionPool(
        host=host or "127.0.0.1", port=int(rport), decode_responses=True, max_connections=64, timeout=None
    )
    client = aioredis.Redis(connection_pool=pool)
    accept_unknown = os.environ.get("OCPP_ACCEPT_UNKNOWN_IDTAGS", "") in ("1", "true", "yes", "on")
    state = State(client, prefix, accept_unknown)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    refresher = asyncio.create_task(state.refresh())
    async with websockets.serve(
        lambda ws: on_connect(ws, state),
        "127.0.0.1",
        port,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
    ):
        log.info("Server Started listening to new connections...")
        await stop.wait()
    refresher.cancel()
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--redis", default="127.0.0.1:6379", help="host:port")
    parser.add_argument("--prefix", default="baseline:")
    parser.add_argument("--log-level", default="INFO", help="the ocpp docs' example logs at INFO")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level)
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    asyncio.run(serve(args.port, args.redis, args.prefix))


if __name__ == "__main__":
    main()
