"""Firmware, diagnostics and log jobs: each POST sends its call to the charger and keeps
a job whose status then follows the charger's notifications (`ocpp_worker.state.jobs`).

A call that surely did not reach the charger (offline: 503, CALLERROR: 502, refused
payload: 400) leaves no job; a timed-out one (408) leaves its job with status NoAnswer,
since the charger may be working on it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import Schema

from api.context import known_charger, send, store
from api.errors import CALL_ERRORS
from api.schemas.common import page
from api.schemas.jobs import (
    DiagnosticsJobBody,
    FirmwareJobBody,
    JobArgs,
    JobSchema,
    LogJobBody,
    SignedFirmwareJobBody,
)
from api.smorest import Blueprint
from ocpp_worker import calls, timeutil
from ocpp_worker.state import jobs

bp = Blueprint(
    "jobs",
    __name__,
    url_prefix="/api/v1/chargepoints",
    description="Firmware updates, diagnostics and log uploads, each a job that follows the charger's status",
)

Payload = dict[str, Any]


def _ocpp(body: dict[str, Any], names: tuple[str, ...]) -> Payload:
    """The given fields of `body`, times as OCPP's UTC strings."""
    return {
        name: timeutil.iso(value) if isinstance(value, datetime) else value
        for name, value in body.items()
        if name in names
    }


def _firmware(body: dict[str, Any], job_id: int) -> Payload:
    return _ocpp(body, ("location", "retrieveDate", "retries", "retryInterval"))


def _diagnostics(body: dict[str, Any], job_id: int) -> Payload:
    return _ocpp(body, ("location", "startTime", "stopTime", "retries", "retryInterval"))


def _signed_firmware(body: dict[str, Any], job_id: int) -> Payload:
    firmware = _ocpp(
        body, ("location", "retrieveDateTime", "installDateTime", "signingCertificate", "signature")
    )
    return {"requestId": job_id, "firmware": firmware, **_ocpp(body, ("retries", "retryInterval"))}


def _log(body: dict[str, Any], job_id: int) -> Payload:
    log = _ocpp(body, ("remoteLocation", "oldestTimestamp", "latestTimestamp"))
    return {
        "logType": body["logType"],
        "requestId": job_id,
        "log": log,
        **_ocpp(body, ("retries", "retryInterval")),
    }


def _start(
    cp_id: str, kind: str, body: dict[str, Any], build: Callable[[dict[str, Any], int], Payload]
) -> Any:
    """Store the job, send its call, record the answer (or undo the job)."""
    known_charger(cp_id)
    s = store()
    job_id, request = jobs.create(s, cp_id, kind, lambda i: build(body, i), timeutil.iso(timeutil.utc_now()))
    try:
        answer = send(cp_id, jobs.ACTIONS[kind], request)
    except calls.CallTimeout:
        jobs.record_no_answer(s, cp_id, job_id, timeutil.iso(timeutil.utc_now()))
        raise
    except Exception:
        jobs.discard(s, cp_id, kind, job_id)
        raise
    jobs.record_answer(s, cp_id, job_id, answer, timeutil.iso(timeutil.utc_now()))
    return jobs.get(s, cp_id, job_id)


def job_route(
    path: str,
    kind: str,
    body_schema: type[Schema],
    build: Callable[[dict[str, Any], int], Payload],
    summary: str,
) -> None:
    """POST /<cp_id>/<path>: start a job of `kind`; data = the job."""

    @bp.post(f"/<charger:cp_id>/{path}", endpoint=f"start_{kind}")
    @bp.arguments(body_schema)
    @bp.response(201, JobSchema)
    @bp.errors(*CALL_ERRORS)
    @bp.doc(summary=summary)
    def view(body: dict[str, Any], cp_id: str) -> Any:
        return _start(cp_id, kind, body, build)


job_route(
    "firmware",
    "firmware",
    FirmwareJobBody,
    _firmware,
    "Update the charger's firmware (UpdateFirmware): a job",
)
job_route(
    "diagnostics",
    "diagnostics",
    DiagnosticsJobBody,
    _diagnostics,
    "Have the charger upload diagnostics (GetDiagnostics): a job",
)
job_route(
    "signed-firmware",
    "signed-firmware",
    SignedFirmwareJobBody,
    _signed_firmware,
    "Update the firmware with a signed image (SignedUpdateFirmware, security extension): a job",
)
job_route(
    "logs", "logs", LogJobBody, _log, "Have the charger upload a log (GetLog, security extension): a job"
)


@bp.get("/<charger:cp_id>/jobs")
@bp.arguments(JobArgs, location="query")
@bp.response(200, page(JobSchema))
@bp.errors(404)
def list_jobs(query: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """A charger's firmware, diagnostics and log jobs, newest first (the last 100 are kept)"""
    known_charger(cp_id)
    found = jobs.listing(store(), cp_id, query.get("kind"), query["offset"], query["limit"])
    return {"items": found.items, "total": found.total}
