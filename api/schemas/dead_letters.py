"""Dead letters: charger CALLs the workers gave up on (`ocpp_worker.state.dead_letters`)."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields

from api.schemas.common import LimitArgs, iso_timestamp

STREAM_ID = r"^\d{1,20}-\d{1,20}$"
_STREAM_ID = re.compile(STREAM_ID, re.ASCII)
MAX_ID_PART = 2**64 - 1  # Redis refuses a larger stream id part


def _stream_id(value: str) -> None:
    if not _STREAM_ID.match(value) or any(int(part) > MAX_ID_PART for part in value.split("-")):
        raise ValidationError(f"Not a stream id: <ms>-<seq>, each at most {MAX_ID_PART}.")


class DeadLetterArgs(LimitArgs):
    before = fields.String(
        validate=_stream_id,
        metadata={
            "pattern": STREAM_ID,
            "description": "a deadLetterId: only older dead letters (the next page)",
        },
    )


class DeadLetterSchema(Schema):
    deadLetterId = fields.String(required=True, metadata={"description": "its stream id"})
    cp = fields.String(metadata={"description": "the charger"})
    id = fields.String(metadata={"description": "the CALL's message id"})
    action = fields.String()
    frame = fields.String(metadata={"description": "the CALL as the charger sent it"})
    reason = fields.String(metadata={"description": "the last failure"})
    attempts = fields.Integer(metadata={"description": "runs begun on it"})
    at = iso_timestamp(metadata={"description": "when it was given up"})
