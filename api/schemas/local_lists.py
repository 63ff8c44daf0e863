"""A charger's local authorization list: the wanted content and what the charger holds."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Body, UtcDateTime, iso_timestamp
from api.schemas.transactions import ID_TAG
from ocpp_worker.state.local_lists import MAX_ENTRIES

AUTHORIZATION_STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")


class IdTagInfoBody(Body):
    status = fields.String(required=True, validate=validate.OneOf(AUTHORIZATION_STATUSES))
    expiryDate = UtcDateTime(metadata={"description": "naive times are taken as UTC"})
    parentIdTag = fields.String(validate=ID_TAG)


class LocalListEntryBody(Body):
    idTag = fields.String(required=True, validate=ID_TAG)
    idTagInfo = fields.Nested(IdTagInfoBody, metadata={"description": 'absent: {"status": "Accepted"}'})


class LocalListBody(Body):
    entries = fields.List(
        fields.Nested(LocalListEntryBody),
        required=True,
        validate=validate.Length(max=MAX_ENTRIES),
        metadata={"description": f"the whole wanted list, at most {MAX_ENTRIES} entries, idTags unique"},
    )


class IdTagInfoSchema(Schema):
    status = fields.String(required=True)
    expiryDate = iso_timestamp()
    parentIdTag = fields.String()


class LocalListEntrySchema(Schema):
    idTag = fields.String(required=True)
    idTagInfo = fields.Nested(IdTagInfoSchema, required=True)


class LastAnswerSchema(Schema):
    action = fields.String(required=True, metadata={"description": "SendLocalList or GetLocalListVersion"})
    status = fields.String(
        required=True,
        metadata={
            "description": "SendLocalList: Accepted, Failed, NotSupported, VersionMismatch;"
            " GetLocalListVersion: InSync, Differs, NotSupported"
        },
    )
    updateType = fields.String()
    listVersion = fields.Integer()
    at = iso_timestamp()


class SentSchema(Schema):
    updateType = fields.String(required=True)
    listVersion = fields.Integer(required=True)
    entries = fields.Integer(required=True, metadata={"description": "how many entries it carried"})
    status = fields.String(required=True, metadata={"description": "the charger's answer"})


class LocalListSchema(Schema):
    wantedVersion = fields.Integer(required=True)
    confirmedVersion = fields.Integer(
        allow_none=True, required=True, metadata={"description": "null: not known to be on the charger"}
    )
    reportedVersion = fields.Integer(
        allow_none=True, required=True, metadata={"description": "the charger's last GetLocalListVersion"}
    )
    inSync = fields.Boolean(required=True)
    nextUpdateType = fields.String(required=True, metadata={"description": "Full or Differential"})
    entries = fields.List(fields.Nested(LocalListEntrySchema), required=True)
    confirmedEntries = fields.Integer(required=True, metadata={"description": "how many the charger holds"})
    lastAnswer = fields.Nested(LastAnswerSchema, allow_none=True, required=True)
    sent = fields.Nested(
        SentSchema, metadata={"description": "PUT and sync: the SendLocalList sent, if one was"}
    )
