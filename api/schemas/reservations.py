"""Reservations (`ocpp_worker.state.reservations`): the body of a ReserveNow and the
stored reservation."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Body, UtcDateTime, iso_timestamp
from api.schemas.transactions import ID_TAG
from ocpp_worker.state.reservations import STATUSES


class ReservationBody(Body):
    connectorId = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=2**31 - 1),
        metadata={"description": "0: any connector"},
    )
    idTag = fields.String(required=True, validate=ID_TAG)
    expiryDate = UtcDateTime(required=True, metadata={"description": "the charger ends it then"})
    parentIdTag = fields.String(validate=ID_TAG)


class ReservationSchema(Schema):
    reservationId = fields.Integer(required=True)
    clientId = fields.String(required=True)
    connectorId = fields.Integer()
    idTag = fields.String()
    parentIdTag = fields.String()
    expiryDate = iso_timestamp()
    answer = fields.String(
        metadata={"description": "ReserveNow's status: Accepted, Faulted, Occupied, Rejected or Unavailable"}
    )
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    createdAt = iso_timestamp()
    cancelAnswer = fields.String(metadata={"description": "CancelReservation's status, once asked"})
    cancelledAt = iso_timestamp()
    transactionId = fields.Integer(metadata={"description": "the transaction that used it"})
    usedAt = iso_timestamp()
