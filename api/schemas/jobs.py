"""Firmware, diagnostics and log jobs (`ocpp_worker.state.jobs`): the bodies that start
them, with the fields and bounds of their OCPP 1.6 requests, and the job record."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Body, PageArgs, UtcDateTime, iso_timestamp
from ocpp_worker.state.jobs import KINDS


def _count(description: str) -> fields.Integer:
    return fields.Integer(
        validate=validate.Range(min=0, max=2**31 - 1), metadata={"description": description}
    )


def _location(description: str) -> fields.String:
    """A URI of at most 512 characters (the 1.6 schemas' bound)."""
    return fields.String(
        required=True, validate=validate.Length(min=1, max=512), metadata={"description": description}
    )


class _Retries(Body):
    retries = _count("how often the charger tries")
    retryInterval = _count("seconds between its tries")


class FirmwareJobBody(_Retries):
    location = _location("URI of the firmware")
    retrieveDate = UtcDateTime(required=True, metadata={"description": "retrieve it after this time"})


class DiagnosticsJobBody(_Retries):
    location = _location("directory URI to upload to")
    startTime = UtcDateTime(metadata={"description": "oldest information to include"})
    stopTime = UtcDateTime(metadata={"description": "latest information to include"})


class SignedFirmwareJobBody(_Retries):
    location = _location("URI of the firmware")
    retrieveDateTime = UtcDateTime(required=True)
    installDateTime = UtcDateTime()
    signingCertificate = fields.String(required=True, validate=validate.Length(min=1, max=5500))
    signature = fields.String(required=True, validate=validate.Length(min=1, max=800))


class LogJobBody(_Retries):
    logType = fields.String(required=True, validate=validate.OneOf(["DiagnosticsLog", "SecurityLog"]))
    remoteLocation = _location("directory URI to upload to")
    oldestTimestamp = UtcDateTime()
    latestTimestamp = UtcDateTime()


class JobArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(KINDS), metadata={"description": "only jobs of this kind"})


class JobStatusSchema(Schema):
    status = fields.String(
        metadata={"description": "Requested, the answer's status, NoAnswer or a notification's"}
    )
    at = iso_timestamp(metadata={"description": "when we stored it"})


class JobSchema(Schema):
    id = fields.Integer(metadata={"description": "also the requestId of GetLog and SignedUpdateFirmware"})
    kind = fields.String(metadata={"enum": list(KINDS)})
    request = fields.Dict(metadata={"description": "the OCPP request payload we sent"})
    created = iso_timestamp()
    answer = fields.Dict(
        allow_none=True,
        metadata={"description": "the charger's CALLRESULT payload (fileName for diagnostics and logs)"},
    )
    status = fields.String(allow_none=True, metadata={"description": "the latest status of the history"})
    statusAt = iso_timestamp()
    history = fields.List(fields.Nested(JobStatusSchema), metadata={"description": "oldest first"})
