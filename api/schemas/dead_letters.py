"""Dead letters: charger CALLs the workers gave up on (`ocpp_worker.state.dead_letters`)."""

from __future__ import annotations

from marshmallow import Schema, fields

from api.schemas.common import LimitArgs, iso_timestamp, stream_cursor


class DeadLetterArgs(LimitArgs):
    before = stream_cursor("a deadLetterId: only older dead letters (the next page)")


class DeadLetterSchema(Schema):
    deadLetterId = fields.String(required=True, metadata={"description": "its stream id"})
    cp = fields.String(metadata={"description": "the charger"})
    id = fields.String(metadata={"description": "the CALL's message id"})
    action = fields.String()
    frame = fields.String(metadata={"description": "the CALL as the charger sent it"})
    reason = fields.String(metadata={"description": "the last failure"})
    attempts = fields.Integer(metadata={"description": "runs begun on it"})
    at = iso_timestamp(metadata={"description": "when it was given up"})
