"""The idTag policy (idtags.id_tag_info): a refusing parent, and ConcurrentTx."""

import dataclasses
import json

import pytest

from ocpp_worker.handlers import answer
from ocpp_worker.state import idtags
from ocpp_worker.state.store import Store
from tests.support.handlers import NOW, START

STOP = {"meterStop": 200, "timestamp": "2026-06-01T11:30:00Z", "idTag": "T"}


def status_of(store, cp_id, unique_id, action, payload):
    frame = answer(store, cp_id, unique_id, action, payload, NOW)
    return json.loads(frame)[2]


@pytest.mark.parametrize("parent_status", ["Blocked", "Invalid"])
def test_a_refusing_parent_refuses_its_child_everywhere(fresh, parent_status):
    idtags.put(fresh, "FLEET", parent_status)
    idtags.put(fresh, "T", "Accepted", parent_id_tag="FLEET")
    assert status_of(fresh, "CP", "a", "Authorize", {"idTag": "T"})["idTagInfo"] == {
        "status": parent_status,
        "parentIdTag": "FLEET",
    }
    started = status_of(fresh, "CP", "s", "StartTransaction", START)
    assert started["idTagInfo"]["status"] == parent_status
    stop = {**STOP, "transactionId": started["transactionId"]}
    assert status_of(fresh, "CP", "e", "StopTransaction", stop)["idTagInfo"]["status"] == parent_status


def test_an_expired_parent_expires_its_child_but_an_accepted_or_unknown_one_does_not(fresh):
    idtags.put(fresh, "T", "Accepted", parent_id_tag="FLEET")
    assert idtags.id_tag_info(fresh, "T", NOW)["status"] == "Accepted"  # parent unregistered
    idtags.put(fresh, "FLEET", "Accepted", expiry_date="2026-06-01T12:00:01Z")
    assert idtags.id_tag_info(fresh, "T", NOW)["status"] == "Accepted"
    idtags.put(fresh, "FLEET", "Accepted", expiry_date="2026-06-01T11:59:59Z")
    assert idtags.id_tag_info(fresh, "T", NOW)["status"] == "Expired"


def test_the_childs_own_refusal_comes_first(fresh):
    idtags.put(fresh, "FLEET", "Invalid")
    idtags.put(fresh, "T", "Blocked", parent_id_tag="FLEET")
    assert idtags.id_tag_info(fresh, "T", NOW)["status"] == "Blocked"


def test_a_tag_in_an_active_transaction_is_concurrent_on_any_charger_until_stopped(fresh):
    idtags.put(fresh, "T", "Accepted")
    first = status_of(fresh, "CP1", "s1", "StartTransaction", START)
    assert first["idTagInfo"]["status"] == "Accepted"
    assert status_of(fresh, "CP2", "a", "Authorize", {"idTag": "T"})["idTagInfo"]["status"] == "ConcurrentTx"
    second = status_of(fresh, "CP2", "s2", "StartTransaction", START)
    assert second["idTagInfo"]["status"] == "ConcurrentTx"
    assert second["transactionId"] != first["transactionId"]  # recorded all the same
    # the second one's own stop gets the tag's status, not ConcurrentTx
    stop = {**STOP, "transactionId": second["transactionId"]}
    assert status_of(fresh, "CP2", "e2", "StopTransaction", stop)["idTagInfo"]["status"] == "Accepted"
    assert idtags.id_tag_info(fresh, "T", NOW, concurrent_check=True)["status"] == "ConcurrentTx"
    stop = {**STOP, "transactionId": first["transactionId"]}
    status_of(fresh, "CP1", "e1", "StopTransaction", stop)
    assert status_of(fresh, "CP1", "a2", "Authorize", {"idTag": "T"})["idTagInfo"]["status"] == "Accepted"


def test_a_foreign_stop_does_not_free_the_tag(fresh):
    idtags.put(fresh, "T", "Accepted")
    started = status_of(fresh, "CP1", "s1", "StartTransaction", START)
    status_of(fresh, "CP2", "e", "StopTransaction", {**STOP, "transactionId": started["transactionId"]})
    assert idtags.id_tag_info(fresh, "T", NOW, concurrent_check=True)["status"] == "ConcurrentTx"


def test_concurrent_transactions_allowed_when_configured(fresh):
    lenient = Store(fresh.redis, dataclasses.replace(fresh.settings, allow_concurrent_tx=True))
    idtags.put(lenient, "T", "Accepted")
    status_of(lenient, "CP1", "s1", "StartTransaction", START)
    assert status_of(lenient, "CP2", "s2", "StartTransaction", START)["idTagInfo"]["status"] == "Accepted"
    assert idtags.id_tag_info(lenient, "T", NOW, concurrent_check=True)["status"] == "Accepted"
