"""The idTag registry that Authorize and StartTransaction consult."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Body, UtcDateTime, iso_timestamp
from api.schemas.transactions import ID_TAG
from ocpp_worker.state.idtags import STATUSES


class IdTagBody(Body):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    expiryDate = UtcDateTime(allow_none=True, metadata={"description": "naive times are taken as UTC"})
    parentIdTag = fields.String(allow_none=True, validate=ID_TAG)


class IdTagSchema(Schema):
    idTag = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "as stored"})
    expiryDate = iso_timestamp()
    parentIdTag = fields.String(allow_none=True)
    effectiveStatus = fields.String(
        metadata={"description": "what Authorize answers now: Expired once expiryDate has passed"}
    )
