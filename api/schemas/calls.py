"""The friendly named calls: their bodies, with the values OCPP 1.6 allows."""

from __future__ import annotations

import json
from importlib import resources

from marshmallow import fields, validate
from ocpp.v16.enums import AvailabilityType, ResetType

from api.schemas.common import Body


def _request_enum(action: str, field: str) -> list[str]:
    """The values the 1.6 JSON schema of `action`'s request allows in `field`."""
    text = resources.files("ocpp.v16").joinpath("schemas", f"{action}.json").read_text(encoding="utf-8-sig")
    values: list[str] = json.loads(text)["properties"][field]["enum"]
    return values


# Not ocpp.v16.enums.MessageTrigger: it also holds the security extension's messages,
# which only ExtendedTriggerMessage may ask for.
TRIGGERABLE = _request_enum("TriggerMessage", "requestedMessage")


class TriggerBody(Body):
    requestedMessage = fields.String(required=True, validate=validate.OneOf(TRIGGERABLE))
    connectorId = fields.Integer(validate=validate.Range(min=0))


class ResetBody(Body):
    type = fields.String(required=True, validate=validate.OneOf([t.value for t in ResetType]))


class UnlockBody(Body):
    connectorId = fields.Integer(required=True, validate=validate.Range(min=1))


class AvailabilityBody(Body):
    connectorId = fields.Integer(required=True, validate=validate.Range(min=0))
    type = fields.String(required=True, validate=validate.OneOf([t.value for t in AvailabilityType]))
