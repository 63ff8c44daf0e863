"""The Celery application shared by workers (which run the tasks), bridges (which send
them) and the API (which waits on AsyncResults)."""

from celery import Celery

from ocpp_worker import redis_broker

# before any broker connection exists: redis:// means our patched kombu transport
redis_broker.install()

app = Celery("ocpp_worker")
app.config_from_object("celeryconfig")
