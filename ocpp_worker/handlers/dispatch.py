"""From one charger CALL to its reply frame: validate, run the handler, validate the
reply, and remember it so a redelivered task sends the same reply again."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any

import redis
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case

from ocpp_worker import timeutil
from ocpp_worker.handlers.registry import HANDLERS, REQUEST_CLASSES, CallContext
from ocpp_worker.protocol import errors, frames, validation
from ocpp_worker.state import chargepoints
from ocpp_worker.state.store import Store

log = logging.getLogger(__name__)

REPLY_MEMORY_SECONDS = 3600


def build_request(action: str, payload: dict[str, Any]) -> Any:
    """The `ocpp` package's dataclass for a (schema-valid) payload. Optional fields the
    payload leaves out are None, even where the dataclass forgot a default."""
    cls = REQUEST_CLASSES[action]
    values = camel_to_snake_case(payload)
    for f in dataclasses.fields(cls):
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default and f.name not in values:
            values[f.name] = None
    return cls(**values)


def response_payload(response: Any) -> dict[str, Any]:
    payload: dict[str, Any] = remove_nones(snake_to_camel_case(serialize_as_dict(response)))
    return payload


def answer(
    store: Store, cp_id: str, unique_id: str, action: str, payload: Any, now: datetime | None = None
) -> str:
    """The reply frame (CALLRESULT or CALLERROR) for one CALL from `cp_id`.

    Redis connection errors propagate, so the task is retried instead of telling the
    charger about our outage; every other failure becomes a CALLERROR.
    """
    now = now or timeutil.utc_now()
    cache_key = store.keys.reply_cache(cp_id, unique_id)
    pipe = store.redis.pipeline(transaction=False)
    pipe.get(cache_key)
    chargepoints.touch(pipe, store.keys, cp_id, timeutil.iso(now))
    cached = pipe.execute()[0]
    if cached is not None:
        return str(cached)
    try:
        handler = HANDLERS.get(action)
        if handler is None:
            raise errors.NotImplementedActionError(f"{action} is not handled")
        validation.validate("request", action, payload)
        ctx = CallContext(store, cp_id, unique_id, payload, now)
        result = response_payload(handler(ctx, build_request(action, payload)))
        try:
            validation.validate("response", action, result)
        except errors.OcppError as exc:
            log.error("%s reply for %s breaks the schema: %s", action, cp_id, exc.description)
            raise errors.InternalError("the central system built an invalid reply") from exc
        reply = frames.call_result(unique_id, result)
    except errors.OcppError as exc:
        reply = frames.call_error(unique_id, exc.code, exc.description, exc.details)
    except (redis.ConnectionError, redis.TimeoutError):
        raise
    except Exception:
        log.exception("%s from %s (message %s) failed", action, cp_id, unique_id)
        reply = frames.call_error(unique_id, "InternalError", f"handling {action} failed")
    store.redis.set(cache_key, reply, ex=REPLY_MEMORY_SECONDS)
    return reply
