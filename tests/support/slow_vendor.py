"""A DataTransfer vendor handler that takes its time, so a test can kill the worker
running it. Loaded into test workers with OCPP_EXTRA_IMPORTS=tests.support.slow_vendor."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from ocpp.v16 import call, call_result
from ocpp.v16.enums import DataTransferStatus

from ocpp_worker.handlers.data_transfer import vendor
from ocpp_worker.handlers.registry import CallContext

STARTED = "test:slow-started"  # under the store's prefix


@vendor("test.slow")
def slow(ctx: CallContext, req: call.DataTransfer) -> call_result.DataTransfer:
    """Record which worker (process group = the `celery worker` main pid) runs it,
    sleep `data` seconds, answer with that worker's pid."""
    worker = str(os.getpgrp())
    ctx.store.redis.rpush(ctx.store.keys.prefix + STARTED, f"{req.message_id}:{worker}")
    time.sleep(float(req.data or "1"))
    return call_result.DataTransfer(status=DataTransferStatus.accepted, data=worker)


def runs_of(store: Any, message_id: str) -> list[str]:
    """`message_id:worker pid` for every run of the slow DataTransfer `message_id`."""
    return [
        e for e in store.redis.lrange(store.keys.prefix + STARTED, 0, -1) if e.startswith(f"{message_id}:")
    ]


async def worker_running(store: Any, message_id: str, timeout: float = 10) -> str | None:
    """The pid of the `celery worker` that started the slow DataTransfer `message_id`
    (None if none did within `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in runs_of(store, message_id):
            return run.split(":", 1)[1]
        await asyncio.sleep(0.02)
    return None
