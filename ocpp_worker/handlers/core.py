"""Core profile: boot, heartbeat, connector status, data transfer."""

from __future__ import annotations

from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, DataTransferStatus, RegistrationStatus

from ocpp_worker import events, timeutil
from ocpp_worker.handlers import data_transfer
from ocpp_worker.handlers.registry import CallContext, handles
from ocpp_worker.state import chargepoints, configuration, registrations

# A Pending charger sends its next BootNotification after this many seconds: well
# within the gateway's boot deadline (OCPP_BOOT_DEADLINE_S, 60 s by default), so an
# operator's Accept reaches it before that socket is closed.
PENDING_RETRY_S = 30


@handles(Action.boot_notification)
def boot_notification(ctx: CallContext, req: call.BootNotification) -> call_result.BootNotification:
    """Accepted, heartbeating at its stored HeartbeatInterval; or Pending, for a
    registered charger whose registration says ``bootStatus: Pending``.

    The policy: a charger the operator registered but has not accepted yet (its
    installation still to be checked, its key still to be set) may connect (the
    handshake checks its security profile as for any registered charger) and is
    answered Pending with an `interval` of PENDING_RETRY_S: per OCPP 1.6 §4.2 it
    boots again after that, and meanwhile the central system may send it calls
    (GetConfiguration, ChangeConfiguration AuthorizationKey, ...) through the API. Its
    ``registrationStatus`` is recorded as Pending, so the gateway does not count it as
    booted: its socket is closed at the boot deadline unless a later BootNotification
    is Accepted (the operator set ``bootStatus: Accepted``). The specification asks a
    Pending charger not to send other requests; we do not refuse them. Unregistered
    chargers (open registration) and registered ones set to Accepted are Accepted.
    """
    registration = registrations.get(ctx.store, ctx.store.keys, ctx.cp_id)
    if registration is not None and registration.boot_status == RegistrationStatus.pending:
        status, interval = RegistrationStatus.pending, PENDING_RETRY_S
    else:
        status = RegistrationStatus.accepted
        interval = int(configuration.get_value(ctx.store, ctx.cp_id, "HeartbeatInterval") or 300)
    first_boot = "bootedAt" not in (chargepoints.get(ctx.store, ctx.cp_id) or {})
    chargepoints.record_boot(ctx.store, ctx.writes, ctx.cp_id, ctx.payload, status, ctx.now_iso)
    events.booted(ctx, req, status)
    if first_boot and ctx.store.settings.sync_config_on_boot:
        # learn the charger's own configuration (the bridge stores the answer:
        # `ocpp_worker.answers`), without delaying this reply
        ctx.call_after_reply("GetConfiguration", {})
    return call_result.BootNotification(current_time=ctx.now_iso, interval=interval, status=status)


@handles(Action.heartbeat)
def heartbeat(ctx: CallContext, req: call.Heartbeat) -> call_result.Heartbeat:
    chargepoints.record_fields(ctx.store, ctx.writes, ctx.cp_id, {"lastHeartbeat": ctx.now_iso})
    return call_result.Heartbeat(current_time=ctx.now_iso)


@handles(Action.status_notification)
def status_notification(ctx: CallContext, req: call.StatusNotification) -> call_result.StatusNotification:
    """Replace the connector's state; connector 0 is the charger itself."""
    events.status_changed(ctx, req)
    chargepoints.record_status(
        ctx.store,
        ctx.writes,
        ctx.cp_id,
        req.connector_id,
        {
            "status": req.status,
            "errorCode": req.error_code,
            "info": req.info,
            "vendorId": req.vendor_id,
            "vendorErrorCode": req.vendor_error_code,
            "timestamp": timeutil.normalize(req.timestamp, ctx.now),
            "updatedAt": ctx.now_iso,
        },
    )
    return call_result.StatusNotification()


# A DataTransfer is kept with at most this much of its data (and the data's length).
DATA_KEPT_CHARS = 4096


@handles(Action.data_transfer)
def data_transfer_request(ctx: CallContext, req: call.DataTransfer) -> call_result.DataTransfer:
    """Record the request; a vendor handler answers it, else UnknownVendorId."""
    entry = {"receivedAt": ctx.now_iso, **ctx.payload}
    if req.data is not None and len(req.data) > DATA_KEPT_CHARS:
        entry.update(data=req.data[:DATA_KEPT_CHARS], dataLength=len(req.data), truncated=True)
    chargepoints.record_data_transfer(ctx.store, ctx.writes, ctx.cp_id, entry)
    vendor = data_transfer.VENDORS.get(req.vendor_id)
    if vendor is None:
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)
    return vendor(ctx, req)
