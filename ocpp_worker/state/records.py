"""The records chargers' notifications leave behind, read for the API: the latest
firmware, diagnostics and log-upload status (fields of the charger's hash, written by
handlers/firmware.py and handlers/security.py), its DataTransfer requests and its
SignCertificate CSRs (capped lists, newest last, written through
`state.chargepoints.record_data_transfer` / `record_csr`).

The lists are read newest first; both are capped (200 and 1,000 entries), so even a
filtered read of the CSRs touches a bounded number of entries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ocpp_worker.state.chargepoints import CSRS_KEPT
from ocpp_worker.state.store import Store

CSR_STATUSES = ("Pending", "Signed", "Rejected")

# The status records, each a few fields of the charger's hash: name in the API -> field.
STATUS_FIELDS: dict[str, dict[str, str]] = {
    # FirmwareStatusNotification / SignedFirmwareStatusNotification (requestId: signed only)
    "firmware": {
        "status": "firmwareStatus",
        "statusAt": "firmwareStatusAt",
        "requestId": "firmwareRequestId",
        "firmwareVersion": "firmwareVersion",
    },
    # DiagnosticsStatusNotification (GetDiagnostics uploads)
    "diagnostics": {"status": "diagnosticsStatus", "statusAt": "diagnosticsStatusAt"},
    # LogStatusNotification (GetLog uploads, the security extension)
    "logs": {"status": "logStatus", "statusAt": "logStatusAt", "requestId": "logRequestId"},
}


@dataclass(frozen=True)
class Listing:
    items: list[dict[str, Any]]
    total: int  # entries kept (of that status, when filtered)


def status_of(info: dict[str, str], record: str) -> dict[str, Any]:
    """One status record (`STATUS_FIELDS`) from a charger's hash; None where unknown.
    Request ids are integers in OCPP; a value that is not one is left out."""
    found: dict[str, Any] = {name: info.get(field) for name, field in STATUS_FIELDS[record].items()}
    if "requestId" in found:
        raw = found["requestId"]
        found["requestId"] = int(raw) if raw is not None and raw.lstrip("-").isdigit() else None
    return found


def _decoded(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _newest(store: Store, key: str, offset: int, limit: int) -> Listing:
    """A page of a list kept newest last, newest first, and the list's length."""
    pipe = store.redis.pipeline(transaction=False)
    pipe.llen(key)
    pipe.lrange(key, -(offset + limit), -(offset + 1))
    total, raw = pipe.execute()
    return Listing([_decoded(entry) for entry in reversed(raw)], int(total))


def data_transfers(store: Store, cp_id: str, offset: int = 0, limit: int = 100) -> Listing:
    """A charger's DataTransfer requests, newest first: ``receivedAt``, ``vendorId``,
    ``messageId``, ``data`` (cut at 4,096 characters: then ``dataLength`` and
    ``truncated``)."""
    return _newest(store, store.keys.data_transfers(cp_id), offset, limit)


def csrs(store: Store, cp_id: str, offset: int = 0, limit: int = 100, status: str | None = None) -> Listing:
    """A charger's SignCertificate CSRs, newest first, only those of `status` when given
    (Pending: waiting for the operator's PKI). Reads the whole capped list (at most
    `CSRS_KEPT` entries) when filtering."""
    if status is None:
        return _newest(store, store.keys.csrs(cp_id), offset, limit)
    entries = [
        _decoded(entry) for entry in reversed(store.redis.lrange(store.keys.csrs(cp_id), -CSRS_KEPT, -1))
    ]
    matching = [entry for entry in entries if entry.get("status") == status]
    return Listing(matching[offset : offset + limit], len(matching))
