"""The Celery application shared by workers (which run the tasks), bridges (which send
them) and the API (which waits on AsyncResults)."""

from celery import Celery

app = Celery("ocpp_worker")
app.config_from_object("celeryconfig")
