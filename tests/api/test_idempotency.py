"""Idempotency-Key on the REST API (api/idempotency.py), with real chargers: a retried
request reaches the charger once, and every other rule of docs/API.md."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16.enums import Action

from api import create_app
from api import idempotency as rules
from ocpp_worker import timeutil
from ocpp_worker.simulate import SimulatedChargePoint
from ocpp_worker.state import chargepoints
from tests.api.conftest import Api, HttpApi, envelope_of, eventually, ok

REMOTE_START = "/api/v1/transactions/remote-start"
ANSWER_DELAY = 1.5  # how long SlowCharger thinks about a RemoteStartTransaction


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


def sent(cp: SimulatedChargePoint, action: str) -> int:
    """How many CALLs of `action` the charger received."""
    return sum(1 for name, _ in cp.received if name == action)


def record(store, key: str, authorization: str | None = None) -> dict[str, str]:
    return store.redis.hgetall(store.keys.idempotency(rules.record_digest(authorization, key)))


async def registered_tag(api: Api, cp_id: str) -> str:
    tag = f"T{cp_id[-6:]}"
    ok(await api.put(f"/api/v1/idtags/{tag}", json={"status": "Accepted"}), 201)
    return tag


class SlowCharger(SimulatedChargePoint):
    """Answers RemoteStartTransaction after ANSWER_DELAY: a request stays in flight."""

    thinking = 0  # RemoteStartTransactions received and not answered yet

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **kw: Any) -> Any:
        self.thinking += 1
        await asyncio.sleep(ANSWER_DELAY)
        self.thinking -= 1
        return super().on_remote_start(id_tag, connector_id, **kw)


@contextlib.asynccontextmanager
async def slow_charger(ws_url: str, cp_id: str) -> AsyncIterator[SlowCharger]:
    ws = await websockets.connect(f"{ws_url}/{cp_id}", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    cp = SlowCharger(cp_id, ws, connectors=2, power_w=0, response_timeout=15)
    listener = asyncio.create_task(cp.start())
    try:
        await cp.boot()
        yield cp
    finally:
        listener.cancel()
        with contextlib.suppress(Exception):
            await ws.close()


async def test_remote_start_retried_three_times_sends_one_call_and_starts_one_transaction(
    api, store, chargers, cp_id
):
    tag = await registered_tag(api, cp_id)
    cp = await chargers.connect(cp_id)
    key = new_key()
    body = {"clientId": cp_id, "connectorId": 1, "idTag": tag}
    first = await api.post(REMOTE_START, json=body, headers={"Idempotency-Key": key})
    assert ok(first) == {"status": "Accepted"}
    assert rules.REPLAYED not in first.headers
    retries = [await api.post(REMOTE_START, json=body, headers={"Idempotency-Key": key}) for _ in range(3)]
    for retry in retries:
        assert retry.status_code == 200 and retry.headers[rules.REPLAYED] == "true"
        assert retry.get_data() == first.get_data()  # byte for byte
        assert retry.headers["Content-Type"] == first.headers["Content-Type"]
    # Without the key the same body reaches the charger, which refuses (connector busy):
    # what the retries would have answered without the key.
    assert sent(cp, "RemoteStartTransaction") == 1

    async def active():
        return ok(await api.get(f"/api/v1/transactions?clientId={cp_id}&status=active"))["items"]

    [tx] = await eventually(active)
    assert (tx["idTag"], tx["connectorId"]) == (tag, 1)
    assert ok(await api.post(REMOTE_START, json=body)) == {"status": "Rejected"}
    assert sent(cp, "RemoteStartTransaction") == 2
    assert ok(await api.get(f"/api/v1/transactions?clientId={cp_id}"))["total"] == 1

    kept = record(store, key)
    assert kept["state"] == "done" and kept["status"] == "200"
    ttl = store.redis.ttl(store.keys.idempotency(rules.record_digest(None, key)))
    assert 24 * 3600 - 60 < ttl <= 24 * 3600


async def test_the_same_key_with_another_request_is_422_and_sends_nothing(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    key = {"Idempotency-Key": new_key()}
    base = f"/api/v1/chargepoints/{cp_id}"
    assert ok(await api.post(f"{base}/reset", json={"type": "Soft"}, headers=key)) == {"status": "Accepted"}
    for method, url, body in [
        ("POST", f"{base}/reset", {"type": "Hard"}),  # another body
        ("POST", f"{base}/call/Reset", {"type": "Soft"}),  # another path
        ("POST", f"{base}/reset?x=1", {"type": "Soft"}),  # another query
    ]:
        answer = envelope_of(await api.send(method, url, json=body, headers=key), 422)
        assert "different request" in answer["message"] and answer["data"] is None
    assert sent(cp, "Reset") == 1
    # the same request still replays
    replay = await api.post(f"{base}/reset", json={"type": "Soft"}, headers=key)
    assert ok(replay) == {"status": "Accepted"} and replay.headers[rules.REPLAYED] == "true"
    assert sent(cp, "Reset") == 1
    # another method on the same path
    tag, key = f"/api/v1/idtags/T{cp_id[-6:]}", {"Idempotency-Key": new_key()}
    ok(await api.put(tag, json={"status": "Accepted"}, headers=key), 201)
    envelope_of(await api.delete(tag, headers=key), 422)
    ok(await api.get(tag))  # not deleted


async def test_a_second_request_while_the_first_is_in_flight_gets_409(api, stack, cp_id):
    tag = await registered_tag(api, cp_id)
    key = {"Idempotency-Key": new_key()}
    body = {"clientId": cp_id, "connectorId": 1, "idTag": tag}
    async with slow_charger(stack.ws_url, cp_id) as cp:
        first = asyncio.create_task(api.post(REMOTE_START, json=body, headers=key))

        async def at_the_charger():
            return cp.thinking == 1

        assert await eventually(at_the_charger)
        second = await api.post(REMOTE_START, json=body, headers=key)
        assert cp.thinking == 1  # the first is still waiting for the charger
        data = envelope_of(second, 409)
        assert "still running" in data["message"]
        assert 1 <= int(second.headers["Retry-After"]) <= 10
        envelope_of(await api.post(REMOTE_START, json={**body, "idTag": "OTHER"}, headers=key), 422)
        answered = await first
        assert ok(answered) == {"status": "Accepted"}
        third = await api.post(REMOTE_START, json=body, headers=key)
        assert third.get_data() == answered.get_data() and third.headers[rules.REPLAYED] == "true"
        assert sent(cp, "RemoteStartTransaction") == 1


@pytest.mark.slow
async def test_concurrent_requests_over_real_http_make_one_call(gunicorn_api: HttpApi, api, stack, cp_id):
    """gunicorn (2 processes x threads): the key is held in Redis, not in a process."""
    tag = await registered_tag(api, cp_id)
    key = new_key()
    payload = json.dumps({"clientId": cp_id, "connectorId": 1, "idTag": tag}).encode()

    def post() -> tuple[int, dict[str, str], bytes]:
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {gunicorn_api.token}",
            "Idempotency-Key": key,
        }
        req = urllib.request.Request(gunicorn_api.base_url + REMOTE_START, payload, headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def at_once(n: int) -> list[tuple[int, dict[str, str], bytes]]:
        with ThreadPoolExecutor(n) as pool:
            return list(pool.map(lambda _: post(), range(n)))

    async with slow_charger(stack.ws_url, cp_id) as cp:
        results = await asyncio.to_thread(at_once, 6)
        statuses = sorted(status for status, _, _ in results)
        assert statuses == [200] + [409] * 5, results
        assert all(int(h["Retry-After"]) >= 1 for status, h, _ in results if status == 409)
        [(_, _, first)] = [r for r in results if r[0] == 200]
        assert json.loads(first)["data"] == {"status": "Accepted"}
        status, headers, again = await asyncio.to_thread(post)
        assert (status, headers.get(rules.REPLAYED), again) == (200, "true", first)
        assert sent(cp, "RemoteStartTransaction") == 1


async def test_an_offline_charger_503_is_not_kept_and_the_retry_goes_through(api, store, chargers, cp_id):
    tag = await registered_tag(api, cp_id)
    pipe = store.redis.pipeline(transaction=True)
    chargepoints.touch(pipe, store.keys, cp_id, timeutil.iso(timeutil.utc_now()))  # known, not connected
    pipe.execute()
    key = new_key()
    body = {"clientId": cp_id, "connectorId": 1, "idTag": tag}
    offline = await api.post(REMOTE_START, json=body, headers={"Idempotency-Key": key})
    envelope_of(offline, 503)
    assert record(store, key) == {}  # released: a retry may try again
    cp = await chargers.connect(cp_id)
    assert ok(await api.post(REMOTE_START, json=body, headers={"Idempotency-Key": key})) == {
        "status": "Accepted"
    }
    replay = await api.post(REMOTE_START, json=body, headers={"Idempotency-Key": key})
    assert ok(replay) == {"status": "Accepted"} and replay.headers[rules.REPLAYED] == "true"
    assert sent(cp, "RemoteStartTransaction") == 1


async def test_a_callerror_502_is_not_kept(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    url = f"/api/v1/chargepoints/{cp_id}/call/ReserveNow"
    body = {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "T", "reservationId": 7}
    key = {"Idempotency-Key": new_key()}
    cp.answers["ReserveNow"] = "CALLERROR"
    envelope_of(await api.post(url, json=body, headers=key), 502)
    del cp.answers["ReserveNow"]
    answer = await api.post(url, json=body, headers=key)
    assert ok(answer) == {"status": "Accepted"} and rules.REPLAYED not in answer.headers
    again = await api.post(url, json=body, headers=key)
    assert again.get_data() == answer.get_data() and again.headers[rules.REPLAYED] == "true"
    assert sent(cp, "ReserveNow") == 2


async def test_a_4xx_is_kept_like_any_answer(api, store, cp_id):
    key = {"Idempotency-Key": new_key()}
    url = f"/api/v1/chargepoints/{cp_id}/reset"
    first = await api.post(url, json={"type": "Medium"}, headers=key)
    envelope_of(first, 400)
    again = await api.post(url, json={"type": "Medium"}, headers=key)
    assert (again.status_code, again.get_data()) == (400, first.get_data())
    assert again.headers[rules.REPLAYED] == "true"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("k" * 256, "at most 255 characters, not 256"),
        ("", "printable ASCII"),
        ("caf\u00e9", "printable ASCII"),
        ("tab\there", "printable ASCII"),
    ],
)
async def test_a_bad_key_is_400_and_nothing_is_sent_or_kept(api, store, chargers, cp_id, key, problem):
    cp = await chargers.connect(cp_id)
    answer = await api.post(
        f"/api/v1/chargepoints/{cp_id}/reset", json={"type": "Soft"}, headers={"Idempotency-Key": key}
    )
    data = envelope_of(answer, 400)
    assert (
        data["message"] == "invalid Idempotency-Key header" and problem in data["data"]["Idempotency-Key"][0]
    )
    assert sent(cp, "Reset") == 0
    if key.isascii():
        assert record(store, key) == {}


async def test_255_characters_are_a_valid_key(api, chargers, cp_id):
    cp = await chargers.connect(cp_id)
    key = {"Idempotency-Key": "k" * 254 + "~"}
    url = f"/api/v1/chargepoints/{cp_id}/reset"
    assert ok(await api.post(url, json={"type": "Soft"}, headers=key)) == {"status": "Accepted"}
    assert (await api.post(url, json={"type": "Soft"}, headers=key)).headers[rules.REPLAYED] == "true"
    assert sent(cp, "Reset") == 1


async def test_keys_are_scoped_by_the_callers_token(api, store, chargers, cp_id):
    """Two callers with the same key: two requests, neither sees the other's answer."""
    cp = await chargers.connect(cp_id)
    key = new_key()
    url = f"/api/v1/chargepoints/{cp_id}/reset"

    def headers(token: str | None) -> dict[str, str]:
        return {"Idempotency-Key": key, **({"Authorization": f"Bearer {token}"} if token else {})}

    for token in ("tenant-a", "tenant-b", None):
        answer = await api.post(url, json={"type": "Soft"}, headers=headers(token))
        assert ok(answer) == {"status": "Accepted"} and rules.REPLAYED not in answer.headers
    assert sent(cp, "Reset") == 3
    # another body with tenant-b's key would be 422 for tenant-b only
    envelope_of(await api.post(url, json={"type": "Hard"}, headers=headers("tenant-b")), 422)
    for token in ("tenant-a", "tenant-b", None):
        replay = await api.post(url, json={"type": "Soft"}, headers=headers(token))
        assert replay.headers[rules.REPLAYED] == "true"
    assert sent(cp, "Reset") == 3
    assert record(store, key, "Bearer tenant-a")["state"] == "done"


