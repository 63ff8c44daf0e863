"""Celery settings for every OCPP worker, bridge and API process.

Broker and result backend are the Redis of REDIS_ADDR / REDIS_PASSWORD / REDIS_DB;
Celery's own keys live under ``<OCPP_KEY_PREFIX>celery:`` like everything else ours.
"""

import os

from ocpp_worker.config import get_settings
from ocpp_worker.state.keys import Keys

_settings = get_settings()
_celery_prefix = Keys(_settings.key_prefix).celery

broker_url = _settings.redis_url
result_backend = _settings.redis_url
broker_connection_retry_on_startup = True

# A message a worker took but never acknowledged (the worker was killed) goes back
# to the queue after visibility_timeout; the restore scan runs every 2 s.
_visibility_timeout = int(os.environ.get("OCPP_TASK_VISIBILITY_TIMEOUT", "30"))
broker_transport_options = {
    "global_keyprefix": _celery_prefix,
    "visibility_timeout": _visibility_timeout,
    "unacked_restore_interval": 2,
    "unacked_restore_throttle": 1,
}
result_backend_transport_options = {"global_keyprefix": _celery_prefix}
result_expires = 3600

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]

# Acknowledge after the handler ran, and give the message back if the worker process
# dies under it: a killed worker loses nothing. Handlers are idempotent per
# (charger, message id), so a redelivery repeats the reply, not the effect.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = int(os.environ.get("OCPP_WORKER_PREFETCH", "4"))

# Events for Flower.
worker_send_task_events = True
task_send_sent_event = True

task_default_queue = "ocpp"
# MeterValues are the bulk of the traffic in a busy network: give them their own
# queue so they can get their own worker pool (`celery worker -Q ocpp.metering`).
task_routes = {
    "ocpp.v16.MeterValues": {"queue": "ocpp.metering"},
}

imports = ["ocpp_worker.tasks"] + [
    name.strip() for name in os.environ.get("OCPP_EXTRA_IMPORTS", "").split(",") if name.strip()
]
