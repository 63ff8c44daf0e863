"""``Idempotency-Key``: a retried request that changes something runs once.

Every POST, PUT, PATCH and DELETE under /api/v1 takes the header (`register` hooks
the app, `OpenApiPlugin` documents it on those operations): a rule, not a list of
routes, so a new route has it without anyone remembering. docs/API.md has the contract;
in short:

* The key: 1 to 255 printable ASCII characters (else 400), scoped by the caller (the
  SHA-256 of its Authorization header; one scope for requests without one), so two
  tenants never see each other's answers.
* The first request with a key runs; its answer is kept for OCPP_IDEMPOTENCY_HOURS if
  it is `storable` (2xx and 4xx but 408/409/429, at most `MAX_STORED_BODY` bytes), else
  the key is released and a retry runs the request again (5xx, 408: the charger was
  offline, slow or failed, which a retry may not be).
* The same key with the same request (method, path, query string and body bytes) gets
  the kept answer, status and body byte for byte, with ``Idempotent-Replayed: true``
  and no second call to a charger; with another request, 422.
* While the first request runs, the same request with its key gets 409 with
  Retry-After, at once: a thread never idles waiting on another request (gunicorn's
  threads bound how many calls can be open), and nothing is lost: the retry after
  Retry-After gets the first answer.
* Routes whose answer holds a secret shown once (an AuthorizationKey) are `exempt`: the
  answer is never stored, so the header is refused there (400) rather than ignored.

Auth runs first (`api.auth`, registered before this): a 401 never touches a key.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

import flask_smorest  # type: ignore[import-untyped]  # the package ships no type information
from apispec import APISpec, BasePlugin
from flask import Flask, Response, current_app, g, request

from api.context import store
from api.errors import ApiError, envelope
from ocpp_worker.state import idempotency

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
_KEY = re.compile(r"[\x20-\x7e]{1,255}")
#: Answers bigger than this are not kept (the key is released): none of ours comes close.
MAX_STORED_BODY = 256 * 1024
METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFIX = "/api/v1/"
#: Answers that say "try again": not kept, or a retry would only get them again.
_NOT_STORED = frozenset({408, 409, 429})
#: Response headers replayed with a kept answer (the rest are per response).
_KEPT_HEADERS = ("Content-Type", "Location", "Allow")
_EXEMPT = "x-idempotency-exempt"

View = TypeVar("View", bound=Callable[..., Any])


def exempt(view: View) -> View:
    """Mark a route whose answer must never be stored (it holds a secret shown once).

    Put it right under ``@bp.post(...)`` (or put, patch, delete): the header is then
    refused there, and the OpenAPI document does not offer it.
    """
    marked: Any = flask_smorest.Blueprint.doc(**{_EXEMPT: True})(view)
    marked.idempotency_exempt = True
    result: View = marked
    return result


def lease_ms(call_timeout: float) -> int:
    """How long a running request holds its key: the longest view makes two calls in a
    row (local-list sync: GetLocalListVersion, SendLocalList), plus a margin."""
    return math.ceil((2 * call_timeout + 10) * 1000)


def key_problem(key: str) -> str | None:
    """Why `key` is not an Idempotency-Key, or None."""
    if len(key) > MAX_KEY_LENGTH:
        return f"at most {MAX_KEY_LENGTH} characters, not {len(key)}"
    if not _KEY.fullmatch(key):
        return "1 to 255 printable ASCII characters (0x20-0x7E)"
    return None


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no two splits collide
        digest.update(part)
    return digest.hexdigest()


def record_digest(authorization: str | None, key: str) -> str:
    """The caller's key as one opaque name: the same key of two callers are two names."""
    scope = b"" if authorization is None else authorization.strip().encode("latin-1")
    return _sha256(b"scope", _sha256(scope).encode(), key.encode("ascii"))


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """What makes two requests the same request."""
    return _sha256(method.encode(), path.encode("utf-8", "surrogateescape"), query, body)


def storable(response: Response) -> bool:
    """Whether an answer is kept for its key (else the key is released)."""
    status = response.status_code
    if not 200 <= status < 500 or status in _NOT_STORED:
        return False
    if response.is_streamed or response.direct_passthrough:
        return False
    content_length = response.content_length
    return content_length is not None and content_length <= MAX_STORED_BODY


def _answer_of(response: Response) -> idempotency.Answer | None:
    try:
        body = response.get_data().decode("utf-8")
    except UnicodeDecodeError:
        return None
    headers = [(name, value) for name in _KEPT_HEADERS for value in response.headers.getlist(name)]
    return idempotency.Answer(response.status_code, headers, body)