async def test_a_refused_token_never_touches_the_key(store, chargers, cp_id):
    """Auth runs first: a 401 neither consumes a key nor learns of its answer."""
    token = "idempotency-test-token"
    api = Api(create_app(store=store, config={"API_TOKEN": token}), token=token)
    cp = await chargers.connect(cp_id)
    key = new_key()
    url = f"/api/v1/chargepoints/{cp_id}/reset"
    wrong = {"Idempotency-Key": key, "Authorization": "Bearer wrong"}
    envelope_of(await api.post(url, json={"type": "Soft"}, headers=wrong), 401)
    assert record(store, key, "Bearer wrong") == {}
    assert ok(await api.post(url, json={"type": "Soft"}, headers={"Idempotency-Key": key})) == {
        "status": "Accepted"
    }
    envelope_of(await api.post(url, json={"type": "Soft"}, headers=wrong), 401)
    assert sent(cp, "Reset") == 1


async def test_routes_that_show_a_secret_refuse_the_key(api, store, cp_id):
    ok(await api.put(f"/api/v1/chargepoints/{cp_id}", json={"securityProfile": 1}), 201)
    key = {"Idempotency-Key": new_key()}
    for method, path, body in [
        ("POST", "credentials", None),
        ("POST", "credentials/rotate", {}),
        ("PUT", "credentials", {"authorizationKey": "0123456789abcdef0123"}),
    ]:
        answer = await api.send(method, f"/api/v1/chargepoints/{cp_id}/{path}", json=body, headers=key)
        assert "does not take Idempotency-Key" in envelope_of(answer, 400)["message"]
    assert ok(await api.post(f"/api/v1/chargepoints/{cp_id}/credentials"), 201)["authorizationKey"]


