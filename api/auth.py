"""Bearer-token authentication with the one shared `API_TOKEN`.

Without a token configured the API is open (development). With one, every route but
those of a public blueprint (`GET /health`, which load balancers probe without
credentials, and the OpenAPI document) needs ``Authorization: Bearer <token>``. The
comparison runs in constant time, and the token never appears in a response or a log
line.

The status pages (`api.pages`) are for browsers, which cannot send the header: they
log in with a form and a cookie of their own (`api.pages.session`), and only there. The
JSON API takes the header only, so no cookie a browser attaches can make it act.
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


def _own_login() -> bool:
    """The status pages' routes, which check their cookie themselves (`api.pages`)."""
    blueprint = current_app.blueprints.get(request.blueprint or "")
    return getattr(blueprint, "cookie_login", False) is True


def configured_token() -> str | None:
    """The API token of this app, or None when the API is open."""
    token: str | None = current_app.config.get("API_TOKEN")
    return token or None


def is_token(supplied: bytes) -> bool:
    """Whether `supplied` is the API token, compared in constant time."""
    expected = configured_token()
    return expected is not None and hmac.compare_digest(supplied, expected.encode())


def _check() -> None:
    if not configured_token() or _public() or _own_login():
        return
    if not is_token(_supplied_token()):
        raise ApiError(401, "missing or invalid bearer token")


def register(app: Flask) -> None:
    app.before_request(_check)

    @app.after_request
    def _challenge(response):  # type: ignore[no-untyped-def]
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="ocpp-csms"'
        return response
