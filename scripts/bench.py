"""Benchmark the charger pipeline: gateway → bridge → Celery workers → reply.

Starts a private stack (own key prefix and port) per configuration, connects
--chargers raw WebSocket chargers, and has each send --messages CALLs back to back
(BootNotification, then Heartbeat/StatusNotification/MeterValues in turn). Reports,
per configuration and repetition: connect time, throughput (answered CALLs per
second) and round-trip latency percentiles; then the median and spread over the
repetitions, configurations side by side.

    make bench                     # defaults: 1 vs 2 workers, 200 chargers x 20 messages, 3 runs
    .venv/bin/python scripts/bench.py --workers 1 2 --chargers 500 --messages 10 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ocpp_worker.config import Settings
from ocpp_worker.state.store import Store
from tests.support.stack import Stack

NOW = "2026-01-01T00:00:00Z"
PAYLOADS = [
    ("Heartbeat", {}),
    (
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": NOW},
    ),
    (
        "MeterValues",
        {
            "connectorId": 1,
            "meterValue": [
                {
                    "timestamp": NOW,
                    "sampledValue": [
                        {"value": "1234"},
                        {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                    ],
                }
            ],
        },
    ),
]


async def charger(url: str, cp_id: str, messages: int, latencies: list[float], errors: list[str]) -> None:
    async with websockets.connect(f"{url}/{cp_id}", subprotocols=["ocpp1.6"], open_timeout=60) as ws:
        for i in range(messages):
            if i == 0:
                action, payload = "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "B"}
            else:
                action, payload = PAYLOADS[i % len(PAYLOADS)]
            unique_id = f"{cp_id}-{i}"
            started = time.perf_counter()
            await ws.send(json.dumps([2, unique_id, action, payload]))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
            latencies.append(time.perf_counter() - started)
            if reply[0] != 3 or reply[1] != unique_id:
                errors.append(str(reply)[:200])


async def load(url: str, chargers: int, messages: int) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []
    run_id = uuid.uuid4().hex[:6]
    started = time.perf_counter()
    await asyncio.gather(
        *(charger(url, f"B{run_id}-{i}", messages, latencies, errors) for i in range(chargers))
    )
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} bad replies, e.g. {errors[0]}")
    q = statistics.quantiles(latencies, n=100)
    return {
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": q[49] * 1000,
        "p95_ms": q[94] * 1000,
        "p99_ms": q[98] * 1000,
        "elapsed_s": elapsed,
    }


def run_configuration(workers: int, args: argparse.Namespace) -> list[dict[str, float]]:
    prefix = f"ocppbench-{uuid.uuid4().hex[:8]}:"
    stack = Stack(prefix, Path(tempfile.mkdtemp(prefix="ocpp-bench-")), extra_env={"LOG_LEVEL": "WARNING"})
    store = Store.connect(dataclasses.replace(Settings.from_env(), key_prefix=prefix))
    try:
        stack.start_gateway()
        stack.start_bridge()
        for n in range(workers):
            stack.start_worker(f"w{n}", concurrency=args.concurrency, pool=args.pool)
        asyncio.run(load(stack.ws_url, 5, 3))  # warm-up
        results = []
        for _ in range(args.runs):
            results.append(asyncio.run(load(stack.ws_url, args.chargers, args.messages)))
            print(
                f"  workers={workers}: " + ", ".join(f"{k}={v:.1f}" for k, v in results[-1].items()),
                flush=True,
            )
        return results
    finally:
        stack.stop()
        for key in store.redis.scan_iter(match=f"{prefix}*", count=1000):
            store.redis.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker processes per configuration"
    )
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes/threads per worker")
    parser.add_argument("--pool", default="prefork", help="celery worker pool: prefork, threads, solo")
    parser.add_argument("--chargers", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20, help="CALLs per charger, sent back to back")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.chargers} chargers x {args.messages} CALLs, {args.runs} runs per configuration", flush=True)
    table = {w: run_configuration(w, args) for w in args.workers}
    print("\nmedian [min-max] over runs")
    print(f"{'workers':>8} {'calls/s':>22} {'p50 ms':>20} {'p95 ms':>20} {'p99 ms':>20}")
    for workers, results in table.items():
        cells = []
        for key in ("calls_per_s", "p50_ms", "p95_ms", "p99_ms"):
            values = [r[key] for r in results]
            cells.append(f"{statistics.median(values):8.1f} [{min(values):.1f}-{max(values):.1f}]")
        print(f"{workers:>8} " + " ".join(f"{c:>20}" for c in cells))


if __name__ == "__main__":
    main()
