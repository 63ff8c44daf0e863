"""A DataTransfer vendor whose every run kills the worker process running it, as a
poison message would. Loaded only into subprocess workers of their own key prefix
(OCPP_EXTRA_IMPORTS=tests.support.poison_vendor); never import it in the test process,
whose in-process Celery worker would run it and die."""

from __future__ import annotations

import os

from ocpp.v16 import call, call_result

from ocpp_worker.handlers.data_transfer import vendor
from ocpp_worker.handlers.registry import CallContext


@vendor("test.poison")
def poison(ctx: CallContext, req: call.DataTransfer) -> call_result.DataTransfer:
    os._exit(1)
