"""The Celery application shared by workers (which run the tasks), bridges (which send
them) and the API (which waits on AsyncResults)."""

import logging
import os
import sys
from typing import Any

from celery import Celery
from celery.signals import (
    setup_logging,
    worker_init,
    worker_process_shutdown,
    worker_shutdown,
)

from ocpp_worker import certificates, logs, metrics_export, redis_broker
from ocpp_worker.config import get_settings

# before any broker connection exists: redis:// means our patched kombu transport
redis_broker.install()

app = Celery("ocpp_worker")
app.config_from_object("celeryconfig")


def _celery_role() -> str:
    """The `celery` program this process runs (worker, beat, ...), for its log lines."""
    return next((arg for arg in sys.argv[1:] if arg in {"worker", "beat", "flower"}), "celery")


@setup_logging.connect
def _logging(**_: Any) -> None:
    """Our format, level (LOG_LEVEL, not --loglevel) and secrets filter instead of
    Celery's (`ocpp_worker.logs`).

    Celery logs two INFO lines per task ("received", "succeeded"): at thousands of
    CALLs a second that is a large share of a worker's CPU, and Flower shows the same.
    They come back with LOG_LEVEL=DEBUG."""
    logs.setup_logging(_celery_role())
    if get_settings().log_level != "DEBUG":
        for name in ("celery.app.trace", "celery.worker.strategy"):
            logging.getLogger(name).setLevel(logging.WARNING)


@worker_init.connect
def _serve_metrics(**_: Any) -> None:
    """With OCPP_METRICS_PORT, the worker's main process serves the metrics of its whole
    pool (`metrics_export.serve_worker`), set up before the pool forks."""
    try:
        metrics_export.serve_worker(get_settings())
    except metrics_export.MetricsPortError as exc:
        logging.getLogger(__name__).critical("%s", exc)
        raise SystemExit(2) from None


@worker_process_shutdown.connect
def _pool_process_gone(**_: Any) -> None:
    metrics_export.process_dead(os.getpid())


@worker_shutdown.connect
def _remove_metrics_files(**_: Any) -> None:
    metrics_export.remove_multiprocess_dir()


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
