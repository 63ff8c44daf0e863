"""Domain events (`ocpp_worker.events`, docs/EVENTS.md): the catch-up read."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import STREAM_ID, Query, iso_timestamp, stream_cursor
from ocpp_worker.events import TYPES

PAGE_MAX = 500
CHARGER_ID_MAX = 256


class EventArgs(Query):
    after = stream_cursor(
        "an event id: only newer events (the next page is `next`); default: the oldest kept"
    )
    type = fields.String(validate=validate.OneOf(TYPES), metadata={"description": "only events of this type"})
    chargerId = fields.String(
        validate=validate.Length(1, CHARGER_ID_MAX), metadata={"description": "only events of this charger"}
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(1, PAGE_MAX))


class EventSchema(Schema):
    id = fields.String(
        required=True, metadata={"pattern": STREAM_ID, "description": "its stream id: ordered, the cursor"}
    )
    type = fields.String(required=True, metadata={"enum": list(TYPES)})
    time = iso_timestamp(required=True, metadata={"description": "when the central system recorded it"})
    chargerId = fields.String(required=True)
    version = fields.Integer(required=True, metadata={"description": "the schema version of `data`"})
    data = fields.Raw(
        required=True,
        metadata={"type": "object", "description": "by type: docs/EVENTS.md, docs/events/<type>.schema.json"},
    )


class EventPageSchema(Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)
    next = fields.String(
        required=True,
        metadata={
            "pattern": STREAM_ID,
            "description": "?after= for the next page: the last event looked at (the given cursor if none)",
        },
    )
