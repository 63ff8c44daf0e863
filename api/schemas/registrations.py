"""Charger security: registration records, AuthorizationKeys, security events
(`ocpp_worker.state.registrations`, docs/SECURITY.md)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from api.schemas.common import Body, LimitArgs, iso_timestamp, stream_cursor
from ocpp_worker.state import key_hashes, registrations


def _authorization_key(value: str) -> None:
    try:
        key_hashes.check_key(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def authorization_key(description: str, **kwargs: Any) -> fields.String:
    rule = f"{key_hashes.KEY_MIN}-{key_hashes.KEY_MAX} printable ASCII characters, no spaces"
    return fields.String(
        validate=_authorization_key,
        metadata={
            "pattern": rf"^[!-~]{{{key_hashes.KEY_MIN},{key_hashes.KEY_MAX}}}$",
            "description": f"{description} ({rule})",
        },
        **kwargs,
    )


class RegistrationBody(Body):
    """The whole record (PUT replaces it): what is left out takes its default."""

    description = fields.String(load_default="", validate=validate.Length(max=registrations.DESCRIPTION_MAX))
    securityProfile = fields.Integer(
        required=True,
        strict=True,
        validate=validate.OneOf(registrations.PROFILES),
        metadata={"description": "0: none; 1: Basic auth; 2: TLS + Basic auth; 3: TLS client certificate"},
    )
    enabled = fields.Boolean(load_default=True, metadata={"description": "false: refused at the handshake"})
    bootStatus = fields.String(
        load_default="Accepted",
        validate=validate.OneOf(registrations.BOOT_STATUSES),
        metadata={"description": "what its BootNotification is answered"},
    )


class RegistrationSchema(Schema):
    description = fields.String(required=True)
    securityProfile = fields.Integer(required=True)
    enabled = fields.Boolean(required=True)
    bootStatus = fields.String(required=True)
    hasKey = fields.Boolean(
        required=True, metadata={"description": "an AuthorizationKey is set (the key is never shown)"}
    )
    createdAt = iso_timestamp()
    updatedAt = iso_timestamp()


class RegisteredChargePointSchema(RegistrationSchema):
    id = fields.String(required=True)


class CredentialsBody(Body):
    authorizationKey = authorization_key("the charger's HTTP Basic password", required=True)


class RotationBody(Body):
    authorizationKey = authorization_key("the new key; left out, one is generated and returned once")


class GeneratedKeySchema(Schema):
    authorizationKey = fields.String(required=True, metadata={"description": "shown this once"})


class RotationSchema(Schema):
    status = fields.String(
        required=True, metadata={"description": "the charger's ChangeConfiguration answer"}
    )
    authorizationKey = fields.String(
        allow_none=True,
        metadata={"description": "the generated key, shown this once, when the charger took it; else null"},
    )


class SecurityEventArgs(LimitArgs):
    before = stream_cursor("an event id: only older events (the next page)")


class SecurityEventSchema(Schema):
    id = fields.String(required=True, metadata={"description": "the cursor of ?before="})
    kind = fields.String(
        required=True,
        metadata={"description": "ours (UnknownChargePoint, InvalidBasicAuth, …) or the charger's type"},
    )
    detail = fields.String(metadata={"description": "the reason, or the charger's techInfo"})
    at = fields.String(metadata={"description": "when it happened (the charger's clock for its own)"})
    source = fields.String(metadata={"description": "gateway (the central system) or charger"})
    receivedAt = iso_timestamp()


class SecurityEventPageSchema(Schema):
    items = fields.List(fields.Nested(SecurityEventSchema))
    total = fields.Integer(
        required=True, metadata={"description": "events ever recorded (the newest 1000 are kept)"}
    )
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={
            "description": "events ever recorded by kind (kinds neither ours nor the whitepaper's: Other)"
        },
    )
