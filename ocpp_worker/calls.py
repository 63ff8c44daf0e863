"""CSMS-initiated calls: send one CALL to a charger and wait for its answer.

The CALL goes to the outbox of the gateway holding the charger; the answer comes
back through the bridge, which resolves the Celery AsyncResult whose id is the OCPP
message id. So any API process can wait for any charger, wherever its socket is.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult

from ocpp_worker import metrics, transport
from ocpp_worker.protocol import errors, frames, validation
from ocpp_worker.protocol.actions import CSMS_INITIATED
from ocpp_worker.state import (
    chargepoints,
    charging_profiles,
    configuration,
    key_hashes,
    local_lists,
    registrations,
)
from ocpp_worker.state.store import Store

log = logging.getLogger(__name__)


class CallFailed(Exception):
    """A CSMS-initiated call did not produce an answer payload."""


class UnknownAction(CallFailed):
    """The action is not one a central system sends in OCPP 1.6."""


class InvalidPayload(CallFailed):
    """The payload breaks the action's 1.6 request schema; nothing was sent."""

    def __init__(self, error: errors.OcppError) -> None:
        super().__init__(error.description)
        self.error = error


class UnknownChargePoint(CallFailed):
    """No charger with this id has ever connected."""


class ChargePointOffline(CallFailed):
    """The charger is known but not connected (or went away while we waited)."""


class CallTimeout(CallFailed):
    """The charger did not answer in time."""


class CallRejected(CallFailed):
    """The charger answered with a CALLERROR, or with a payload that breaks the schema."""

    def __init__(self, error_code: str, description: str, details: Any = None) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.details = details if details is not None else {}


# Keep stored state in step with what the charger accepted (answers that need no request,
# GetConfiguration's, are kept by the bridge for every caller: `ocpp_worker.answers`).
AfterResult = Callable[[Store, str, dict[str, Any], dict[str, Any]], None]


