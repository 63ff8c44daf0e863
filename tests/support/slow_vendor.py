"""A DataTransfer vendor handler that takes its time, so a test can kill the worker
running it. Loaded into test workers with OCPP_EXTRA_IMPORTS=tests.support.slow_vendor."""

from __future__ import annotations

import os
import time

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
