"""What a charger's notifications left on record: the latest firmware, diagnostics and
log-upload status, its DataTransfer requests and its SignCertificate CSRs. Its security
events have their own route (api/routes/security.py), its frames too (messages.py)."""

from __future__ import annotations

from typing import Any

from api.context import known_charger, store
from api.schemas.common import PageArgs, page
from api.schemas.records import (
    CsrArgs,
    CsrSchema,
    DataTransferSchema,
    DiagnosticsSchema,
    FirmwareSchema,
    LogUploadSchema,
)
from api.smorest import Blueprint
from ocpp_worker.state import records

bp = Blueprint(
    "records",
    __name__,
    url_prefix="/api/v1/chargepoints",
    description="Firmware, diagnostics and log-upload status, DataTransfer requests and CSRs of a charger",
)


@bp.get("/<charger:cp_id>/firmware")
@bp.response(200, FirmwareSchema)
@bp.errors(404)
def get_firmware(cp_id: str) -> dict[str, Any]:
    """A charger's firmware version and the status of its last firmware update

    From FirmwareStatusNotification, or SignedFirmwareStatusNotification (with its
    requestId) of the security extension; null fields: not reported yet.
    """
    return records.status_of(known_charger(cp_id), "firmware")


@bp.get("/<charger:cp_id>/diagnostics")
@bp.response(200, DiagnosticsSchema)
@bp.errors(404)
def get_diagnostics(cp_id: str) -> dict[str, Any]:
    """The status of a charger's last diagnostics upload (GetDiagnostics)"""
    return records.status_of(known_charger(cp_id), "diagnostics")


@bp.get("/<charger:cp_id>/log-upload")
@bp.response(200, LogUploadSchema)
@bp.errors(404)
def get_log_upload(cp_id: str) -> dict[str, Any]:
    """The status of a charger's last log upload (GetLog, security extension)"""
    return records.status_of(known_charger(cp_id), "logs")


@bp.get("/<charger:cp_id>/data-transfers")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page(DataTransferSchema))
@bp.errors(404)
def list_data_transfers(query: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """A charger's DataTransfer requests, newest first (the last 200 are kept)"""
    known_charger(cp_id)
    found = records.data_transfers(store(), cp_id, query["offset"], query["limit"])
    return {"items": found.items, "total": found.total}


@bp.get("/<charger:cp_id>/csrs")
@bp.arguments(CsrArgs, location="query")
@bp.response(200, page(CsrSchema))
@bp.errors(404)
def list_csrs(query: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """A charger's SignCertificate CSRs, newest first; ?status=Pending: those waiting

    Pending CSRs wait for the operator's PKI (no OCPP_CA_CERT set): sign one and send
    the chain with POST /api/v1/chargepoints/{id}/call/CertificateSigned.
    """
    known_charger(cp_id)
    found = records.csrs(store(), cp_id, query["offset"], query["limit"], query.get("status"))
    return {"items": found.items, "total": found.total}
