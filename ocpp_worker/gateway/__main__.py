"""``python -m ocpp_worker.gateway``: serve chargers until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import uvloop

from ocpp_worker import metrics_export
from ocpp_worker.config import get_settings
from ocpp_worker.gateway.server import Gateway, raise_open_file_limit
from ocpp_worker.gateway.tls import TlsConfigError
from ocpp_worker.logs import setup_logging


async def _serve() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await Gateway(get_settings()).run(stop)


def main() -> None:
    setup_logging("gateway")
    raise_open_file_limit()
    try:
        metrics_export.serve(get_settings(), "gateway")  # its own thread: the loop never waits
        # uvloop: the same asyncio API with a loop written in C (libuv); the gateway's
        # per-frame cost is mostly loop and socket overhead
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_serve())
    except TlsConfigError as exc:
        # a configuration mistake, not a crash: one line that says what to fix
        logging.getLogger("ocpp_worker.gateway").error("cannot serve wss://: %s", exc)
        sys.exit(2)
    except metrics_export.MetricsPortError as exc:
        logging.getLogger("ocpp_worker.gateway").error("%s", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