async def test_reads_and_unknown_routes_ignore_the_key(api, cp_id):
    key = {"Idempotency-Key": "x" * 300}  # invalid, but never looked at
    ok(await api.get("/api/v1/transactions", headers=key))
    envelope_of(await api.post("/api/v1/no-such-route", json={}, headers=key), 404)
    envelope_of(await api.send("PATCH", "/api/v1/transactions", headers=key), 405)


def test_the_openapi_document_offers_the_key_on_every_write(api):
    document = ok_document(api)
    ref = {"$ref": "#/components/parameters/IdempotencyKey"}
    assert document["components"]["parameters"]["IdempotencyKey"]["name"] == "Idempotency-Key"
    assert document["components"]["parameters"]["IdempotencyKey"]["schema"]["maxLength"] == 255
    writes = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # the path's own, not an operation
                continue
            offered = ref in operation.get("parameters", [])
            write = method in {"post", "put", "patch", "delete"} and path.startswith("/api/v1/")
            secret = path.endswith(("/credentials", "/credentials/rotate"))
            assert offered is (write and not secret), (method, path)
            if offered:
                writes += 1
                responses = operation["responses"]
                assert {"400", "409", "422"} <= set(responses), (method, path)
                assert responses["409"] == {"$ref": "#/components/responses/IDEMPOTENCY_IN_FLIGHT"}
    assert writes >= 20
    conflict = document["components"]["responses"]["IDEMPOTENCY_IN_FLIGHT"]
    assert "Retry-After" in conflict["headers"]


def ok_document(api: Api) -> dict[str, Any]:
    response = api.request("GET", "/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document
