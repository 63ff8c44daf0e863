"""GET /api/v1/openapi.json."""

from __future__ import annotations

from flask import Response, jsonify

from api.smorest import Blueprint, openapi_document

# Tools read the document before they hold a token.
bp = Blueprint("openapi", __name__, description="This document", public=True)


@bp.get("/api/v1/openapi.json")
@bp.doc(
    responses={
        200: {
            "description": "The OpenAPI document, not wrapped in the envelope",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
)
def document() -> Response:
    """This OpenAPI document (not wrapped in the envelope)"""
    # Served bare, not in the envelope, so Swagger UI and code generators can read it.
    return jsonify(openapi_document())
