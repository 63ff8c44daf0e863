"""``python -m ocpp_worker.bridge``: run one bridge until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from ocpp_worker.bridge.consumer import Bridge
from ocpp_worker.celery_app import app
from ocpp_worker.logs import setup_logging
from ocpp_worker.state.store import Store


def main() -> None:
    setup_logging("bridge")
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("bridge stopping (signal %d)", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    Bridge(Store.connect(), app).run(stop)


if __name__ == "__main__":
    main()
