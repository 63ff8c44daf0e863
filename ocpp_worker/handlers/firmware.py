"""Firmware management and diagnostics: status notifications recorded on the charger
(its latest status, api/routes/records.py) and in the history of its latest job of
that kind (the notifications carry no request id; `state.jobs`)."""

from __future__ import annotations

from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from ocpp_worker import events
from ocpp_worker.handlers.registry import CallContext, handles
from ocpp_worker.state import chargepoints, jobs


@handles(Action.diagnostics_status_notification)
def diagnostics_status_notification(
    ctx: CallContext, req: call.DiagnosticsStatusNotification
) -> call_result.DiagnosticsStatusNotification:
    chargepoints.record_fields(
        ctx.store,
        ctx.writes,
        ctx.cp_id,
        {"diagnosticsStatus": req.status, "diagnosticsStatusAt": ctx.now_iso},
    )
    jobs.record_status(ctx.store, ctx.writes, ctx.cp_id, "diagnostics", None, req.status, ctx.now_iso)
    return call_result.DiagnosticsStatusNotification()


@handles(Action.firmware_status_notification)
def firmware_status_notification(
    ctx: CallContext, req: call.FirmwareStatusNotification
) -> call_result.FirmwareStatusNotification:
    events.firmware_status_changed(ctx, req.status, None, signed=False)
    chargepoints.record_fields(
        ctx.store, ctx.writes, ctx.cp_id, {"firmwareStatus": req.status, "firmwareStatusAt": ctx.now_iso}
    )
    jobs.record_status(ctx.store, ctx.writes, ctx.cp_id, "firmware", None, req.status, ctx.now_iso)
    return call_result.FirmwareStatusNotification()
