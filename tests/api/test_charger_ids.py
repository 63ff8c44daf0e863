"""Charger ids: every OCPP identifierString is addressable in a path; nothing else is."""

from __future__ import annotations

import dataclasses
import re

import pytest

from api import create_app
from ocpp_worker import timeutil
from ocpp_worker.state import chargepoints
from ocpp_worker.state.store import Store
from tests.api.conftest import Api, envelope_of, ok

ROUTE_404 = (
    "The requested URL was not found on the server. If you entered the URL manually please check your "
    "spelling and try again."
)

ODD_IDS = ("A:b|c+d@e=f*g.h_-", "...", "*", "." + "x" * 47, "=" * 48)


@pytest.mark.parametrize("cp_id", ODD_IDS)
def test_every_valid_charger_id_is_addressable(api, store, cp_id):
    pipe = store.redis.pipeline(transaction=True)
    chargepoints.touch(pipe, store.keys, cp_id, timeutil.iso(timeutil.utc_now()))
    pipe.execute()
    data = ok(api.request("GET", f"/api/v1/chargepoints/{cp_id}"))
    assert (data["id"], data["connected"], data["connectors"]) == (cp_id, False, [])
    assert ok(api.request("GET", f"/api/v1/chargepoints/{cp_id}/connectors")) == {"items": [], "total": 0}
    assert ok(api.request("GET", f"/api/v1/chargepoints/{cp_id}/configuration"))["configurationKey"]
    listed = ok(api.request("GET", "/api/v1/chargepoints?limit=500"))["items"]
    assert cp_id in [c["id"] for c in listed]
    envelope_of(api.request("POST", f"/api/v1/chargepoints/{cp_id}/call/ClearCache"), 503)
    envelope_of(
        api.request("POST", "/api/v1/transactions/remote-start", json={"clientId": cp_id, "idTag": "T"}), 503
    )


@pytest.mark.parametrize(
    "path_id",
    [
        ".",
        "..",
        "%2E",
        "%2E%2E",
        "x" * 49,
        "a b",
        "a%2Fb",
        "a%25b",
        "%00",
        "a%0Ab",
        "%C3%A4",
        "{x}",
        "a,b",
        "a;b",
    ],
)
def test_path_id_that_no_charger_can_have_is_404(api, path_id):
    for method, url in (
        ("GET", f"/api/v1/chargepoints/{path_id}"),
        ("GET", f"/api/v1/chargepoints/{path_id}/connectors/1"),
        ("POST", f"/api/v1/chargepoints/{path_id}/call/ClearCache"),
        ("PUT", f"/api/v1/chargepoints/{path_id}/configuration"),
    ):
        response = api.request(method, url, json={"key": "HeartbeatInterval", "value": "60"})
        assert envelope_of(response, 404)["message"] == ROUTE_404, url


@pytest.mark.parametrize("client_id", ["..", "a b", "a/b", "\u00e4", "CP\n", "\x00"])
def test_body_charger_id_that_no_charger_can_have_is_unknown(api, client_id):
    body = {"clientId": client_id, "idTag": "T"}
    assert (
        envelope_of(api.request("POST", "/api/v1/transactions/remote-start", json=body), 404)["data"] is None
    )
    query = {"clientId": client_id}
    assert ok(api.request("GET", "/api/v1/transactions", query_string=query)) == {"items": [], "total": 0}


def test_openapi_document_states_the_rule(api):
    document = api.request("GET", "/api/v1/openapi.json").get_json()
    [param] = document["paths"]["/api/v1/chargepoints/{cp_id}"]["parameters"]
    rule = re.compile(param["schema"]["pattern"])
    assert all(rule.search(cp_id) for cp_id in ODD_IDS)
    assert not any(rule.search(cp_id) for cp_id in (".", "..", "x" * 49, "a b", "a/b", ""))


def test_a_widened_charger_id_pattern_widens_the_paths(store):
    """Operators with legacy ids widen OCPP_CHARGER_ID_PATTERN; the API follows it."""
    legacy = Store(store.redis, dataclasses.replace(store.settings, charger_id_pattern=r"[a-z~ ]{1,10}"))
    widened = Api(create_app(store=legacy, config={"API_TOKEN": None}))
    body = envelope_of(widened.request("GET", "/api/v1/chargepoints/a~b c"), 404)
    assert body["message"] == "charge point a~b c is unknown"
    assert envelope_of(widened.request("GET", "/api/v1/chargepoints/ABC"), 404)["message"] == ROUTE_404
    assert envelope_of(widened.request("GET", "/api/v1/chargepoints/.."), 404)["message"] == ROUTE_404
