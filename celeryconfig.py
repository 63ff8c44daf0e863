"""Celery settings for every OCPP worker, bridge and API process.

Broker and result backend are the Redis of REDIS_ADDR / REDIS_PASSWORD / REDIS_DB;
Celery's own keys live under ``<OCPP_KEY_PREFIX>celery:`` like everything else ours.
"""

from ocpp.v16.enums import Action

from ocpp_worker import commands, maintenance, webhooks
from ocpp_worker.archive import tasks as archive_tasks
from ocpp_worker.config import get_settings
from ocpp_worker.state.keys import Keys
from ocpp_worker.transport import task_name

_settings = get_settings()
_celery_prefix = Keys(_settings.key_prefix).celery

broker_url = _settings.redis_url
result_backend = _settings.redis_url

# A worker never gives up on Redis (Celery's default gives up after 100 reconnect
# attempts, ~45 min, and exits). The transport itself is kombu's with two fixes
# (ocpp_worker/redis_broker.py), installed by ocpp_worker.celery_app.
broker_connection_retry_on_startup = True
broker_connection_retry = True
broker_connection_max_retries = None
# What Celery 5 does, said explicitly (Celery 6 changes the default): a task running
# when Redis goes away finishes; its ack fails and its message comes back after the
# visibility timeout, where its claim makes the second run send nothing.
worker_cancel_long_running_tasks_on_connection_loss = False

# A message a worker took but never acknowledged (the worker was killed, or lost Redis
# while it ran) goes back to its queue once it has been out visibility_timeout seconds;
# every worker scans for such messages every unacked_restore_interval seconds. So a
# killed worker's CALL is answered by another worker within about
# visibility_timeout + unacked_restore_interval + its run time (~11 s by default).
#
# The clock starts when a worker *takes* the message, not when it starts running it:
# a message that waits longer than visibility_timeout in a worker (prefetched behind
# slow tasks, or a retry waiting for its countdown) is handed out a second time while
# the first worker still holds it. Both runs are harmless (each (charger, message id)
# is claimed once, a redelivered frame is not answered twice), but they cost work.
# Keep worker_prefetch_multiplier x the longest task well under visibility_timeout:
# OCPP handlers take milliseconds, so 4 x a few ms against 10 s leaves a wide margin
# (measured: a backlog of 1,500 CALLs on one worker, none handed out twice; 3 s tasks,
# prefetch 4, one process: 4 of 8 handed out twice).
# Raise OCPP_TASK_VISIBILITY_TIMEOUT if you add handlers that take seconds (and lower
# OCPP_WORKER_PREFETCH to 1 for them).
broker_transport_options = {
    "global_keyprefix": _celery_prefix,
    "visibility_timeout": _settings.task_visibility_timeout,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    # the scan's lock; if a worker dies holding it, nobody scans until it expires
    # (kombu's default is 300 s). Two scanners can never restore a message twice.
    "unacked_mutex_expire": 5,
    # a Redis that vanishes without closing the socket (failover, a network cut) must
    # not hold a command forever; BRPOP is polled, so it is not bound by these
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
}
result_backend_transport_options = {"global_keyprefix": _celery_prefix}
result_expires = 3600

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]

# Acknowledge after the handler ran, and give the message back if the worker process
# dies under it: a killed worker loses nothing. Each (charger, message id) is claimed
# once, so a redelivery repeats neither the effect nor the reply.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = _settings.worker_prefetch

# A task that retries (after a Redis error) publishes its next run as a new message.
# If that publish fails, Celery rejects the running message *without requeue*: the
# CALL is lost once Redis is back to execute the reject. So keep trying a publish
# (every 0.5 s, ~30 s in all) through a Redis restart. This is every publish's policy,
# the bridge's sends included (after it the bridge retries the frame by itself).
task_publish_retry = True
task_publish_retry_policy = {
    "max_retries": 60,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}

# Events for Flower.
# Events for Flower: the workers' (received, started, succeeded, failed) show every task
# by action. No "sent" event from the bridge: it doubled the event traffic per task
# and Flower needs none of it.
worker_send_task_events = True
task_send_sent_event = False

task_default_queue = "ocpp"
# MeterValues are the bulk of the traffic in a busy network: give them their own
# queue so they can get their own worker pool (`celery worker -Q ocpp.metering`).
task_routes = {
    task_name(Action.meter_values): {"queue": "ocpp.metering"},
    # the session archive (ocpp_worker/archive): SQL, never on an OCPP worker
    "ocpp.archive.*": {"queue": archive_tasks.QUEUE},
    # queued commands' sweep (ocpp_worker/commands.py): the background worker's queue
    "ocpp.commands.*": {"queue": commands.QUEUE},
    # webhook delivery (ocpp_worker/webhooks.py): HTTP to outside, never on an OCPP worker
    "ocpp.webhooks.*": {"queue": webhooks.QUEUE},
}

imports = [
    "ocpp_worker.tasks",
    "ocpp_worker.maintenance",
    "ocpp_worker.archive.tasks",
    "ocpp_worker.commands",
    "ocpp_worker.webhooks",
    *_settings.extra_imports,
]

# Celery beat (Procfile `beat`): the liveness checks (ocpp_worker/maintenance.py). Kept
# in memory, not in a schedule file: the periods are short, and nothing needs a place
# to write. Each task runs once per period however many beats send it.
beat_schedule = {
    **maintenance.beat_schedule(_settings),
    **archive_tasks.beat_schedule(_settings),
    **commands.beat_schedule(_settings),
    **webhooks.beat_schedule(_settings),
}
beat_scheduler = "celery.beat:Scheduler"
