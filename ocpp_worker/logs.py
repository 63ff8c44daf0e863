"""One logging setup for every process: level from LOG_LEVEL, process role in each line."""

from __future__ import annotations

import logging

from ocpp_worker.config import get_settings


def setup_logging(role: str) -> None:
    logging.basicConfig(
        level=get_settings().log_level,
        format=f"%(asctime)s %(levelname)s {role} %(name)s: %(message)s",
    )
    # websockets logs every handshake at INFO; with thousands of chargers that drowns the rest
    logging.getLogger("websockets").setLevel(logging.WARNING)
