"""The OpenAPI 3 document, written from the app's own url_map and each view's `ApiDoc`
(apispec's MarshmallowPlugin turns the schemas into components), so the document
lists exactly the routes the app serves."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from api.auth import PUBLIC_ENDPOINTS
from api.endpoint import ApiDoc
from api.schemas.common import envelope

IGNORED_METHODS = {"HEAD", "OPTIONS"}
_PARAM = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "minimum": 0},
    "float": {"type": "number", "minimum": 0},
}
_REASONS = {
    200: "OK",
    201: "Created",
    400: "Invalid request (data holds the field errors)",
    401: "Missing or wrong bearer token",
    404: "Unknown charge point, connector, transaction, idTag or action",
    408: "The charge point did not answer within OCPP_CALL_TIMEOUT (10 s)",
    413: "The body is larger than API_MAX_BODY_BYTES (1 MiB)",
    415: "The body is not sent as application/json",
    502: "The charge point answered with a CALLERROR: data = {errorCode, errorDescription, errorDetails}",
    503: "The charge point is known but not connected",
}


def _schema(app: Flask, converter: str) -> dict[str, Any]:
    """A path parameter's schema: the converter's own (`schema`), or by its type."""
    own: dict[str, Any] | None = getattr(app.url_map.converters.get(converter), "schema", None)
    return own or _CONVERTER_SCHEMAS.get(converter, {"type": "string"})


def _path(app: Flask, rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = [
        {"name": m["name"], "in": "path", "required": True, "schema": _schema(app, m["converter"] or "")}
        for m in _PARAM.finditer(rule)
    ]
    return _PARAM.sub(r"{\g<name>}", rule), parameters


def _json(schema: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(endpoint: str, doc: ApiDoc | None, path_params: list[dict[str, Any]]) -> dict[str, Any]:
    if doc is None:  # a route without @endpoint: the document itself
        return {
            "operationId": endpoint,
            "summary": "This OpenAPI document (not wrapped in the envelope)",
            "tags": ["meta"],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {}}}}},
        }
    operation: dict[str, Any] = {
        "operationId": endpoint,
        "summary": doc.summary,
        "tags": [doc.tag],
        "parameters": list(path_params),
    }
    if doc.description:
        operation["description"] = doc.description
    if doc.query is not None:
        operation["parameters"].append({"in": "query", "schema": doc.query})
    if doc.body is not None:
        operation["requestBody"] = {"required": True, "content": _json(doc.body)}
    success = {"description": _REASONS.get(doc.status, "OK"), "content": _json(envelope(doc.response))}
    responses: dict[str, Any] = {str(doc.status): success}
    for status in doc.extra_statuses:
        responses[str(status)] = {**success, "description": _REASONS.get(status, str(status))}
    body_errors = (400, 413, 415) if doc.body is not None else ()
    for status in sorted({*doc.errors, *body_errors}):
        responses[str(status)] = {"description": _REASONS[status], "content": _json(envelope())}
    if endpoint not in PUBLIC_ENDPOINTS:
        responses["401"] = {"description": _REASONS[401], "content": _json(envelope())}
        operation["security"] = [{"bearer": []}]
    operation["responses"] = responses
    return operation


def build(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title="OCPP 1.6J central system API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": 'Every response is {"success": bool, "message": str, "data": ...}. '
            "Send Authorization: Bearer <API_TOKEN> when the server has a token."
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        path, params = _path(app, rule.rule)
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            doc = getattr(view, "api_doc", None)
            paths.setdefault(path, {})[method.lower()] = _operation(rule.endpoint, doc, params)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
