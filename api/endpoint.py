"""`@endpoint(...)`: a view's request and response schemas, declared once.

The decorator loads the JSON body and the query string with their schemas (failure →
400 with marshmallow's field errors), dumps what the view returns with the response
schema into the envelope, and leaves an `ApiDoc` on the view, from which `openapi.py`
writes the document. So a route cannot exist without being described.
"""

from __future__ import annotations

import functools
import json
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from flask import Response, request
from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import RequestEntityTooLarge

from api.errors import envelope, invalid, unsupported_media_type

View = Callable[..., Any]

# Deep enough for any OCPP payload (a charging profile nests 5 levels), far below
# Python's recursion limit.
MAX_DEPTH = 32
# For _depth: "[" and "{" become +1, "]" and "}" -1 (as signed bytes), the rest goes.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


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


def _depth(raw: bytes) -> int:
    """How deeply a JSON text nests arrays and objects, counted without parsing it.

    json.loads recurses once per level (100,000 "[" are a RecursionError), and so do
    marshmallow and jsonschema over what it returns. So the brackets are counted first,
    in passes that run at C speed even on a body of nothing but brackets: drop escaped
    backslashes and quotes, keep the pieces between quotes that lie outside strings,
    then add up +1 for each "[" "{" and -1 for each "]" "}". This holds for UTF-8, where
    these ASCII bytes never occur inside another character.
    """
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    steps = array("b", outside_strings.translate(_STEPS, delete=_NOT_BRACKETS))
    return max(accumulate(steps), default=0)


def _read_body() -> bytes:
    """The raw body, if it is at most MAX_CONTENT_LENGTH bytes long (else 413).

    Werkzeug refuses a larger Content-Length before reading. A chunked body declares
    none, and Werkzeug stops reading it at the limit (on servers that end the stream for
    it, like gunicorn): one more byte from the server's stream tells if it went past.
    """
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    chunked = request.content_length is None and request.environ.get("wsgi.input_terminated")
    if chunked and limit is not None and len(raw) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return raw


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _body(schema: Schema) -> Any:
    """The JSON body loaded with `schema`; anything else is a 4xx before it costs more.

    A body is read up to MAX_CONTENT_LENGTH bytes (larger: 413). It needs a JSON media
    type (415); one without a Content-Type is read as JSON, as RFC 9110 §8.3 lets a
    server examine it. It must be UTF-8 (RFC 8259 §8.1), nest at most MAX_DEPTH levels
    and be strict JSON: Python's NaN and Infinity extensions and lone surrogates are
    refused. An empty body is {}.
    """
    raw = _read_body()
    payload: Any = {}
    if raw.strip():
        if request.mimetype and not request.is_json:
            raise unsupported_media_type()
        if _depth(raw) > MAX_DEPTH:
            message = f"Nested deeper than {MAX_DEPTH} levels."
            raise invalid("the request body is nested too deeply", {"_body": [message]})
        try:
            payload = json.loads(raw.decode("utf-8"), parse_constant=_not_json)
            # A lone surrogate escape ("\ud800") parses, but has no UTF-8 form to store or
            # send (I-JSON, RFC 7493 §2.1, forbids it): encoding finds one anywhere at C speed.
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except ValueError:  # includes UnicodeDecodeError and UnicodeEncodeError
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
