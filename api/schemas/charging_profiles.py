"""Smart charging: the profiles a charger accepted, and its composite schedule."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Body, Query, iso_timestamp

PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
RATE_UNITS = ("A", "W")
CONNECTOR = validate.Range(min=0)


class ChargingProfileBody(Body):
    """SetChargingProfile's payload; csChargingProfiles is checked against the 1.6 schema."""

    connectorId = fields.Integer(required=True, strict=True, validate=CONNECTOR)
    csChargingProfiles = fields.Dict(
        required=True, metadata={"description": "an OCPP 1.6 ChargingProfile (checked against its schema)"}
    )


class StoredProfileSchema(Schema):
    connectorId = fields.Integer(required=True)
    csChargingProfiles = fields.Raw(required=True, metadata={"description": "as the charger accepted it"})
    setAt = iso_timestamp(metadata={"description": "when the charger accepted it"})
    remoteStart = fields.String(
        metadata={"description": "a TxProfile sent with RemoteStartTransaction: the idTag it was for"}
    )
    transactionId = fields.Integer(
        allow_none=True,
        metadata={
            "description": "the transaction a remote start's TxProfile applies to (null until it starts)"
        },
    )


class ClearArgs(Query):
    """ClearChargingProfile's fields: `id` alone, or any of the others (none: all profiles)."""

    id = fields.Integer()
    connectorId = fields.Integer(validate=CONNECTOR)
    chargingProfilePurpose = fields.String(validate=validate.OneOf(PURPOSES))
    stackLevel = fields.Integer(validate=validate.Range(min=0))


class ClearedSchema(Schema):
    status = fields.String(
        required=True, metadata={"description": "the charger's answer: Accepted or Unknown"}
    )
    removed = fields.List(
        fields.Integer(), required=True, metadata={"description": "the stored profiles removed (Accepted)"}
    )


class CompositeScheduleArgs(Query):
    connectorId = fields.Integer(required=True, validate=CONNECTOR)
    duration = fields.Integer(
        required=True, validate=validate.Range(min=1), metadata={"description": "seconds"}
    )
    chargingRateUnit = fields.String(validate=validate.OneOf(RATE_UNITS))
