"""A charger's local authorization list: stored here, sent with SendLocalList."""

from __future__ import annotations

from typing import Any

from api.context import known_charger, send, store
from api.errors import CALL_ERRORS, invalid
from api.schemas.local_lists import LocalListBody, LocalListSchema
from api.smorest import Blueprint
from ocpp_worker import timeutil
from ocpp_worker.state import local_lists

bp = Blueprint(
    "local_lists", __name__, url_prefix="/api/v1/chargepoints", description="Local authorization lists"
)


def _view(cp_id: str, sent: dict[str, Any] | None = None) -> dict[str, Any]:
    state = local_lists.get(store(), cp_id)
    view = {
        "wantedVersion": state["wantedVersion"],
        "confirmedVersion": state["confirmedVersion"],
        "reportedVersion": state["reportedVersion"],
        "inSync": local_lists.in_sync(state),
        "nextUpdateType": "Full" if local_lists.needs_full(state) else "Differential",
        "entries": [{"idTag": tag, "idTagInfo": info} for tag, info in sorted(state["wanted"].items())],
        "confirmedEntries": len(state["confirmed"]),
        "lastAnswer": state["lastAnswer"],
    }
    if sent is not None:
        view["sent"] = sent
    return view


def _entries(body: dict[str, Any]) -> local_lists.Entries:
    entries: local_lists.Entries = {}
    for index, entry in enumerate(body["entries"]):
        if entry["idTag"] in entries:
            raise invalid("duplicate idTag", {"entries": {str(index): {"idTag": ["Duplicate idTag."]}}})
        info = dict(entry.get("idTagInfo") or {"status": "Accepted"})
        if "expiryDate" in info:
            info["expiryDate"] = timeutil.iso(info["expiryDate"])
        entries[entry["idTag"]] = info
    return entries


def _send(cp_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Send a SendLocalList; the call hook records the answer in the stored state."""
    answer = send(cp_id, "SendLocalList", payload)
    return {
        "updateType": payload["updateType"],
        "listVersion": payload["listVersion"],
        "entries": len(payload.get("localAuthorizationList", [])),
        "status": answer["status"],
    }


def _prepare(cp_id: str, entries: local_lists.Entries | None) -> dict[str, Any]:
    try:
        if entries is None:
            return local_lists.resend(store(), cp_id)
        return local_lists.prepare(store(), cp_id, entries)
    except local_lists.ListTooLong as exc:
        raise invalid(str(exc), {"entries": [str(exc)]}) from None


@bp.get("/<charger:cp_id>/local-list")
@bp.response(200, LocalListSchema)
@bp.errors(404)
def get_local_list(cp_id: str) -> dict[str, Any]:
    """The wanted list and version, the version the charger confirmed, its last answer"""
    known_charger(cp_id)
    return _view(cp_id)


@bp.put("/<charger:cp_id>/local-list")
@bp.arguments(LocalListBody)
@bp.response(200, LocalListSchema)
@bp.errors(*CALL_ERRORS)
def put_local_list(body: dict[str, Any], cp_id: str) -> dict[str, Any]:
    """Store the wanted list under a new version and send it (SendLocalList)

    Full when the charger's version is unknown or not the last one wanted, or after a
    VersionMismatch; Differential (only changed and removed entries) otherwise. An entry
    without idTagInfo is Accepted. The update must fit in one SendLocalList
    (the charger's SendLocalListMaxLength), else 400 and nothing changes. Only an
    Accepted answer changes the confirmed version; a CALLERROR (502) or an offline
    charger (503) leave it as it was.
    """
    known_charger(cp_id)
    return _view(cp_id, _send(cp_id, _prepare(cp_id, _entries(body))))


@bp.post("/<charger:cp_id>/local-list/sync")
@bp.response(200, LocalListSchema)
@bp.errors(*CALL_ERRORS)
def sync_local_list(cp_id: str) -> dict[str, Any]:
    """Read the charger's version (GetLocalListVersion); send the wanted list in full when it differs"""
    known_charger(cp_id)
    answer = send(cp_id, "GetLocalListVersion", {})
    state = local_lists.get(store(), cp_id)
    if answer["listVersion"] == local_lists.NOT_SUPPORTED_VERSION or local_lists.in_sync(state):
        return _view(cp_id)
    return _view(cp_id, _send(cp_id, _prepare(cp_id, None)))
