"""gunicorn settings for the API (``gunicorn -c api/gunicorn_conf.py api.wsgi:app``).

A request that waits for a charger holds its thread for up to OCPP_CALL_TIMEOUT
(10 s) while doing nothing but wait on Redis, so the API runs threads, not processes:
gthread workers * threads is how many such calls can be open at once (default
2 * 64 = 128, so 50 simultaneous calls to 50 chargers take one round trip).
"""

import os

from ocpp_worker import logs, metrics_export
from ocpp_worker.config import get_settings

bind = f"0.0.0.0:{os.environ.get('HTTP_PORT', '8081')}"
worker_class = "gthread"
workers = int(os.environ.get("API_WORKERS", "2"))
threads = int(os.environ.get("API_THREADS", "64"))
# Longer than the longest call (10 s) so a waiting request is never killed as a hung worker.
timeout = int(os.environ.get("API_WORKER_TIMEOUT", "30"))
# On SIGTERM, finish the calls in flight (≤ 10 s), then exit.
graceful_timeout = int(os.environ.get("API_GRACEFUL_TIMEOUT", "10"))
keepalive = 5
accesslog = "-"
errorlog = "-"
# The default format has no headers, so the Authorization header (the token) is never logged.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
# gunicorn's logs and the app's in the deployment's format (LOG_FORMAT), level
# (LOG_LEVEL) and behind the secrets filter (ocpp_worker/logs.py)
logconfig_dict = logs.dict_config("api")
loglevel = get_settings().log_level.lower()

# Prometheus multiprocess mode: every worker process writes its metrics to files in a
# directory made fresh for this start, before any worker exists; GET /metrics sums
# them (api/observability.py). Made here, not in on_starting, so a preloaded app sees it
# too; a reload (SIGHUP) keeps it.
metrics_export.fresh_multiprocess_dir("api")


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker process is gone: its live gauges with it (its counts stay summed)."""
    metrics_export.process_dead(worker.pid)


def on_exit(server):  # type: ignore[no-untyped-def]
    metrics_export.remove_multiprocess_dir()


# gunicorn ≥ 25 opens a control socket at one fixed per-user path, which every other
# gunicorn of that user (another deployment, a test run) would fight over: off unless
# API_CONTROL_SOCKET names a path.
control_socket = os.environ.get("API_CONTROL_SOCKET") or None
control_socket_disable = control_socket is None
