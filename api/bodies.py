"""`RequestParser`: how `@bp.arguments` reads a request (webargs, under flask-smorest).

A JSON body is read safely (size, media type, nesting, strict JSON: see `read_json`), and
a body or query string that its schema refuses is a 400 in the envelope with
marshmallow's field errors, not webargs' 422.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Mapping
from itertools import accumulate
from typing import Any, NoReturn

import flask
from marshmallow import Schema, ValidationError
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge

from api.errors import invalid, unsupported_media_type

# Deep enough for any OCPP payload (a charging profile nests 5 levels), far below
# Python's recursion limit.
MAX_DEPTH = 32
# For _depth: "[" and "{" become +1, "]" and "}" -1 (as signed bytes), the rest goes.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


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


def _read_body(request: flask.Request) -> bytes:
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


def read_json(request: flask.Request) -> Any:
    """The JSON body; anything else is a 4xx before it costs more.

    A body is read up to MAX_CONTENT_LENGTH bytes (larger: 413). It needs a JSON media
    type (415); one without a Content-Type is read as JSON, as RFC 9110 §8.3 lets a
    server examine it. It must be UTF-8 (RFC 8259 §8.1), nest at most MAX_DEPTH levels
    and be strict JSON: Python's NaN and Infinity extensions and lone surrogates are
    refused. An empty body is {}.
    """
    raw = _read_body(request)
    if not raw.strip():
        return {}
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
    return payload


class RequestParser(FlaskParser):
    """webargs' Flask parser with our body rules and our 400."""

    DEFAULT_VALIDATION_STATUS = 400  # also what flask-smorest documents for @arguments
    USE_ARGS_POSITIONAL = True  # views take the loaded body or query first (webargs' default may change)

    def load_json(self, req: flask.Request, schema: Schema) -> Any:
        return read_json(req)

    def handle_error(
        self,
        error: ValidationError,
        req: flask.Request,
        schema: Schema,
        *,
        error_status_code: int | None,
        error_headers: Mapping[str, str] | None,
    ) -> NoReturn:
        # webargs files the field errors under the location they come from.
        messages: Any = error.messages
        [(location, errors)] = messages.items()
        where = "request body" if location == "json" else "query parameters"
        raise invalid(f"invalid {where}", errors)
