"""Queued commands (`ocpp_worker.state.commands`): the command record and the query of
its listing."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import PageArgs, iso_timestamp
from ocpp_worker.state.commands import STATUSES


class CommandErrorSchema(Schema):
    """The charger's CALLERROR (or what was wrong with its answer)."""

    errorCode = fields.String(required=True)
    errorDescription = fields.String(required=True)
    errorDetails = fields.Raw(allow_none=True)


class CommandSchema(Schema):
    """A call queued for a charger, and what became of it."""

    id = fields.String(required=True, metadata={"description": "the command id, also its OCPP message id"})
    chargerId = fields.String(required=True)
    action = fields.String(required=True)
    payload = fields.Dict(required=True, metadata={"description": "the OCPP request payload"})
    status = fields.String(
        required=True,
        validate=validate.OneOf(STATUSES),
        metadata={
            "description": "queued: waits for the charger; sent: delivered, no answer yet; answered: "
            "see answer; failed: see error / reason; expired: expiresAt passed before it was sent; "
            "cancelled: by DELETE"
        },
    )
    createdAt = iso_timestamp(required=True)
    expiresAt = iso_timestamp(required=True, metadata={"description": "sent by then, or expired"})
    sentAt = iso_timestamp()
    endedAt = iso_timestamp(metadata={"description": "when it was answered, failed, expired or cancelled"})
    answer = fields.Dict(
        allow_none=True, metadata={"description": "answered: the charger's CALLRESULT payload"}
    )
    error = fields.Nested(CommandErrorSchema, allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "failed: why, in words"})


class CommandListArgs(PageArgs):
    """Paging of a charger's commands (oldest first)."""
