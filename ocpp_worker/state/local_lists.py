"""Local authorization lists (OCPP 1.6 §5.15, §5.10): one CSMS-side list per charger.

Why one list per charger and not named lists shared by chargers: the charger's list
version is per charger anyway, and a per-charger list needs no fan-out nor a second
version space; operators wanting the same list on many chargers PUT it to each.

The whole state of a charger's list is one JSON document (``keys.local_list``):
``wanted`` (the entries the operator asked for, version ``wantedVersion``), ``confirmed``
(the entries the charger holds as far as its answers told us, version
``confirmedVersion``; None: unknown), ``fullNext`` (the next send must be Full: after a
VersionMismatch) and ``lastAnswer``. One document because Differential updates are
computed from `confirmed` and must never see half of a change. Writes are
last-writer-wins: two operators PUTting the same charger's list at once is not a case
worth a lock (the later one's send makes the charger's list theirs).

Only what the charger answered moves ``confirmed``: `record_answer` (SendLocalList.conf)
and `record_reported_version` (GetLocalListVersion.conf), called from the call hooks
(`ocpp_worker.calls.AFTER_RESULT`) so any route that sends these calls keeps it true.
"""

from __future__ import annotations

import json
from typing import Any

from ocpp_worker import timeutil
from ocpp_worker.state import configuration
from ocpp_worker.state.store import Store

#: The most entries a wanted list may hold (the API refuses more). 1.6 sets no bound;
#: 10,000 idTags is several times any charger's LocalAuthListMaxLength seen in practice.
MAX_ENTRIES = 10_000
#: GetLocalListVersion answers -1 when the charger has no local list support (§6.30).
NOT_SUPPORTED_VERSION = -1

Entries = dict[str, dict[str, Any]]  # idTag -> idTagInfo


class ListTooLong(ValueError):
    """The update would not fit in one SendLocalList the charger takes."""


def _empty() -> dict[str, Any]:
    return {
        "wantedVersion": 0,
        "wanted": {},
        "confirmedVersion": None,
        "confirmed": {},
        "reportedVersion": None,
        "fullNext": False,
        "lastAnswer": None,
    }


def get(store: Store, cp_id: str) -> dict[str, Any]:
    """The list state of a charger (an empty list at version 0 if none was ever set)."""
    text = store.redis.get(store.keys.local_list(cp_id))
    return {**_empty(), **json.loads(text)} if text else _empty()


def _put(store: Store, cp_id: str, state: dict[str, Any]) -> None:
    store.redis.set(store.keys.local_list(cp_id), json.dumps(state, separators=(",", ":")))


def needs_full(state: dict[str, Any]) -> bool:
    """Full when the charger's list is unknown, older than what we last wanted, or
    the charger said VersionMismatch; Differential only from a confirmed base."""
    return (
        state["fullNext"]
        or state["confirmedVersion"] is None
        or state["confirmedVersion"] != state["wantedVersion"]
    )


def _authorization_data(entries: Entries) -> list[dict[str, Any]]:
    return [{"idTag": tag, "idTagInfo": info} for tag, info in sorted(entries.items())]


def _differences(old: Entries, new: Entries) -> list[dict[str, Any]]:
    """The Differential entries turning `old` into `new`: changed or added ones with
    their idTagInfo, removed ones without (§6.41: an entry without idTagInfo is deleted)."""
    changed = [{"idTag": t, "idTagInfo": i} for t, i in sorted(new.items()) if old.get(t) != i]
    removed = [{"idTag": t} for t in sorted(old) if t not in new]
    return changed + removed


def send_limit(store: Store, cp_id: str) -> int:
    """The most entries one SendLocalList may carry to this charger: its
    SendLocalListMaxLength as stored (reported by the charger or the 1.6 default)."""
    value = configuration.get_value(store, cp_id, "SendLocalListMaxLength") or "0"
    try:
        return int(value)
    except ValueError:
        return 0


def prepare(store: Store, cp_id: str, entries: Entries, full: bool | None = None) -> dict[str, Any]:
    """Store `entries` as the wanted list under a new version and return the
    SendLocalList payload that brings the charger to it (Full or Differential per
    `needs_full`, or as `full` forces). Raises `ListTooLong`, storing nothing, when the
    payload exceeds the charger's SendLocalListMaxLength: one call, no splitting."""
    state = get(store, cp_id)
    full = needs_full(state) if full is None else full
    data = _authorization_data(entries) if full else _differences(state["confirmed"], entries)
    limit = send_limit(store, cp_id)
    if len(data) > limit:
        raise ListTooLong(
            f"{len(data)} entries to send, the charger takes at most {limit} per SendLocalList"
            " (SendLocalListMaxLength)"
        )
    known = [v for v in (state["confirmedVersion"], state["reportedVersion"]) if isinstance(v, int)]
    version = max([state["wantedVersion"], *known]) + 1
    state.update(wantedVersion=version, wanted=entries)
    _put(store, cp_id, state)
    payload: dict[str, Any] = {"listVersion": version, "updateType": "Full" if full else "Differential"}
    if data:
        payload["localAuthorizationList"] = data
    return payload


def resend(store: Store, cp_id: str) -> dict[str, Any]:
    """The Full SendLocalList of the wanted list, under a new version."""
    return prepare(store, cp_id, get(store, cp_id)["wanted"], full=True)


def record_answer(store: Store, cp_id: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
    """SendLocalList.conf: Accepted makes the sent list (or the sent changes) the
    confirmed one; VersionMismatch makes the next send Full; every status is shown."""
    state = get(store, cp_id)
    status = answer.get("status")
    sent: dict[str, dict[str, Any] | None] = {
        e["idTag"]: e.get("idTagInfo") for e in request.get("localAuthorizationList") or []
    }
    if status == "Accepted":
        if request["updateType"] == "Full":
            confirmed = {tag: info for tag, info in sent.items() if info is not None}
        else:
            confirmed = dict(state["confirmed"])
            for tag, info in sent.items():
                if info is None:
                    confirmed.pop(tag, None)
                else:
                    confirmed[tag] = info
        state.update(confirmed=confirmed, confirmedVersion=request["listVersion"], fullNext=False)
        state["reportedVersion"] = request["listVersion"]
    elif status == "VersionMismatch":
        state["fullNext"] = True
    state["lastAnswer"] = {
        "action": "SendLocalList",
        "status": status,
        "updateType": request.get("updateType"),
        "listVersion": request.get("listVersion"),
        "at": timeutil.iso(timeutil.utc_now()),
    }
    _put(store, cp_id, state)


def record_reported_version(store: Store, cp_id: str, version: int) -> None:
    """GetLocalListVersion.conf: the charger's version. The same as the wanted one
    means it holds the wanted list; another one means our confirmed copy is stale."""
    state = get(store, cp_id)
    state["reportedVersion"] = version
    if version == NOT_SUPPORTED_VERSION:
        status = "NotSupported"
    elif version == state["wantedVersion"]:
        state.update(confirmed=state["wanted"], confirmedVersion=version)
        status = "InSync"
    else:
        state["fullNext"] = True
        status = "Differs"
    state["lastAnswer"] = {
        "action": "GetLocalListVersion",
        "status": status,
        "listVersion": version,
        "at": timeutil.iso(timeutil.utc_now()),
    }
    _put(store, cp_id, state)


def in_sync(state: dict[str, Any]) -> bool:
    return state["confirmedVersion"] == state["wantedVersion"] and not state["fullNext"]
