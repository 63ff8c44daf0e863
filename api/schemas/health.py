"""GET /health."""

from __future__ import annotations

from marshmallow import Schema, fields

from api.schemas.common import iso_timestamp


class ComponentSchema(Schema):
    ok = fields.Boolean(required=True)
    count = fields.Integer(metadata={"description": "workers answering a ping, live gateways"})
    error = fields.String()


class HealthSchema(Schema):
    status = fields.String(
        required=True, metadata={"description": "ok, degraded (no worker or gateway) or down"}
    )
    timestamp = iso_timestamp(required=True)
    redis = fields.Nested(ComponentSchema, required=True)
    workers = fields.Nested(ComponentSchema, required=True)
    gateways = fields.Nested(ComponentSchema, required=True)
