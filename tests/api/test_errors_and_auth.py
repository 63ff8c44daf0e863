"""The envelope on every failure, and the bearer token."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from api import create_app
from ocpp_worker.config import Settings
from ocpp_worker.state.store import Store
from tests.api.conftest import Api, envelope_of, ok
from tests.support.stack import free_port

TOKEN = "s3cret-token-for-tests"


def test_unknown_route_and_wrong_method_are_enveloped(api):
    for url in ("/nope", "/api/v1/nothing/here", "/api/v1/chargepoints/x/y/z"):
        response = api.request("GET", url)
        assert envelope_of(response, 404)["data"] is None
        assert "<html" not in response.get_data(as_text=True).lower()
    response = api.request("DELETE", "/api/v1/transactions")
    envelope_of(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET"}
    envelope_of(api.request("POST", "/health"), 405)
    envelope_of(api.request("GET", "/api/v1/transactions/remote-start"), 405)


def test_unexpected_failure_is_a_500_envelope_and_health_says_down(caplog):
    dead_redis = Settings(redis_addr=f"127.0.0.1:{free_port()}", key_prefix="unreachable:")
    broken = Api(create_app(store=Store.connect(dead_redis), config={"API_TOKEN": None}))
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        body = envelope_of(broken.request("GET", "/api/v1/chargepoints"), 500)
    assert body["message"] == "internal server error"
    assert "Traceback" not in str(body) and "ConnectionError" not in str(body)
    assert "unhandled error" in caplog.text
    health = envelope_of(broken.request("GET", "/health"), 503)["data"]
    assert health["status"] == "down" and health["redis"]["ok"] is False


@pytest.fixture(scope="module")
def token_app(store):
    return create_app(store=store, config={"API_TOKEN": TOKEN})


def test_without_a_token_configured_the_api_is_open(api):
    ok(api.request("GET", "/api/v1/idtags"))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
    ],
)
def test_missing_or_wrong_token_is_401(token_app, headers, caplog):
    client = Api(token_app)
    with caplog.at_level(logging.DEBUG):
        for method, url in [
            ("GET", "/api/v1/chargepoints"),
            ("PUT", "/api/v1/idtags/AUTH"),
            ("POST", "/api/v1/chargepoints/X/call/Reset"),
            ("GET", "/clients"),
            ("GET", "/api/v1/dead-letters"),
            ("GET", "/no/such/route"),
        ]:
            response = client.request(method, url, headers=headers, json={"status": "Accepted"})
            envelope_of(response, 401)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert TOKEN not in response.get_data(as_text=True)
            assert TOKEN[:8] not in str(dict(response.headers))
    assert TOKEN not in caplog.text
    envelope_of(
        client.request("GET", "/api/v1/idtags/AUTH", headers={"Authorization": f"Bearer {TOKEN}"}), 404
    )


def test_right_token_passes_and_health_needs_none(token_app):
    client = Api(token_app)
    ok(client.request("GET", "/api/v1/idtags", headers={"Authorization": f"Bearer {TOKEN}"}))
    ok(client.request("GET", "/api/v1/idtags", headers={"Authorization": f"bearer  {TOKEN} "}))
    assert envelope_of(client.request("GET", "/health"), 200)["data"]["redis"]["ok"] is True


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_openapi_document_needs_no_token_as_it_says(token_app, headers):
    response = Api(token_app).request("GET", "/api/v1/openapi.json", headers=headers)
    assert response.status_code == 200
    document = response.get_json()
    operation = document["paths"]["/api/v1/openapi.json"]["get"]
    assert operation["security"] == [] and "401" not in operation["responses"]
    assert TOKEN not in response.get_data(as_text=True)


def test_token_comes_from_the_settings_and_config_overrides_it(store):
    settings = dataclasses.replace(store.settings, api_token=TOKEN)
    client = Api(create_app(settings=settings, store=store))
    envelope_of(client.request("GET", "/api/v1/idtags"), 401)
    ok(client.request("GET", "/api/v1/idtags", headers={"Authorization": f"Bearer {TOKEN}"}))
    assert Settings.from_env({"API_TOKEN": TOKEN}).api_token == TOKEN
    opened = Api(create_app(settings=settings, store=store, config={"API_TOKEN": None}))
    ok(opened.request("GET", "/api/v1/idtags"))
