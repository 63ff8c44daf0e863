"""The one place that owns the response envelope and every error.

Every response, success or failure, is ``{"success": bool, "message": str, "data": ...}``.
Views raise `ApiError` (or let an `ocpp_worker.calls.CallFailed` escape); the handlers
registered here (and `http_error`, which `api.smorest.Api` installs for Flask's own
404/405/413) turn those and any unexpected exception into the envelope, so a client
never sees an HTML error page.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ocpp_worker import calls

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What each error status means here: the OpenAPI document's descriptions.
REASONS = {
    400: "Invalid request (data holds the field errors)",
    401: "Missing or wrong bearer token",
    404: "Unknown charge point, connector, transaction, idTag or action",
    408: "The charge point did not answer within OCPP_CALL_TIMEOUT (10 s)",
    409: "Conflict with the resource's state (e.g. a command that is no longer queued)",
    413: "The body is larger than API_MAX_BODY_BYTES (1 MiB)",
    415: "The body is not sent as application/json",
    429: "The charge point already has OCPP_COMMAND_MAX_QUEUED (100) queued commands",
    502: "The charge point answered with a CALLERROR: data = {errorCode, errorDescription, errorDetails}",
    503: "The charge point is known but not connected",
}


class ApiError(Exception):
    """An answer other than success, with its HTTP status."""

    def __init__(self, status: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = data


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def found(item: T | None, what: str) -> T:
    """`item`, or a 404 saying that `what` ("charge point CP1") is unknown."""
    if item is None:
        raise not_found(f"{what} is unknown")
    return item


def invalid(message: str, errors: Any) -> ApiError:
    """400 with the field errors as data (marshmallow's `messages` shape)."""
    return ApiError(400, message, errors)


def unsupported_media_type() -> ApiError:
    return ApiError(415, "the request body must be JSON: send Content-Type: application/json")


def envelope(data: Any = None, message: str = "OK", status: int = 200) -> Response:
    response = jsonify({"success": 200 <= status < 300, "message": message, "data": data})
    response.status_code = status
    return response


#: What a call to a charger may answer besides its payload (see `_call_failed`).
CALL_ERRORS = (400, 404, 408, 502, 503)

_CALL_STATUS: tuple[tuple[type[calls.CallFailed], int], ...] = (
    (calls.UnknownAction, 404),
    (calls.UnknownChargePoint, 404),
    (calls.ChargePointOffline, 503),
    (calls.CallTimeout, 408),
)


def _call_failed(exc: calls.CallFailed) -> tuple[int, str, Any]:
    """The HTTP face of a CSMS call that produced no answer payload."""
    if isinstance(exc, calls.InvalidPayload):
        error = exc.error
        return 400, "invalid OCPP payload", {"errorCode": error.code, "errorDescription": error.description}
    if isinstance(exc, calls.CallRejected):
        data = {"errorCode": exc.error_code, "errorDescription": exc.description, "errorDetails": exc.details}
        return 502, "the charge point answered with an error", data
    status = next((code for kind, code in _CALL_STATUS if isinstance(exc, kind)), 500)
    return status, str(exc), None


def http_error(exc: HTTPException) -> Response:
    """Flask's own errors (unknown route, wrong method, body too large) in the envelope."""
    if isinstance(exc, RequestEntityTooLarge):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return envelope(None, f"the request body is larger than {limit} bytes", 413)
    response = envelope(None, exc.description or exc.name, exc.code or 500)
    # A 405 must still say which methods the route allows.
    allow = dict(exc.get_headers()).get("Allow")
    if allow:
        response.headers["Allow"] = allow
    return response


def register(app: Flask) -> None:
    """Install the handlers that keep every failure inside the envelope."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return envelope(exc.data, exc.message, exc.status)

    @app.errorhandler(calls.CallFailed)
    def _call_error(exc: calls.CallFailed) -> Response:
        status, message, data = _call_failed(exc)
        return envelope(data, message, status)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Tracebacks do not contain request headers, so the token cannot leak here.
        log.exception("unhandled error")
        return envelope(None, "internal server error", 500)
