"""Webhooks (`ocpp_worker.webhooks`, docs/EVENTS.md): registration and delivery log."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Body, LimitArgs, iso_timestamp
from ocpp_worker.events import TYPES
from ocpp_worker.state.webhooks import DELIVERIES_KEPT
from ocpp_worker.webhooks import ALL_TYPES, MAX_URL_CHARS

SECRET = validate.Regexp(r"^[\x21-\x7e]{16,256}$", error="16 to 256 printable ASCII characters, no spaces")
TYPE_NAMES = [*TYPES, ALL_TYPES]


class WebhookBody(Body):
    url = fields.String(
        required=True,
        validate=validate.Length(1, MAX_URL_CHARS),
        metadata={"description": "http:// or https://, no user:password@; 2xx means delivered"},
    )
    types = fields.List(
        fields.String(validate=validate.OneOf(TYPE_NAMES)),
        required=True,
        validate=validate.Length(1, len(TYPE_NAMES)),
        metadata={"description": 'the event types it wants, or ["*"] for all'},
    )
    secret = fields.String(
        validate=SECRET,
        metadata={"description": "the HMAC key of X-OCPP-Signature; generated when left out"},
    )
    description = fields.String(validate=validate.Length(0, 200))


class WebhookSchema(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    types = fields.List(fields.String(), required=True)
    description = fields.String()
    createdAt = iso_timestamp()
    cursor = fields.String(metadata={"description": "the id of the last event it is done with"})
    pendingEvent = fields.String(allow_none=True, metadata={"description": "the event being retried, if any"})
    attempts = fields.Integer(metadata={"description": "failed attempts of the pending event"})


class CreatedWebhookSchema(WebhookSchema):
    secret = fields.String(
        required=True, metadata={"description": "shown only here: keep it to verify the signatures"}
    )


class DeliveryArgs(LimitArgs):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, DELIVERIES_KEPT))


class DeliverySchema(Schema):
    eventId = fields.String(required=True)
    eventType = fields.String(required=True)
    status = fields.String(
        required=True,
        metadata={"enum": ["delivered", "retrying", "failed"], "description": "failed: given up on, skipped"},
    )
    attempts = fields.Integer(required=True)
    statusCode = fields.Integer(allow_none=True, metadata={"description": "the last answer's HTTP status"})
    lastError = fields.String(allow_none=True)
    firstAttemptAt = iso_timestamp()
    lastAttemptAt = iso_timestamp()
    nextAttemptAt = iso_timestamp(metadata={"description": "retrying: when the next attempt is due"})


class DeliveryPageSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema), required=True)
