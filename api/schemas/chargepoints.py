"""Charge points, their connectors, the connected-charger registry."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import PageArgs, SampledValueSchema, iso_timestamp
from api.schemas.registrations import RegistrationSchema
from ocpp_worker.protocol import lengths

CP_ID = validate.Length(1, lengths.CHARGE_BOX_IDENTITY)


class ClientSchema(Schema):
    """A connected charger as the gateway registry has it."""

    id = fields.String(required=True)
    gateway = fields.String()
    connectedAt = iso_timestamp()
    remote = fields.String(metadata={"description": "the charger's IP address"})


class ConnectorSchema(Schema):
    connectorId = fields.Integer(required=True)
    status = fields.String(allow_none=True)
    errorCode = fields.String(allow_none=True)
    info = fields.String()
    vendorId = fields.String()
    vendorErrorCode = fields.String()
    transactionId = fields.Integer(allow_none=True)
    timestamp = iso_timestamp(metadata={"description": "the charger's time of the last StatusNotification"})
    updatedAt = iso_timestamp(metadata={"description": "when we received it"})
    meterValues = fields.List(
        fields.Nested(SampledValueSchema),
        metadata={"description": "latest value per measurand/phase/location"},
    )


class ChargePointSummarySchema(Schema):
    id = fields.String(required=True)
    connected = fields.Boolean(required=True)
    stale = fields.Boolean(
        required=True,
        metadata={
            "description": "it has sent nothing for OCPP_STALE_FACTOR (2) x its HeartbeatInterval "
            "(checked every OCPP_LIVENESS_INTERVAL_S by celery beat)"
        },
    )
    staleSince = iso_timestamp(metadata={"description": "while stale: when it went stale"})
    vendor = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    serialNumber = fields.String(allow_none=True)
    chargeBoxSerialNumber = fields.String(allow_none=True)
    firmwareVersion = fields.String(allow_none=True)
    registrationStatus = fields.String(allow_none=True)
    status = fields.String(allow_none=True, metadata={"description": "status of connector 0 (the charger)"})
    lastHeartbeat = iso_timestamp()
    lastSeen = iso_timestamp(metadata={"description": "when it last sent a CALL"})
    bootedAt = iso_timestamp()


class ChargePointSchema(ChargePointSummarySchema):
    connectors = fields.List(fields.Nested(ConnectorSchema))
    registration = fields.Nested(
        RegistrationSchema,
        allow_none=True,
        metadata={"description": "null: not registered (OCPP_REGISTRATION=closed refuses it)"},
    )


class ChargePointListArgs(PageArgs):
    connected = fields.Boolean(
        metadata={"description": "only connected (true) or disconnected (false) chargers"}
    )
