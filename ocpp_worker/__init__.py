"""OCPP 1.6J central system: gateway, bridge and Celery workers over Redis.

``celery -A ocpp_worker worker`` finds the Celery app as ``ocpp_worker.app``; it is
loaded lazily so the gateway, which never uses Celery, does not import it.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name in {"app", "celery"}:
        from ocpp_worker.celery_app import app

        return app
    raise AttributeError(name)
