"""``python -m ocpp_worker.bridge``: run one bridge until SIGTERM or Ctrl-C."""

from __future__ import annotations

import functools
import logging
import signal
import sys
import threading
from types import FrameType

from prometheus_client import REGISTRY

from ocpp_worker import metrics, metrics_export
from ocpp_worker.bridge.consumer import GROUP, Bridge
from ocpp_worker.celery_app import app
from ocpp_worker.logs import setup_logging
from ocpp_worker.state import inbound_backlog
from ocpp_worker.state.store import Store


def main() -> None:
    setup_logging("bridge")
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("bridge stopping (signal %d)", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    store = Store.connect()
    # the stream's backlog, read from Redis when Prometheus scrapes
    read = functools.partial(inbound_backlog.read, store.redis, store.keys, GROUP)
    REGISTRY.register(metrics.BacklogCollector(read))
    try:
        metrics_export.serve(store.settings, "bridge")
    except metrics_export.MetricsPortError as exc:
        logging.getLogger(__name__).error("%s", exc)
        sys.exit(2)
    Bridge(store, app).run(stop)


if __name__ == "__main__":
    main()
