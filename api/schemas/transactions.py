"""Charging sessions and the remote start/stop that begin and end them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.chargepoints import CP_ID
from api.schemas.common import Body, LimitArgs, Query, UtcDateTime, iso_timestamp
from ocpp_worker.protocol import lengths

ID_TAG = validate.Length(1, lengths.ID_TOKEN)


class RemoteStartBody(Body):
    clientId = fields.String(required=True, validate=CP_ID)
    connectorId = fields.Integer(validate=validate.Range(min=1))
    idTag = fields.String(required=True, validate=ID_TAG)
    chargingProfile = fields.Dict(metadata={"description": "an OCPP 1.6 ChargingProfile (TxProfile)"})


class RemoteStopBody(Body):
    clientId = fields.String(required=True, validate=CP_ID)
    transactionId = fields.Integer(required=True, strict=True)


class TransactionSchema(Schema):
    transactionId = fields.Integer(required=True)
    clientId = fields.String(required=True)
    connectorId = fields.Integer()
    idTag = fields.String()
    idTagStatus = fields.String(metadata={"description": "what we answered in StartTransaction.conf"})
    reservationId = fields.Integer()
    reservationStatus = fields.String(
        metadata={
            "description": "what the reservationId was: used (this transaction used it), unknown, "
            "foreign (another charger's), or the status it had (expired, cancelled, used, refused)"
        }
    )
    meterStart = fields.Integer(metadata={"description": "Wh"})
    meterStop = fields.Integer(allow_none=True, metadata={"description": "Wh"})
    startTime = iso_timestamp()
    stopTime = iso_timestamp()
    stopReason = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(("active", "completed")))
    energyWh = fields.Integer(
        allow_none=True, metadata={"description": "meterStop - meterStart; null while active"}
    )
    energySoFarWh = fields.Integer(
        allow_none=True,
        metadata={
            "description": "while active: the connector's latest energy register reading minus "
            "meterStart (null without a reading since the start); null once completed"
        },
    )


# Transactions page by offset across Redis and the archive: each page reads up to
# offset + limit ids from both, so deep pages are bounded here (narrow with from/to).
MAX_TRANSACTION_OFFSET = 100_000


class TransactionListArgs(LimitArgs):
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_TRANSACTION_OFFSET))
    clientId = fields.String(validate=CP_ID)
    status = fields.String(validate=validate.OneOf(("active", "completed")))
    idTag = fields.String(validate=ID_TAG)
    from_ = UtcDateTime(data_key="from", metadata={"description": "started at or after (UTC)"})
    to = UtcDateTime(metadata={"description": "started before (UTC)"})


EXPORT_FORMATS = ("csv", "jsonl", "ocpi-cdr")


class TransactionExportArgs(Query):
    from_ = UtcDateTime(data_key="from", metadata={"description": "stopped at or after (UTC)"})
    to = UtcDateTime(metadata={"description": "stopped before (UTC)"})
    clientId = fields.String(validate=CP_ID)
    format = fields.String(load_default="csv", validate=validate.OneOf(EXPORT_FORMATS))
