"""GET /api/v1/openapi.json."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from api import openapi

bp = Blueprint("openapi", __name__)


@bp.get("/api/v1/openapi.json")
def document() -> Response:
    # Served bare, not in the envelope, so Swagger UI and code generators can read it.
    cached = current_app.extensions.get("openapi")
    if cached is None:
        cached = current_app.extensions["openapi"] = openapi.build(current_app)
    return jsonify(cached)
