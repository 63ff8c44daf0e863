"""Shapes every resource shares: the envelope, pagination, timestamps, OCPP payloads."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, ValidationError, fields, validate

MAX_LIMIT = 500
# Redis takes list indexes as signed 64-bit integers and answers an error past them;
# no list here is anywhere near this long, so a larger offset is a mistake or a probe.
MAX_OFFSET = 10_000_000


def iso_timestamp(**kwargs: Any) -> fields.String:
    """A stored timestamp: already UTC ISO 8601 with Z, so it is passed through as is."""
    return fields.String(
        allow_none=True, metadata={"format": "date-time", **kwargs.pop("metadata", {})}, **kwargs
    )


class UtcDateTime(fields.AwareDateTime):
    """A date-time with a zone (naive ones are UTC), loaded as UTC.

    Every time we store is UTC, and not every time that `datetime` can read has a UTC
    form: 9999-12-31T23:00:00-05:00 is in year 10000. Such a time is a field error here,
    not an OverflowError later when it is converted for storage.
    """

    default_error_messages = {"out_of_range": "Out of range: the time in UTC must fall in years 1 to 9999."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise self.make_error("out_of_range") from None


STREAM_ID = r"^\d{1,20}-\d{1,20}$"
_STREAM_ID = re.compile(STREAM_ID, re.ASCII)
MAX_ID_PART = 2**64 - 1  # Redis refuses a larger stream id part


def _stream_id(value: str) -> None:
    if not _STREAM_ID.match(value) or any(int(part) > MAX_ID_PART for part in value.split("-")):
        raise ValidationError(f"Not a stream id: <ms>-<seq>, each at most {MAX_ID_PART}.")


def stream_cursor(description: str) -> fields.String:
    """``?before=``: the id of a stream entry (the last of a page) for the next, older page."""
    return fields.String(validate=_stream_id, metadata={"pattern": STREAM_ID, "description": description})


def is_stream_start(entry_id: str) -> bool:
    """Whether nothing can be older than this entry id ("0-0"; Redis refuses "(0-0")."""
    return all(int(part) == 0 for part in entry_id.split("-"))


class Body(Schema):
    """A request body: unknown fields are an error, not silently dropped."""

    class Meta:
        unknown = RAISE


class Query(Schema):
    """A query string: unknown parameters (cache busters, tracing) are ignored."""

    class Meta:
        unknown = EXCLUDE


class LimitArgs(Query):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, MAX_LIMIT))


class PageArgs(LimitArgs):
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_OFFSET))


class OcppPayload(Schema):
    """An OCPP 1.6 payload, passed on unchanged: the action's 1.6 JSON schema checks it."""

    class Meta:
        unknown = INCLUDE


def envelope(data: type[Schema] | None = None) -> type[Schema]:
    """The `{success, message, data}` wrapper of one data schema; without one, the
    envelope of an error (data: field errors, a CALLERROR or null) or of a payload
    passed on as it is."""
    return _envelope(data)


@cache  # one class per data schema: the OpenAPI document names each once
def _envelope(data: type[Schema] | None) -> type[Schema]:
    name = f"{data.__name__.removesuffix('Schema')}Envelope" if data else "ErrorEnvelope"
    data_field: fields.Field[Any] = (
        fields.Nested(data)
        if data
        else fields.Raw(
            allow_none=True,
            metadata={
                "description": "400: the field errors; 502: {errorCode, errorDescription, errorDetails}"
            },
        )
    )
    return Schema.from_dict(
        {
            "success": fields.Boolean(required=True),
            "message": fields.String(required=True),
            "data": data_field,
        },
        name=name,
    )


@cache
def page(item: type[Schema]) -> type[Schema]:
    """`{items: [...], total: N}`, the data of every list endpoint."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item)), "total": fields.Integer(required=True)},
        name=f"{item.__name__.removesuffix('Schema')}Page",
    )


class SampledValueSchema(Schema):
    """One OCPP SampledValue as stored: the 1.6 defaults filled in, with its timestamp."""

    timestamp = iso_timestamp()
    value = fields.String()
    context = fields.String()
    format = fields.String()
    measurand = fields.String()
    phase = fields.String()
    location = fields.String()
    unit = fields.String()


class StatusSchema(Schema):
    """The `status` a charger answered (RemoteStart, Trigger, ChangeConfiguration, …)."""

    status = fields.String(required=True)
