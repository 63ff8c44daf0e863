"""Domain events: what a billing system or an app hears about (docs/EVENTS.md).

Each event type has its data's shape here (a TypedDict; docs/events/*.schema.json is
the same as JSON Schema, checked against published events by the tests), and one small
function per place that publishes it. A handler's event goes into its `Writes`, so it
is committed with the state change and the reply, exactly once per CALL
(`handlers.dispatch`); each function publishes only when the state really changed, so
a charger repeating itself (the same status twice, a StopTransaction resent for a
transaction already stopped) makes no second event. The gateway publishes the
connections (`ocpp_worker.gateway.server`), the API the reservations it records
(`state.reservations`). The stream itself: `state.events`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from ocpp_worker import timeutil
from ocpp_worker.config import Settings
from ocpp_worker.state import events as stream
from ocpp_worker.state.keys import Keys
from ocpp_worker.state.store import Store

if TYPE_CHECKING:
    from ocpp.v16 import call

    from ocpp_worker.handlers.registry import CallContext

SCHEMA_VERSION = stream.SCHEMA_VERSION
MAX_EVENT_SAMPLES = 50
MAX_EVENT_SAMPLE_CHARS = 16384

CONNECTED = "chargepoint.connected"
DISCONNECTED = "chargepoint.disconnected"
BOOTED = "chargepoint.booted"
STATUS_CHANGED = "connector.status_changed"
TRANSACTION_STARTED = "transaction.started"
METER_VALUES = "transaction.meter_values"
TRANSACTION_STOPPED = "transaction.stopped"
RESERVATION_CREATED = "reservation.created"
RESERVATION_CANCELLED = "reservation.cancelled"
RESERVATION_USED = "reservation.used"
FIRMWARE_STATUS_CHANGED = "firmware.status_changed"
SECURITY_EVENT = "security_event"

TYPES = (
    CONNECTED,
    DISCONNECTED,
    BOOTED,
    STATUS_CHANGED,
    TRANSACTION_STARTED,
    METER_VALUES,
    TRANSACTION_STOPPED,
    RESERVATION_CREATED,
    RESERVATION_CANCELLED,
    RESERVATION_USED,
    FIRMWARE_STATUS_CHANGED,
    SECURITY_EVENT,
)


class Event(TypedDict):
    """One event as the API lists it and a webhook receives it."""

    id: str  # its stream id: ordered, the catch-up cursor
    type: str
    time: str  # when the central system recorded the change (ISO 8601 UTC)
    chargerId: str
    version: int  # SCHEMA_VERSION when it was published
    data: Any  # one of the TypedDicts below, by type


class Connected(TypedDict):
    remoteAddress: str


class Disconnected(TypedDict):
    closeCode: int | None


class Booted(TypedDict):
    registrationStatus: str  # Accepted or Pending
    chargePointVendor: str
    chargePointModel: str
    chargePointSerialNumber: NotRequired[str]
    firmwareVersion: NotRequired[str]


class StatusChanged(TypedDict):
    connectorId: int
    status: str
    errorCode: str
    previousStatus: str | None  # None: the first status of that connector we heard
    info: NotRequired[str]
    vendorErrorCode: NotRequired[str]
    timestamp: str  # the charger's time of the change


class TransactionStarted(TypedDict):
    transactionId: int
    connectorId: int
    idTag: str
    idTagStatus: str  # our answer: Accepted, Invalid, ConcurrentTx, ...
    meterStart: int
    startTime: str
    reservationId: NotRequired[int]


class MeterValues(TypedDict):
    connectorId: int
    transactionId: int | None
    sampledValues: list[dict[str, Any]]  # as stored: one per value, 1.6 defaults filled in
    sampledValueCount: int  # in the MeterValues; sampledValues holds the first of them (MAX_EVENT_SAMPLES)


class TransactionStopped(TypedDict):
    transactionId: int
    connectorId: int
    idTag: str | None
    meterStart: int | None
    meterStop: int
    energyWh: int | None  # meterStop - meterStart
    startTime: str | None
    stopTime: str
    stopReason: str


class ReservationCreated(TypedDict):
    reservationId: int
    connectorId: int
    idTag: str
    expiryDate: str
    answer: str  # ReserveNow's status: Accepted (the reservation is active) or a refusal
    status: str  # active or refused


class ReservationCancelled(TypedDict):
    reservationId: int


class ReservationUsed(TypedDict):
    reservationId: int
    transactionId: int


class FirmwareStatusChanged(TypedDict):
    status: str
    previousStatus: str | None
    requestId: int | None  # SignedFirmwareStatusNotification's requestId (our job id)
    signed: bool  # from a SignedFirmwareStatusNotification


class SecurityEvent(TypedDict):
    type: str  # the extension's event type (FirmwareUpdated, TamperDetectionActivated, ...)
    techInfo: str | None
    timestamp: str  # the charger's time of it


def _publish(
    ctx: CallContext, event_type: str, data: Any, changed: tuple[str, dict[str, str]] | None = None
) -> None:
    s = ctx.store
    stream.queue(ctx.writes, s.keys, s.settings, event_type, ctx.cp_id, data, ctx.now, changed)


# -- the handlers' hooks (one call each) --------------------------------------------


def booted(ctx: CallContext, req: call.BootNotification, status: str) -> None:
    data: Booted = {
        "registrationStatus": str(status),
        "chargePointVendor": req.charge_point_vendor,
        "chargePointModel": req.charge_point_model,
    }
    if req.charge_point_serial_number is not None:
        data["chargePointSerialNumber"] = req.charge_point_serial_number
    if req.firmware_version is not None:
        data["firmwareVersion"] = req.firmware_version
    _publish(ctx, BOOTED, data)


def status_changed(ctx: CallContext, req: call.StatusNotification) -> None:
    """Published when the connector's status or error code differs from the stored one,
    compared in the commit (no read on the worker's path). Call before its writes."""
    status, error = str(req.status), str(req.error_code)
    data: StatusChanged = {
        "connectorId": req.connector_id,
        "status": status,
        "errorCode": error,
        "previousStatus": None,  # the reader's: from the entry's `prev`
        "timestamp": timeutil.normalize(req.timestamp, ctx.now),
    }
    if req.info is not None:
        data["info"] = req.info
    if req.vendor_error_code is not None:
        data["vendorErrorCode"] = req.vendor_error_code
    key = ctx.store.keys.connector(ctx.cp_id, req.connector_id)
    _publish(ctx, STATUS_CHANGED, data, (key, {"status": status, "errorCode": error}))


def transaction_started(ctx: CallContext, req: call.StartTransaction, tx_id: int, id_tag_status: str) -> None:
    """Call where the transaction is written (once per transaction id)."""
    data: TransactionStarted = {
        "transactionId": tx_id,
        "connectorId": req.connector_id,
        "idTag": req.id_tag,
        "idTagStatus": str(id_tag_status),
        "meterStart": req.meter_start,
        "startTime": timeutil.normalize(req.timestamp, ctx.now),
    }
    if req.reservation_id is not None:
        data["reservationId"] = req.reservation_id
    _publish(ctx, TRANSACTION_STARTED, data)


def meter_values(
    ctx: CallContext, connector_id: int, tx_id: int | None, samples: list[dict[str, Any]]
) -> None:
    """Only with OCPP_EVENTS_METER_VALUES: they are most of the traffic. At most
    MAX_EVENT_SAMPLES values and MAX_EVENT_SAMPLE_CHARS of them go into the event (a
    charger's frame may hold 128 KiB of them; the stream keeps 100,000 events)."""
    if ctx.store.settings.events_meter_values and samples:
        kept, size = [], 0
        for sample in samples[:MAX_EVENT_SAMPLES]:
            size += len(json.dumps(sample))
            if size > MAX_EVENT_SAMPLE_CHARS:
                break
            kept.append(sample)
        data: MeterValues = {
            "connectorId": connector_id,
            "transactionId": tx_id,
            "sampledValues": kept,
            "sampledValueCount": len(samples),
        }
        _publish(ctx, METER_VALUES, data)


def transaction_stopped(ctx: CallContext, req: call.StopTransaction, tx: dict[str, str]) -> None:
    """Published when this charger's active transaction stops (`tx`: the transaction as
    `transactions.stop` read it before the stop): not for an unknown or a foreign id,
    nor for one stopped already."""
    if tx.get("clientId") != ctx.cp_id or tx.get("status") != "active":
        return
    meter_start = int(tx["meterStart"]) if tx.get("meterStart") else None
    data: TransactionStopped = {
        "transactionId": req.transaction_id,
        "connectorId": int(tx.get("connectorId") or 0),
        "idTag": tx.get("idTag"),
        "meterStart": meter_start,
        "meterStop": req.meter_stop,
        "energyWh": None if meter_start is None else req.meter_stop - meter_start,
        "startTime": tx.get("startTime"),
        "stopTime": timeutil.normalize(req.timestamp, ctx.now),
        "stopReason": str(req.reason or "Local"),
    }
    _publish(ctx, TRANSACTION_STOPPED, data)


def firmware_status_changed(ctx: CallContext, status: str, request_id: int | None, signed: bool) -> None:
    """Published when the charger's firmware status differs from the stored one,
    compared in the commit. Call before the writes that record it."""
    data: FirmwareStatusChanged = {
        "status": str(status),
        "previousStatus": None,  # the reader's: from the entry's `prev`
        "requestId": request_id,
        "signed": signed,
    }
    key = ctx.store.keys.chargepoint(ctx.cp_id)
    _publish(ctx, FIRMWARE_STATUS_CHANGED, data, (key, {"firmwareStatus": str(status)}))


def security_event(ctx: CallContext, req: call.SecurityEventNotification) -> None:
    data: SecurityEvent = {
        "type": req.type,
        "techInfo": req.tech_info,
        "timestamp": timeutil.normalize(req.timestamp, ctx.now),
    }
    _publish(ctx, SECURITY_EVENT, data)


# -- reservations (state.reservations: the API records them, StartTransaction uses them)


def _queue(pipe: Any, store: Store, event_type: str, cp_id: str, data: Any, now: datetime) -> None:
    stream.queue(pipe, store.keys, store.settings, event_type, cp_id, data, now)


def reservation_created(
    pipe: Any, store: Store, cp_id: str, request: dict[str, Any], answer: str, now: datetime
) -> None:
    data: ReservationCreated = {
        "reservationId": int(request["reservationId"]),
        "connectorId": int(request["connectorId"]),
        "idTag": str(request["idTag"]),
        "expiryDate": str(request["expiryDate"]),
        "answer": answer,
        "status": "active" if answer == "Accepted" else "refused",
    }
    _queue(pipe, store, RESERVATION_CREATED, cp_id, data, now)


def reservation_cancelled(pipe: Any, store: Store, cp_id: str, reservation_id: int, now: datetime) -> None:
    data: ReservationCancelled = {"reservationId": reservation_id}
    _queue(pipe, store, RESERVATION_CANCELLED, cp_id, data, now)


def reservation_used(
    pipe: Any, store: Store, cp_id: str, reservation_id: int, tx_id: int, now: datetime
) -> None:
    data: ReservationUsed = {"reservationId": reservation_id, "transactionId": tx_id}
    _queue(pipe, store, RESERVATION_USED, cp_id, data, now)


# -- the gateway's (asyncio Redis; one round trip each, never blocking its loop) ------


async def connected(r: Any, keys: Keys, settings: Settings, cp_id: str, remote: str) -> None:
    data: Connected = {"remoteAddress": remote}
    await _publish_async(r, keys, settings, CONNECTED, cp_id, data)


async def disconnected(r: Any, keys: Keys, settings: Settings, cp_id: str, close_code: int | None) -> None:
    """Call only when this connection's registration was the one removed: a socket
    replaced by the charger's newer connection is no disconnection."""
    data: Disconnected = {"closeCode": close_code}
    await _publish_async(r, keys, settings, DISCONNECTED, cp_id, data)


async def _publish_async(
    r: Any, keys: Keys, settings: Settings, event_type: str, cp_id: str, data: Any
) -> None:
    if not settings.events_enabled:
        return
    pipe = r.pipeline(transaction=True)
    stream.queue(pipe, keys, settings, event_type, cp_id, data, timeutil.utc_now())
    await pipe.execute()
