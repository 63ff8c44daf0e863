"""The OCPP 1.6 security extension (Improved security for OCPP 1.6-J): security
events, certificate signing requests, log and signed-firmware status."""

from __future__ import annotations

from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, GenericStatus

from ocpp_worker import timeutil
from ocpp_worker.handlers.registry import CallContext, handles
from ocpp_worker.state import chargepoints, registrations


@handles(Action.security_event_notification)
def security_event_notification(
    ctx: CallContext, req: call.SecurityEventNotification
) -> call_result.SecurityEventNotification:
    """Kept with the central system's own events of this charger (refused handshakes),
    listed and counted together (`state.registrations`)."""
    registrations.queue_event(
        ctx.writes,
        ctx.store.keys,
        ctx.cp_id,
        req.type,
        req.tech_info or "",
        timeutil.normalize(req.timestamp, ctx.now),
        source="charger",
    )
    return call_result.SecurityEventNotification()


@handles(Action.sign_certificate)
def sign_certificate(ctx: CallContext, req: call.SignCertificate) -> call_result.SignCertificate:
    """Queue the CSR for the operator's PKI, which answers later with CertificateSigned
    (through the API's generic call route)."""
    chargepoints.record_csr(ctx.store, ctx.writes, ctx.cp_id, {"csr": req.csr, "receivedAt": ctx.now_iso})
    return call_result.SignCertificate(status=GenericStatus.accepted)


@handles(Action.log_status_notification)
def log_status_notification(
    ctx: CallContext, req: call.LogStatusNotification
) -> call_result.LogStatusNotification:
    chargepoints.record_fields(
        ctx.store,
        ctx.writes,
        ctx.cp_id,
        {"logStatus": req.status, "logRequestId": req.request_id, "logStatusAt": ctx.now_iso},
    )
    return call_result.LogStatusNotification()


@handles(Action.signed_firmware_status_notification)
def signed_firmware_status_notification(
    ctx: CallContext, req: call.SignedFirmwareStatusNotification
) -> call_result.SignedFirmwareStatusNotification:
    chargepoints.record_fields(
        ctx.store,
        ctx.writes,
        ctx.cp_id,
        {
            "firmwareStatus": req.status,
            "firmwareRequestId": req.request_id,
            "firmwareStatusAt": ctx.now_iso,
        },
    )
    return call_result.SignedFirmwareStatusNotification()
