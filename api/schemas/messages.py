"""A charger's OCPP message log (`ocpp_worker.state.message_log`)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import LimitArgs, iso_timestamp, stream_cursor
from ocpp_worker.state.message_log import ACTION_MAX, PAGE_MAX


class MessageArgs(LimitArgs):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, PAGE_MAX))
    before = stream_cursor("a message id: only older messages (the next page is `next`)")
    action = fields.String(
        validate=validate.Length(1, ACTION_MAX),
        metadata={"description": "only the CALLs of this action and the answers to them"},
    )


class MessageSchema(Schema):
    id = fields.String(required=True, metadata={"description": "its stream id: the paging cursor"})
    direction = fields.String(
        required=True, metadata={"description": "in: from the charger; out: to it", "enum": ["in", "out"]}
    )
    at = iso_timestamp(metadata={"description": "when the gateway received it, or queued it to send"})
    messageType = fields.String(
        metadata={"description": "CALL, CALLRESULT or CALLERROR; empty for an unreadable frame"}
    )
    messageId = fields.String()
    action = fields.String(metadata={"description": "a CALL's action; for an answer, the action of its CALL"})
    frame = fields.String(metadata={"description": "the frame's text, cut at 8,192 characters"})
    truncated = fields.Boolean(metadata={"description": "whether `frame` was cut"})
    size = fields.Integer(metadata={"description": "characters of the whole frame"})


class MessagePageSchema(Schema):
    items = fields.List(fields.Nested(MessageSchema))
    total = fields.Integer(required=True, metadata={"description": "messages kept for this charger"})
    next = fields.String(
        allow_none=True,
        metadata={"description": "?before= for the next, older page; null when nothing older is left"},
    )
