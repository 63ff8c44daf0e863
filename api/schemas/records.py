"""The records chargers' notifications leave (`ocpp_worker.state.records`)."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from api.schemas.common import PageArgs, iso_timestamp
from ocpp_worker.state.records import CSR_STATUSES


class FirmwareSchema(Schema):
    firmwareVersion = fields.String(
        allow_none=True, metadata={"description": "from its last BootNotification"}
    )
    status = fields.String(
        allow_none=True, metadata={"description": "its last (Signed)FirmwareStatusNotification's status"}
    )
    statusAt = iso_timestamp(metadata={"description": "when we received that status"})
    requestId = fields.Integer(
        allow_none=True, metadata={"description": "the SignedUpdateFirmware request it reported on"}
    )


class DiagnosticsSchema(Schema):
    status = fields.String(
        allow_none=True, metadata={"description": "its last DiagnosticsStatusNotification"}
    )
    statusAt = iso_timestamp(metadata={"description": "when we received it"})


class LogUploadSchema(Schema):
    status = fields.String(allow_none=True, metadata={"description": "its last LogStatusNotification"})
    statusAt = iso_timestamp(metadata={"description": "when we received it"})
    requestId = fields.Integer(allow_none=True, metadata={"description": "the GetLog request it reported on"})


class DataTransferSchema(Schema):
    """A DataTransfer request as the charger sent it, with when we received it."""

    class Meta:
        unknown = INCLUDE

    receivedAt = iso_timestamp()
    vendorId = fields.String()
    messageId = fields.String()
    data = fields.String(metadata={"description": "cut at 4,096 characters"})
    dataLength = fields.Integer(metadata={"description": "the whole data's length, when it was cut"})
    truncated = fields.Boolean(metadata={"description": "present and true when `data` was cut"})


class CsrSchema(Schema):
    csr = fields.String(metadata={"description": "the PEM certificate signing request"})
    receivedAt = iso_timestamp()
    status = fields.String(
        metadata={
            "description": "Pending: for the operator's PKI (no OCPP_CA_CERT); Signed; Rejected",
            "enum": list(CSR_STATUSES),
        }
    )
    serialNumber = fields.String(metadata={"description": "Signed: the certificate's serial number (hex)"})
    notAfter = iso_timestamp(metadata={"description": "Signed: when the certificate expires"})
    reason = fields.String(metadata={"description": "Rejected: why"})


class CsrArgs(PageArgs):
    status = fields.String(
        validate=validate.OneOf(CSR_STATUSES), metadata={"description": "only the CSRs of this status"}
    )
