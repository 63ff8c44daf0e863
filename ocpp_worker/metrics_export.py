"""How each process serves its metrics (`ocpp_worker.metrics`) to Prometheus.

* Gateway and bridge: one process each, so prometheus-client's own HTTP server in a
  daemon thread (`serve`) on ``OCPP_METRICS_HOST:OCPP_METRICS_PORT``; the gateway's
  event loop never waits for a scrape.
* API (gunicorn) and Celery workers (prefork pool): several processes count, so
  prometheus-client's multiprocess mode. The parent (gunicorn's arbiter, the worker's
  main process) makes a fresh directory for this start before any child exists
  (`fresh_multiprocess_dir`); each child writes its values to memory-mapped files
  there; a scrape sums the files (`multiprocess_registry`). A child that exits is
  marked dead (`process_dead`: its live gauges go away; its counters stay counted),
  and the directory is removed when the parent stops (`remove_multiprocess_dir`).
  The API serves ``/metrics`` on its own port (`api.observability`); the worker's main
  process serves it on ``OCPP_METRICS_PORT`` (`serve_worker`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server, values
from prometheus_client.registry import Collector

from ocpp_worker.config import Settings

log = logging.getLogger(__name__)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# the pid of the process that made the directory: gunicorn re-reads its configuration
# on SIGHUP, and the same arbiter must keep the same directory
_OWNER = "OCPP_METRICS_DIR_OWNER"


class MetricsPortError(Exception):
    """The metrics port could not be opened (in use, or not allowed)."""


def serve(settings: Settings, role: str, registry: Collector = REGISTRY) -> bool:
    """Serve `registry` on OCPP_METRICS_PORT from a daemon thread; False when the port
    is 0 (metrics off)."""
    if not settings.metrics_port:
        return False
    try:
        start_http_server(settings.metrics_port, settings.metrics_host, registry)
    except OSError as exc:
        raise MetricsPortError(
            f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port}: {exc}"
        ) from None
    log.info("%s metrics on http://%s:%d/metrics", role, settings.metrics_host, settings.metrics_port)
    return True


def fresh_multiprocess_dir(role: str) -> str:
    """Point PROMETHEUS_MULTIPROC_DIR at a new, empty directory for this start (inside
    the one it named, if any), so no count of an earlier run is added to this one.
    Call it in the parent before any child starts and before any metric exists."""
    current = os.environ.get(MULTIPROC_DIR, "")
    if os.environ.get(_OWNER) == str(os.getpid()) and os.path.isdir(current):
        return current
    path = tempfile.mkdtemp(prefix=f"ocpp-{role}-metrics-", dir=current or None)
    os.environ[MULTIPROC_DIR] = path
    os.environ[_OWNER] = str(os.getpid())
    # prometheus-client picks its value class (in memory or in files) when it is first
    # imported, and the `celery` command has imported it by now (Flower's CLI plugin):
    # pick again, for the metrics made from now on
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return path


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR) or None


def multiprocess_registry() -> CollectorRegistry:
    """A registry that sums every process's files in PROMETHEUS_MULTIPROC_DIR."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def process_dead(pid: int) -> None:
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def remove_multiprocess_dir() -> None:
    """Remove the directory `fresh_multiprocess_dir` made, when this process made it."""
    path = multiprocess_dir()
    if path and os.environ.get(_OWNER) == str(os.getpid()):
        shutil.rmtree(path, ignore_errors=True)


def serve_worker(settings: Settings) -> bool:
    """In a Celery worker's main process, before the pool starts: multiprocess mode
    and the HTTP endpoint that sums the pool's processes. False when metrics are off."""
    if not settings.metrics_port:
        return False
    fresh_multiprocess_dir("worker")
    return serve(settings, "worker", multiprocess_registry())
