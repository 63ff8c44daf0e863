"""One logging setup for every process (gateway, bridge, worker, API).

* Level from LOG_LEVEL; at DEBUG the gateway logs every frame in and out.
* Format from LOG_FORMAT: ``json`` (one JSON object per line: ``time``, ``level``,
  ``logger``, ``message``, ``role`` and the event's fields — ``charger_id``,
  ``message_id``, ``action``, ``outcome``, ``latency_ms`` — where the code passes them
  as ``extra``), or ``text`` (one readable line). Unset: JSON when stderr is not a
  terminal (a log collector reads it), text on a terminal (a person does).
* Every line passes `RedactSecrets` first (`ocpp_worker.redaction`): tokens,
  passwords, Authorization headers and AuthorizationKey values never reach a log.

`setup_logging(role)` configures the root logger of a process; gunicorn takes the
same handler through `dict_config` (its ``logconfig_dict``), Celery through its
``setup_logging`` signal (`ocpp_worker.celery_app`).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from ocpp_worker.config import Settings, get_settings
from ocpp_worker.redaction import Scrubber

TEXT_FORMAT = "%(asctime)s %(levelname)s {role} %(name)s: %(message)s"
# LogRecord's own attributes: everything else on a record is an `extra` field
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_DEBUG_OFF = {
    # websockets logs every handshake at INFO, and at DEBUG every header (the
    # charger's Authorization among them) and frame: never below WARNING
    "websockets": logging.WARNING,
}


def _scrub_value(value: Any, scrub: Scrubber) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: _scrub_value(item, scrub) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(item, scrub) for item in value]
    return value


class RedactSecrets(logging.Filter):
    """A handler filter: renders the record's message, traceback and extra fields, and
    scrubs them, so no formatter can write a secret (the last line of defence: no code
    of ours logs one on purpose)."""

    def __init__(self, secrets: tuple[str | None, ...] = ()) -> None:
        super().__init__()
        self.scrub = Scrubber(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, scrubbed
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self.scrub(message), None
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_info = None  # the formatters use exc_text, now scrubbed
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES:
                setattr(record, name, _scrub_value(value, self.scrub))
        return True


class JsonLines(JsonFormatter):
    """python-json-logger with our field names and UTC ISO 8601 times (…Z)."""

    def __init__(self, role: str) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"role": role},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def use_json(settings: Settings) -> bool:
    if settings.log_format is not None:
        return settings.log_format == "json"
    return not sys.stderr.isatty()


def formatter(role: str, settings: Settings | None = None) -> logging.Formatter:
    settings = settings or get_settings()
    return JsonLines(role) if use_json(settings) else logging.Formatter(TEXT_FORMAT.format(role=role))


def handler(role: str, settings: Settings | None = None) -> logging.Handler:
    """A stderr handler in this deployment's format, behind the secrets filter."""
    settings = settings or get_settings()
    found = logging.StreamHandler(sys.stderr)
    found.setFormatter(formatter(role, settings))
    found.addFilter(RedactSecrets((settings.api_token, settings.redis_password)))
    return found


def setup_logging(role: str) -> None:
    """Send this process's logs (the root logger's) to stderr, for its `role`."""
    settings = get_settings()
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(role, settings))
    root.setLevel(settings.log_level)
    for name, level in _DEBUG_OFF.items():
        logging.getLogger(name).setLevel(level)
    if root.level > logging.DEBUG:
        logging.getLogger("celery.beat").addFilter(_not_a_due_task)


def _not_a_due_task(record: logging.LogRecord) -> bool:
    """Beat's line for every task it sends, at INFO: the webhooks' kick alone is one a
    second (86,400 a day). Kept at LOG_LEVEL=DEBUG; each task logs what it did."""
    return not str(record.msg).startswith("Scheduler: Sending due task")


def dict_config(role: str) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its error and access logs and the app's loggers
    through the one handler of `handler`."""
    level = get_settings().log_level
    ours = {"handlers": ["ocpp"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"ocpp": {"()": handler, "role": role}},
        "root": {"level": level, "handlers": ["ocpp"]},
        "loggers": {
            "gunicorn.error": {"level": level, **ours},
            "gunicorn.access": {"level": "INFO", **ours},
            **{name: {"level": logging.getLevelName(value)} for name, value in _DEBUG_OFF.items()},
        },
    }
