"""Prefer: respond-async and the commands routes: queued for an offline or busy charger
(202), sent now for an online idle one (200), cancel, expiry, the per-charger bound."""

from __future__ import annotations

import time

from ocpp_worker import commands
from ocpp_worker.state import chargepoints
from ocpp_worker.state import commands as command_state
from tests.api.conftest import envelope_of, eventually, ok

PREFER = {"Prefer": "respond-async"}


def register(api, cp_id: str) -> None:
    ok(api.request("PUT", f"/api/v1/chargepoints/{cp_id}", json={"securityProfile": 0}), 201)


def queue_reset(api, cp_id: str, kind: str = "Soft", **kwargs):
    headers = kwargs.pop("headers", PREFER)
    return api.request(
        "POST", f"/api/v1/chargepoints/{cp_id}/reset", json={"type": kind}, headers=headers, **kwargs
    )


def test_offline_charger_queues_with_prefer_and_a_queued_command_can_be_cancelled(api, cp_id):
    register(api, cp_id)
    response = queue_reset(api, cp_id, headers={"Prefer": "wait=5, respond-async"})
    body = envelope_of(response, 202)
    command = body["data"]
    assert body["message"] == "queued: the charge point is offline"
    assert response.headers["Location"] == f"/api/v1/commands/{command['id']}"
    assert response.headers["Preference-Applied"] == "respond-async"
    assert command["status"] == "queued" and command["action"] == "Reset"
    assert command["payload"] == {"type": "Soft"} and command["chargerId"] == cp_id
    assert command["sentAt"] is None and command["answer"] is None
    assert ok(api.request("GET", response.headers["Location"])) == command
    later = envelope_of(queue_reset(api, cp_id, "Hard"), 202)["data"]
    listed = ok(api.request("GET", f"/api/v1/chargepoints/{cp_id}/commands"))
    assert [c["id"] for c in listed["items"]] == [command["id"], later["id"]] and listed["total"] == 2
    cancelled = ok(api.request("DELETE", f"/api/v1/commands/{command['id']}"))
    assert cancelled["status"] == "cancelled" and cancelled["endedAt"]
    again = envelope_of(api.request("DELETE", f"/api/v1/commands/{command['id']}"), 409)
    assert "cancelled" in again["message"]
    envelope_of(api.request("GET", f"/api/v1/commands/{command_state.new_id()}"), 404)
    envelope_of(api.request("GET", "/api/v1/commands/not-a-command"), 404)
    envelope_of(api.request("DELETE", "/api/v1/commands/not-a-command"), 404)
    envelope_of(api.request("GET", "/api/v1/chargepoints/CP-NOBODY-HERE/commands"), 404)


def test_without_the_preference_nothing_changes(api, cp_id):
    register(api, cp_id)
    envelope_of(queue_reset(api, cp_id, headers={}), 404)  # registered, never connected
    envelope_of(queue_reset(api, cp_id, headers={"Prefer": "return=minimal"}), 404)
    assert ok(api.request("GET", f"/api/v1/chargepoints/{cp_id}/commands"))["total"] == 0


def test_refused_calls_are_never_queued(api, cp_id):
    register(api, cp_id)
    url = f"/api/v1/chargepoints/{cp_id}/call"
    envelope_of(api.request("POST", f"{url}/Reset", json={"type": "Sideways"}, headers=PREFER), 400)
    envelope_of(api.request("POST", f"{url}/BootNotification", json={}, headers=PREFER), 404)
    for bad in ("0", "-1", "x", "604801", "1e3"):
        envelope_of(queue_reset(api, cp_id, query_string={"expiresIn": bad}), 400)
    # an AuthorizationKey is never kept in Redis: the call goes the live way (404 here)
    secret = {"key": "AuthorizationKey", "value": "0123456789abcdef0123"}
    envelope_of(api.request("POST", f"{url}/ChangeConfiguration", json=secret, headers=PREFER), 404)
    envelope_of(queue_reset(api, "CP-NEVER-SEEN-" + cp_id), 404)  # unknown charger: no queue
    assert ok(api.request("GET", f"/api/v1/chargepoints/{cp_id}/commands"))["total"] == 0


