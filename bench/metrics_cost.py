"""What the metrics cost on the hot paths, per frame and per CALL (docs/BENCHMARKS.md).

    python -m bench.metrics_cost

Micro-benchmarks of the exact calls the processes make: the gateway's per-frame
observer (`gateway.observe.FrameObserver`: the frame's head, one counter) for a frame
in, a frame out and an outbox delivery; the worker's per-CALL histogram observation,
in memory and in multiprocess mode (files, as the prefork pool runs it, measured in a
child process with PROMETHEUS_MULTIPROC_DIR set); and the API's per-request one. Each
is the best of several repeats, in µs of CPU on this machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable

CALL = (
    '[2,"3f2a9c1e-1b2c-4d5e-8f9a-0b1c2d3e4f5a","MeterValues",{"connectorId":1,"transactionId":1000,'
    '"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"1234"}]}]}]'
)
RESULT = '[3,"3f2a9c1e-1b2c-4d5e-8f9a-0b1c2d3e4f5a",{}]'
NUMBER = 100_000


def best_us(fn: Callable[[], object], number: int = NUMBER, repeat: int = 7) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def gateway() -> dict[str, float]:
    import time

    from ocpp_worker.gateway.observe import FrameObserver

    frames = FrameObserver()
    entry_id = f"{int(time.time() * 1000)}-0"
    return {
        "gateway: frame in (CALL)": best_us(lambda: frames.received("CP1", CALL, "")),
        "gateway: frame out (CALLRESULT)": best_us(lambda: frames.sent("CP1", RESULT, "MeterValues")),
        "gateway: outbox entry delivered": best_us(lambda: frames.delivered(entry_id)),
    }


def worker_and_api() -> dict[str, float]:
    from ocpp_worker import metrics

    mode = "multiprocess" if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else "in memory"
    worker, api = metrics.worker(), metrics.api()
    return {
        f"worker: handler latency observed ({mode})": best_us(lambda: worker.handled("MeterValues", 0.0012)),
        f"api: request observed ({mode})": best_us(lambda: api.request("GET", "/health", 200, 0.003)),
    }


def main() -> None:
    if sys.argv[1:] == ["--child"]:
        for name, us in worker_and_api().items():
            print(f"{name}\t{us:.2f}")
        return
    results = {**gateway(), **worker_and_api()}
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
        child = subprocess.run(
            [sys.executable, "-m", "bench.metrics_cost", "--child"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    for line in child.stdout.splitlines():
        name, us = line.split("\t")
        results[name] = float(us)
    width = max(len(name) for name in results)
    for name, us in results.items():
        print(f"{name:<{width}}  {us:6.2f} µs")


if __name__ == "__main__":
    main()
