"""The OCPP 1.6 security extension (Improved security for OCPP 1.6-J): security
events, certificate signing requests, log and signed-firmware status."""

from __future__ import annotations

from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, GenericStatus

from ocpp_worker import certificates, events, timeutil
from ocpp_worker.handlers.registry import CallContext, handles
from ocpp_worker.state import chargepoints, jobs, registrations

CSR_REJECTED = registrations.GatewayEvent.CSR_REJECTED


@handles(Action.security_event_notification)
def security_event_notification(
    ctx: CallContext, req: call.SecurityEventNotification
) -> call_result.SecurityEventNotification:
    """Kept with the central system's own events of this charger (refused handshakes),
    listed and counted together (`state.registrations`)."""
    events.security_event(ctx, req)
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
    """With a CSMS CA configured (`certificates`), check the CSR and sign it: Accepted,
    then CertificateSigned with the chain right after the reply (the extension's
    order); a CSR we do not sign is Rejected and a security event of the charger.
    Without one, Accepted and kept for the operator's PKI, which answers later with
    CertificateSigned through the API's generic call route. Every CSR is kept with
    its outcome (`Keys.csrs`): the record of the certificates issued."""
    entry = {"csr": req.csr, "receivedAt": ctx.now_iso}
    ca = certificates.authority(ctx.store.settings)
    if ca is None:
        chargepoints.record_csr(ctx.store, ctx.writes, ctx.cp_id, {**entry, "status": "Pending"})
        return call_result.SignCertificate(status=GenericStatus.accepted)
    try:
        csr = certificates.check_csr(req.csr, ctx.cp_id)
    except certificates.CsrRejected as exc:
        reason = f"SignCertificate refused: {exc}"
        chargepoints.record_csr(
            ctx.store, ctx.writes, ctx.cp_id, {**entry, "status": "Rejected", "reason": reason}
        )
        registrations.queue_event(ctx.writes, ctx.store.keys, ctx.cp_id, CSR_REJECTED, reason, ctx.now_iso)
        return call_result.SignCertificate(status=GenericStatus.rejected)
    cert = certificates.sign(ca, csr, ctx.now)
    serial = f"{cert.serial_number:x}"
    issued = {"status": "Signed", "serialNumber": serial, "notAfter": timeutil.iso(cert.not_valid_after_utc)}
    chargepoints.record_csr(ctx.store, ctx.writes, ctx.cp_id, {**entry, **issued})
    ctx.call_after_reply("CertificateSigned", {"certificateChain": certificates.chain(ca, cert)})
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
    if req.request_id is not None:  # GetLog's requestId is our job id
        jobs.record_status(ctx.store, ctx.writes, ctx.cp_id, "logs", req.request_id, req.status, ctx.now_iso)
    return call_result.LogStatusNotification()


@handles(Action.signed_firmware_status_notification)
def signed_firmware_status_notification(
    ctx: CallContext, req: call.SignedFirmwareStatusNotification
) -> call_result.SignedFirmwareStatusNotification:
    events.firmware_status_changed(ctx, req.status, req.request_id, signed=True)
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
    if req.request_id is not None:  # SignedUpdateFirmware's requestId is our job id
        jobs.record_status(
            ctx.store, ctx.writes, ctx.cp_id, "signed-firmware", req.request_id, req.status, ctx.now_iso
        )
    return call_result.SignedFirmwareStatusNotification()
