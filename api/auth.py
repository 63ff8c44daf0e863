"""Bearer-token authentication with the one shared `API_TOKEN`.

Without a token configured the API is open (development). With one, every route but
those of a public blueprint (`GET /health`, which load balancers probe without
credentials, and the OpenAPI document) needs ``Authorization: Bearer <token>``. The
comparison runs in constant time, and the token never appears in a response or a log
line.
"""

from __future__ import annotations

import hmac

from flask import Flask, current_app, request

from api.errors import ApiError
from api.smorest import Blueprint


def _supplied_token() -> bytes:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    return token.strip().encode() if scheme.lower() == "bearer" else b""


def _public() -> bool:
    blueprint = current_app.blueprints.get(request.blueprint or "")
    return isinstance(blueprint, Blueprint) and blueprint.public


def _check() -> None:
    expected: str | None = current_app.config.get("API_TOKEN")
    if not expected or _public():
        return
    if not hmac.compare_digest(_supplied_token(), expected.encode()):
        raise ApiError(401, "missing or invalid bearer token")


def register(app: Flask) -> None:
    app.before_request(_check)

    @app.after_request
    def _challenge(response):  # type: ignore[no-untyped-def]
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="ocpp-csms"'
        return response