def test_at_most_max_queued_per_charger(api, cp_id, store):
    register(api, cp_id)
    limit = store.settings.command_max_queued
    for _ in range(limit):
        envelope_of(
            api.request("POST", f"/api/v1/chargepoints/{cp_id}/call/ClearCache", json={}, headers=PREFER), 202
        )
    full = envelope_of(
        api.request("POST", f"/api/v1/chargepoints/{cp_id}/call/ClearCache", json={}, headers=PREFER), 429
    )
    assert str(limit) in full["message"]
    assert (
        ok(api.request("GET", f"/api/v1/chargepoints/{cp_id}/commands", query_string={"limit": 500}))["total"]
        == limit
    )


def test_a_command_expires_after_expires_in(api, cp_id, store):
    register(api, cp_id)
    command = envelope_of(queue_reset(api, cp_id, query_string={"expiresIn": "1"}), 202)["data"]
    assert command["expiresAt"] > command["createdAt"]
    time.sleep(1.1)
    commands.sweep(store)
    expired = ok(api.request("GET", f"/api/v1/commands/{command['id']}"))
    assert expired["status"] == "expired" and expired["sentAt"] is None
    envelope_of(api.request("DELETE", f"/api/v1/commands/{command['id']}"), 409)


async def test_online_idle_goes_now_and_busy_queues_behind(api, chargers, cp_id, store):
    cp = await chargers.connect(cp_id)
    response = await api.post(f"/api/v1/chargepoints/{cp_id}/reset", json={"type": "Soft"}, headers=PREFER)
    assert ok(response) == {"status": "Accepted"}
    assert "Preference-Applied" not in response.headers
    # a command of ours in flight (sent, not answered): a new call must wait behind it
    store.redis.set(store.keys.command_inflight(cp_id), command_state.new_id())
    response = await api.post(f"/api/v1/chargepoints/{cp_id}/reset", json={"type": "Hard"}, headers=PREFER)
    body = envelope_of(response, 202)
    assert body["message"] == "queued: the charge point is busy: queued behind its earlier commands"
    command_id = body["data"]["id"]
    store.redis.delete(store.keys.command_inflight(cp_id))  # its answer came (or the sweep failed it)
    assert commands.deliver_next(store, cp_id) == command_id

    async def answered():
        data = ok(await api.get(f"/api/v1/commands/{command_id}"))
        return data if data["status"] == "answered" else None

    done = await eventually(answered, timeout=10)
    assert done["answer"] == {"status": "Accepted"}
    assert [kind for action, kind in cp.received if action == "Reset"] == [{"type": "Soft"}, {"type": "Hard"}]


async def test_a_charger_accepted_before_gets_its_queue_when_it_reconnects_without_booting(
    api, chargers, cp_id, store
):
    await chargers.connect(cp_id)  # Accepted once
    await chargers.close_all()

    async def gone():
        return chargepoints.registration(store, cp_id) is None

    assert await eventually(gone)
    body = envelope_of(
        await api.post(f"/api/v1/chargepoints/{cp_id}/reset", json={"type": "Soft"}, headers=PREFER), 202
    )
    assert body["message"] == "queued: the charge point is offline"
    cp = await chargers.connect(cp_id, boot=False)

    async def answered():
        data = ok(await api.get(f"/api/v1/commands/{body['data']['id']}"))
        return data if data["status"] == "answered" else None

    assert (await eventually(answered, timeout=10))["answer"] == {"status": "Accepted"}
    assert cp.received == [("Reset", {"type": "Soft"})]


def test_a_retried_queueing_request_with_an_idempotency_key_queues_once(api, cp_id):
    register(api, cp_id)
    headers = {**PREFER, "Idempotency-Key": f"queue-{cp_id}"}
    first = queue_reset(api, cp_id, headers=headers)
    again = queue_reset(api, cp_id, headers=headers)
    assert envelope_of(first, 202)["data"] == envelope_of(again, 202)["data"]
    assert again.headers["Location"] == first.headers["Location"]
    assert ok(api.request("GET", f"/api/v1/chargepoints/{cp_id}/commands"))["total"] == 1
