"""Configuration keys: stored (the configuration manager) and live (the charger's)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Body, Query
from ocpp_worker.protocol import lengths


class ConfigurationKeySchema(Schema):
    key = fields.String(required=True)
    value = fields.String(allow_none=True)
    readonly = fields.Boolean(required=True)


class StoredConfigurationKeySchema(ConfigurationKeySchema):
    reported = fields.Boolean(
        required=True, metadata={"description": "the charger reported this key (GetConfiguration)"}
    )
    is_unknown = fields.Boolean(  # `unknown` is a Schema attribute (unknown-field policy)
        required=True,
        data_key="unknown",
        attribute="unknown",
        metadata={"description": "the charger said it does not know this key"},
    )


class StoredConfigurationSchema(Schema):
    configurationKey = fields.List(fields.Nested(StoredConfigurationKeySchema), required=True)


class LiveConfigurationSchema(Schema):
    """The charger's GetConfiguration.conf payload."""

    configurationKey = fields.List(fields.Nested(ConfigurationKeySchema))
    unknownKey = fields.List(fields.String())


class LiveConfigurationArgs(Query):
    key = fields.List(
        fields.String(validate=validate.Length(1, lengths.CONFIGURATION_KEY)),
        metadata={"description": "repeatable; none = every key"},
    )


class ConfigurationChangeBody(Body):
    key = fields.String(required=True, validate=validate.Length(1, lengths.CONFIGURATION_KEY))
    value = fields.String(required=True, validate=validate.Length(max=lengths.CONFIGURATION_VALUE))


class StoredChangeSchema(Schema):
    key = fields.String(required=True)
    value = fields.String(required=True)
    readonly = fields.Boolean(required=True)
    rebootRequired = fields.Boolean(required=True)
