"""`@endpoint(...)`: a view's request and response schemas, declared once.

The decorator loads the JSON body and the query string with their schemas (failure →
400 with marshmallow's field errors), dumps what the view returns with the response
schema into the envelope, and leaves an `ApiDoc` on the view, from which `openapi.py`
writes the document. So a route cannot exist without being described.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Response, request
from marshmallow import Schema, ValidationError, fields

from api.errors import envelope, invalid

View = Callable[..., Any]


@dataclass(frozen=True)
class Reply:
    """A view's answer when it is not a plain 200 "OK"."""

    data: Any
    status: int = 200
    message: str = "OK"


@dataclass(frozen=True)
class ApiDoc:
    summary: str
    description: str
    tag: str
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    response: type[Schema] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    extra_statuses: tuple[int, ...] = field(default_factory=tuple)


def _body(schema: Schema) -> Any:
    raw = request.get_data(cache=True)
    try:
        payload = json.loads(raw) if raw.strip() else {}
    except ValueError:  # includes UnicodeDecodeError
        raise invalid("the request body is not valid JSON", {"_body": ["Not valid JSON."]}) from None
    try:
        return schema.load(payload)
    except ValidationError as exc:
        raise invalid("invalid request body", exc.messages) from None


def _query(schema: Schema) -> Any:
    args: dict[str, Any] = {}
    for name, schema_field in schema.fields.items():
        key = schema_field.data_key or name
        if key not in request.args:
            continue
        many = isinstance(schema_field, fields.List)
        args[key] = request.args.getlist(key) if many else request.args.get(key)
    try:
        return schema.load(args)
    except ValidationError as exc:
        raise invalid("invalid query parameters", exc.messages) from None


def endpoint(
    tag: str,
    *,
    body: type[Schema] | None = None,
    query: type[Schema] | None = None,
    response: type[Schema] | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    extra_statuses: tuple[int, ...] = (),
) -> Callable[[View], View]:
    """Declare a view's schemas; the view gets `body=` / `query=` keyword arguments with
    the loaded data and returns the response data (or a `Reply`).

    `response=None` passes the data through unchanged (OCPP payloads from a charger).
    """
    body_schema = body() if body else None
    query_schema = query() if query else None
    response_schema = response() if response else None

    def wrap(view: View) -> View:
        @functools.wraps(view)
        def run(**kwargs: Any) -> Response:
            if body_schema is not None:
                kwargs["body"] = _body(body_schema)
            if query_schema is not None:
                kwargs["query"] = _query(query_schema)
            result = view(**kwargs)
            reply = result if isinstance(result, Reply) else Reply(result, status)
            data = response_schema.dump(reply.data) if response_schema is not None else reply.data
            return envelope(data, reply.message, reply.status)

        summary, _, description = (view.__doc__ or view.__name__).strip().partition("\n")
        run.api_doc = ApiDoc(  # type: ignore[attr-defined]
            summary=summary.strip(),
            description=description.strip(),
            tag=tag,
            body=body,
            query=query,
            response=response,
            status=status,
            errors=errors,
            extra_statuses=extra_statuses,
        )
        return run

    return wrap
