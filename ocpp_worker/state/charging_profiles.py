"""Charging profiles a charger accepted (OCPP 1.6 §3.13, SetChargingProfile and
ClearChargingProfile): the central system's copy of what is installed on each charger.

One hash per charger (``keys.charging_profiles``): chargingProfileId -> JSON
``{connectorId, csChargingProfiles, setAt}``. Profiles are JSON as the charger got them;
their decimals (a limit of 16.5) are written by ``json.dumps`` from the floats the API
parsed, which print back as the shortest text that reads as the same float, so 16.5
stays 16.5 (the 1.6 check of the request parses them as Decimal: `protocol.validation`).

Only the charger's Accepted changes the copy, through the call hooks
(`ocpp_worker.calls.AFTER_RESULT`), whatever route sent the call.

A TxProfile sent with an Accepted RemoteStartTransaction is kept too, marked with the
idTag it was sent for (``remoteStart``): the charger applies it to the transaction it
starts for that idTag. The transaction id only exists once StartTransaction comes, so
the link is made when the profiles are read (`list_profiles`), not on the workers' hot
path: the connector's current transaction, if it is that idTag's and began after the
profile was accepted. A TxProfile whose transaction has ended is gone from the charger
(§3.13.1): it is dropped from the copy when read.
"""

from __future__ import annotations

import json
from typing import Any

from ocpp_worker import timeutil
from ocpp_worker.state.store import Store

Profile = dict[str, Any]  # {"connectorId", "csChargingProfiles", "setAt"}


def list_profiles(store: Store, cp_id: str) -> list[Profile]:
    """The stored profiles, by connector, purpose, stack level; a remote start's
    TxProfile with the transaction it applies to (`transactionId`, None until it starts)."""
    profiles = [
        json.loads(text) for text in store.redis.hgetall(store.keys.charging_profiles(cp_id)).values()
    ]
    return sorted(_link_remote_starts(store, cp_id, profiles), key=_order)


def _link_remote_starts(store: Store, cp_id: str, profiles: list[Profile]) -> list[Profile]:
    pending = [p for p in profiles if "remoteStart" in p]
    if not pending:
        return profiles
    pipe = store.redis.pipeline(transaction=False)
    for entry in pending:
        pipe.hget(store.keys.connector(cp_id, entry["connectorId"]), "transactionId")
    current = pipe.execute()
    for tx_id in current:
        pipe.hmget(store.keys.transaction(int(tx_id or 0)), ["idTag", "createdAt", "status"])
    found = pipe.execute()
    ended: list[str] = []
    found_links: dict[str, str] = {}
    for entry, tx_id, (id_tag, created_at, status) in zip(pending, current, found, strict=True):
        profile_id = str(entry["csChargingProfiles"]["chargingProfileId"])
        linked = entry.get("transactionId")
        if (
            linked is None
            and tx_id
            and id_tag == entry["remoteStart"]
            and (created_at or "") >= entry["setAt"]
        ):
            linked = entry["transactionId"] = int(tx_id)  # its transaction started: kept linked
            found_links[profile_id] = json.dumps(entry, separators=(",", ":"))
        if linked is not None and (str(linked) != tx_id or status == "completed"):
            ended.append(profile_id)  # its transaction is over
    key = store.keys.charging_profiles(cp_id)
    if found_links:
        store.redis.hset(key, mapping=found_links)
    if ended:
        store.redis.hdel(key, *ended)
    gone = set(ended)
    return [p for p in profiles if str(p["csChargingProfiles"]["chargingProfileId"]) not in gone]


def _order(entry: Profile) -> tuple[int, str, int, int]:
    profile = entry["csChargingProfiles"]
    return (
        entry["connectorId"],
        profile["chargingProfilePurpose"],
        profile["stackLevel"],
        profile["chargingProfileId"],
    )


def replaced_by(entries: list[Profile], connector_id: int, profile: dict[str, Any]) -> list[Profile]:
    """The stored profiles a newly installed one replaces (§5.16.3 / §3.13.2): the one
    with its chargingProfileId, and the one with its stackLevel and purpose on its connector."""
    return [
        e
        for e in entries
        if e["csChargingProfiles"]["chargingProfileId"] == profile["chargingProfileId"]
        or (
            e["connectorId"] == connector_id
            and e["csChargingProfiles"]["stackLevel"] == profile["stackLevel"]
            and e["csChargingProfiles"]["chargingProfilePurpose"] == profile["chargingProfilePurpose"]
        )
    ]


def cleared_by(entries: list[Profile], criteria: dict[str, Any]) -> list[Profile]:
    """The stored profiles a ClearChargingProfile with these fields clears (§6.7): the
    one with `id` when given; otherwise every one matching all the other fields given
    (none given: all of them)."""
    if criteria.get("id") is not None:
        return [e for e in entries if e["csChargingProfiles"]["chargingProfileId"] == criteria["id"]]

    def matches(e: Profile) -> bool:
        profile = e["csChargingProfiles"]
        return (
            criteria.get("connectorId") in (None, e["connectorId"])
            and criteria.get("chargingProfilePurpose") in (None, profile["chargingProfilePurpose"])
            and criteria.get("stackLevel") in (None, profile["stackLevel"])
        )

    return [e for e in entries if matches(e)]


def _ids(entries: list[Profile]) -> list[str]:
    return [str(e["csChargingProfiles"]["chargingProfileId"]) for e in entries]


def record_set(store: Store, cp_id: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
    """SetChargingProfile.conf: Accepted installs the profile, replacing what it replaces."""
    if answer.get("status") != "Accepted":
        return
    key = store.keys.charging_profiles(cp_id)
    profile = request["csChargingProfiles"]
    old = _ids(replaced_by(list_profiles(store, cp_id), request["connectorId"], profile))
    entry = {
        "connectorId": request["connectorId"],
        "csChargingProfiles": profile,
        "setAt": timeutil.iso(timeutil.utc_now()),
    }
    pipe = store.redis.pipeline(transaction=True)
    if old:
        pipe.hdel(key, *old)
    pipe.hset(key, str(profile["chargingProfileId"]), json.dumps(entry, separators=(",", ":")))
    pipe.execute()


def record_remote_start(store: Store, cp_id: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
    """RemoteStartTransaction.conf: Accepted with a chargingProfile (a TxProfile) keeps
    it for the transaction the charger is about to start for the request's idTag."""
    profile = request.get("chargingProfile")
    if answer.get("status") != "Accepted" or not profile:
        return
    entry = {
        "connectorId": request.get("connectorId", 0),
        "csChargingProfiles": profile,
        "setAt": timeutil.iso(timeutil.utc_now()),
        "remoteStart": request["idTag"],
        "transactionId": None,
    }
    store.redis.hset(
        store.keys.charging_profiles(cp_id),
        str(profile["chargingProfileId"]),
        json.dumps(entry, separators=(",", ":")),
    )


def record_clear(store: Store, cp_id: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
    """ClearChargingProfile.conf: Accepted removes what the charger cleared by the
    request's criteria; Unknown (nothing matched on the charger) changes nothing."""
    if answer.get("status") != "Accepted":
        return
    old = _ids(cleared_by(list_profiles(store, cp_id), request))
    if old:
        pipe = store.redis.pipeline(transaction=False)
        pipe.hdel(store.keys.charging_profiles(cp_id), *old)
        pipe.execute()
