"""The Celery application shared by workers (which run the tasks), bridges (which send
them) and the API (which waits on AsyncResults)."""

import logging
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, worker_init

from ocpp_worker import certificates, redis_broker
from ocpp_worker.config import get_settings

# before any broker connection exists: redis:// means our patched kombu transport
redis_broker.install()

app = Celery("ocpp_worker")
app.config_from_object("celeryconfig")


@after_setup_logger.connect
def _quiet_per_task_lines(**_: Any) -> None:
    """Celery logs two INFO lines per task ("received", "succeeded"): at thousands of
    CALLs a second that is a large share of a worker's CPU, and Flower shows the same.
    They come back with LOG_LEVEL=DEBUG."""
    if get_settings().log_level != "DEBUG":
        for name in ("celery.app.trace", "celery.worker.strategy"):
            logging.getLogger(name).setLevel(logging.WARNING)


@worker_init.connect
def _check_signing_ca(**_: Any) -> None:
    """A worker whose CSMS CA (OCPP_CA_CERT / OCPP_CA_KEY) cannot sign would fail every
    SignCertificate: refuse to start instead, with the reason in one line. The CA loaded
    here is the one the handlers use (loaded once per process, inherited by the pool)."""
    try:
        certificates.authority(get_settings())
    except certificates.CaConfigError as exc:
        logging.getLogger(__name__).critical("cannot sign chargers' CSRs: %s", exc)
        raise SystemExit(2) from None