def _replay(answer: idempotency.Answer) -> Response:
    response = Response(answer.body.encode("utf-8"), status=answer.status)
    response.headers.remove("Content-Type")
    for name, value in answer.headers:
        response.headers.add(name, value)
    response.headers[REPLAYED] = "true"
    return response


def _in_scope() -> bool:
    return request.method in METHODS and request.path.startswith(PREFIX)


def _is_exempt() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "idempotency_exempt", False) is True


def _before() -> Response | None:
    key = request.headers.get(HEADER)
    if key is None or not _in_scope() or request.routing_exception is not None:
        return None  # no key, or no route: nothing to protect
    problem = key_problem(key)
    if problem is not None:
        raise ApiError(400, f"invalid {HEADER} header", {HEADER: [problem]})
    if _is_exempt():
        message = f"this operation does not take {HEADER}: its answer holds a secret that is never stored"
        raise ApiError(400, message, {HEADER: ["Not allowed on this operation."]})
    body = request.get_data(cache=True)  # cached for the view; too large: 413, key untouched
    mark = fingerprint(request.method, request.path, request.query_string, body)
    s = store()
    digest = record_digest(request.headers.get("Authorization"), key)
    outcome = idempotency.claim(s, digest, mark, lease_ms(s.settings.call_timeout))
    if isinstance(outcome, idempotency.Claimed):
        g.idempotency = (outcome, mark)
        return None
    if isinstance(outcome, idempotency.Replay):
        return _replay(outcome.answer)
    if isinstance(outcome, idempotency.InFlight):
        wait_ms = min(outcome.lease_left_ms, s.settings.call_timeout * 1000)
        response = envelope(None, f"a request with this {HEADER} is still running: retry later", 409)
        response.headers["Retry-After"] = str(max(1, math.ceil(wait_ms / 1000)))
        return response
    hours = f"{s.settings.idempotency_hours:g}"
    message = (
        f"this {HEADER} was used for a different request (method, path, query or body) "
        f"in the last {hours} h: send a new key"
    )
    return envelope(None, message, 422)


def _after(response: Response) -> Response:
    held: tuple[idempotency.Claimed, str] | None = g.pop("idempotency", None)
    if held is None:
        return response
    claim, mark = held
    s = store()
    answer = _answer_of(response) if storable(response) else None
    if answer is None:
        idempotency.release(s, claim)
    else:
        ttl_s = max(1, round(s.settings.idempotency_hours * 3600))
        idempotency.complete(s, claim, mark, answer, ttl_s)
    return response


def _teardown(exc: BaseException | None) -> None:
    """A request that ended without `_after` (an error past it) frees its key."""
    held: tuple[idempotency.Claimed, str] | None = g.pop("idempotency", None)
    if held is not None:
        idempotency.release(store(), held[0])


def register(app: Flask) -> None:
    """Hook every request of `app` (after `api.auth`, so a 401 never touches a key)."""
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)


# -- the OpenAPI document -------------------------------------------------------------

PARAMETER = "IdempotencyKey"
IN_FLIGHT = "IDEMPOTENCY_IN_FLIGHT"
MISMATCH = "IDEMPOTENCY_MISMATCH"


class OpenApiPlugin(BasePlugin):
    """Documents the header, and its 400, 409 and 422, on every operation it applies to."""

    def __init__(self, error_schema: Any) -> None:
        self.error_schema = error_schema

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        parameter = {
            "name": HEADER,
            "description": "Makes a retry of this request safe: the same key with the same request "
            "within OCPP_IDEMPOTENCY_HOURS (24 h) answers the first answer again, without a second "
            "call to the charger (docs/API.md, Idempotency keys). Scoped by the Authorization header.",
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[ -~]+$"},
        }
        spec.components.parameter(PARAMETER, "header", parameter, lazy=True)
        content = {"application/json": {"schema": self.error_schema}}
        retry_after = {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}
        conflict = {
            "description": "A request with this Idempotency-Key is still running",
            "headers": {"Retry-After": retry_after},
            "content": content,
        }
        spec.components.response(IN_FLIGHT, conflict, lazy=True)
        mismatch = {
            "description": "This Idempotency-Key was used for a different request",
            "content": content,
        }
        spec.components.response(MISMATCH, mismatch, lazy=True)

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            if operation.pop(_EXEMPT, False) or method.upper() not in METHODS:
                continue
            if not (path or "").startswith(PREFIX):
                continue
            operation.setdefault("parameters", []).append(PARAMETER)
            responses = operation.setdefault("responses", {})
            if not {400, "400"} & set(responses):
                responses[400] = "BAD_REQUEST"
            responses[409] = IN_FLIGHT
            responses[422] = MISMATCH