def _after_change_configuration(
    store: Store, cp_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    if answer.get("status") in {"Accepted", "RebootRequired"}:
        configuration.record_accepted(store, cp_id, request["key"], request["value"])  # never a secret


def _after_get_local_list_version(
    store: Store, cp_id: str, request: dict[str, Any], answer: dict[str, Any]
) -> None:
    local_lists.record_reported_version(store, cp_id, answer["listVersion"])


AFTER_RESULT: dict[str, AfterResult] = {
    "ChangeConfiguration": _after_change_configuration,
    "SendLocalList": local_lists.record_answer,
    "GetLocalListVersion": _after_get_local_list_version,
    "SetChargingProfile": charging_profiles.record_set,
    "ClearChargingProfile": charging_profiles.record_clear,
    "RemoteStartTransaction": charging_profiles.record_remote_start,
}


def check_request(action: str, payload: dict[str, Any]) -> None:
    """Refuse, before anything is sent, a call no 1.6 charger could accept, or an
    AuthorizationKey we could not keep (`key_hashes.check_key`)."""
    if action not in CSMS_INITIATED:
        raise UnknownAction(f"{action} is not a central-system action in OCPP 1.6")
    try:
        validation.validate("request", action, payload)
    except errors.OcppError as exc:
        raise InvalidPayload(exc) from None
    if carries_secret(action, payload):
        try:
            key_hashes.check_key(payload["value"])
        except ValueError as exc:
            raise InvalidPayload(
                errors.PropertyConstraintViolationError(f"value: {exc}", {"field": "value"})
            ) from None


def carries_secret(action: str, payload: dict[str, Any]) -> bool:
    """Whether the call sends a key we never keep (ChangeConfiguration AuthorizationKey):
    such a call is never queued as a command either (`ocpp_worker.commands`)."""
    return action == "ChangeConfiguration" and payload.get("key") in configuration.WRITE_ONLY


def _stage_new_key(store: Store, cp_id: str, key: str) -> None:
    """Key rotation (1.6 security whitepaper): make the new AuthorizationKey valid beside
    the current one *before* the charger gets it, whatever route sends it. A charger
    that accepts may reconnect with the new key at once, sooner than its answer comes
    back to us; one that has a key we do not know would be locked out. The old key
    stays valid until the charger connects with the new one (`registrations.verify_key`)."""
    with contextlib.suppress(LookupError):  # not registered: no key of ours to rotate
        registrations.stage_rotation(store, store.keys, cp_id, key)


def _withdraw_new_key(store: Store, cp_id: str, key: str) -> None:
    """The charger refused the new key: only its current key stays valid."""
    with contextlib.suppress(LookupError):
        registrations.withdraw_rotation(store, store.keys, cp_id, key)


def outgoing(cp_id: str, action: str, payload: dict[str, Any], timeout: float) -> transport.CsmsCall:
    """Our CALL as the gateway op that sends it: checked (`check_request`), under a new
    message id, given up `timeout` seconds from now. `call` sends it and waits; a
    handler queues it after its reply (`CallContext.call_after_reply`), unawaited."""
    check_request(action, payload)
    unique_id = str(uuid.uuid4())
    frame = frames.call(unique_id, action, payload)
    return transport.CsmsCall(cp_id, unique_id, action, frame, deadline=time.time() + timeout)


def gateway_of(store: Store, cp_id: str) -> str:
    """The gateway holding the charger's socket, or the reason there is none."""
    registration = chargepoints.registration(store, cp_id)
    if registration is not None:
        return registration["gateway"]
    if chargepoints.get(store, cp_id) is None:
        raise UnknownChargePoint(f"charge point {cp_id} has never connected")
    raise ChargePointOffline(f"charge point {cp_id} is not connected")


def answer_of(action: str, cp_id: str, outcome: transport.CallOutcome) -> dict[str, Any]:
    """The charger's answer payload, or the `CallFailed` that stands for the outcome."""
    kind = outcome["kind"]
    if kind == "result":
        answer: dict[str, Any] = outcome["payload"]
        return answer
    if kind == "abandoned":
        raise ChargePointOffline(f"charge point {cp_id} disconnected before answering {action}")
    if kind == "invalid":
        raise CallRejected(
            outcome.get("errorCode", "FormationViolation"),
            f"the answer breaks the {action} response schema: {outcome.get('errorDescription', '')}",
            {"payload": outcome.get("payload")},
        )
    raise CallRejected(
        outcome.get("errorCode", "GenericError"),
        outcome.get("errorDescription", ""),
        outcome.get("errorDetails"),
    )


#: How each failure is named in the log line and the metric of a call (the API answers
#: them 404, 400, 404, 503, 408, 502: api.errors).
OUTCOMES: dict[type[CallFailed], str] = {
    UnknownAction: "unknown_action",
    InvalidPayload: "invalid",
    UnknownChargePoint: "unknown_charger",
    ChargePointOffline: "offline",
    CallTimeout: "timeout",
    CallRejected: "rejected",
}


def call(
    store: Store,
    app: Celery,
    cp_id: str,
    action: str,
    payload: dict[str, Any],
    timeout: float | None = None,
) -> dict[str, Any]:
    """Send `action` to `cp_id` and return the charger's CALLRESULT payload.

    Raises a `CallFailed` subclass for every other outcome. Each call is one log line
    and one observation of ``ocpp_api_charger_call_duration_seconds`` (by outcome).
    """
    timeout = store.settings.call_timeout if timeout is None else timeout
    started = time.perf_counter()
    outcome, unique_id = "error", ""
    try:
        op = outgoing(cp_id, action, payload, timeout)
        unique_id = op.id
        answer = _send_and_wait(store, app, op, payload, timeout)
        outcome = "result"
        return answer
    except CallFailed as exc:
        outcome = OUTCOMES.get(type(exc), "failed")
        raise
    finally:
        seconds = time.perf_counter() - started
        metrics.api().charger_call(action, outcome, seconds)
        fields = {"charger_id": cp_id, "message_id": unique_id, "action": action, "outcome": outcome}
        latency_ms = round(seconds * 1000, 1)
        log.info(
            "%s %s: %s in %g ms",
            cp_id,
            action,
            outcome,
            latency_ms,
            extra={**fields, "latency_ms": latency_ms},
        )


def _send_and_wait(
    store: Store, app: Celery, op: transport.CsmsCall, payload: dict[str, Any], timeout: float
) -> dict[str, Any]:
    cp_id, action = op.cp, op.action
    gateway = gateway_of(store, cp_id)
    result: AsyncResult = AsyncResult(op.id, app=app)  # type: ignore[type-arg]
    backend: Any = app.backend  # the Redis backend; its async-consumer API is untyped
    backend.add_pending_result(result)  # subscribe before the answer can exist
    if carries_secret(action, payload):
        _stage_new_key(store, cp_id, payload["value"])
    entry_id = None
    try:
        entry_id = transport.to_gateway(store.redis, store.keys, gateway, op)
        try:
            outcome: transport.CallOutcome = result.get(timeout=timeout, interval=0.05)
        except CeleryTimeoutError:
            raise CallTimeout(f"charge point {cp_id} did not answer {action} within {timeout:g} s") from None
    finally:
        backend.remove_pending_result(result)
        result.forget()
        if entry_id is not None and carries_secret(action, payload):
            # the outbox keeps sent entries until trimmed: a new key must not linger there
            pipe = store.redis.pipeline(transaction=False)
            pipe.xdel(store.keys.gateway_outbox(gateway), entry_id)
            pipe.execute()
    try:
        answer = answer_of(action, cp_id, outcome)
    except CallFailed:
        if carries_secret(action, payload):
            _withdraw_new_key(store, cp_id, payload["value"])
        raise
    if carries_secret(action, payload) and answer.get("status") not in ("Accepted", "RebootRequired"):
        _withdraw_new_key(store, cp_id, payload["value"])
    after = AFTER_RESULT.get(action)
    if after is not None:
        after(store, cp_id, payload, answer)
    return answer
