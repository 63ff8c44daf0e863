"""The OpenAPI document describes exactly the app's routes, from the marshmallow schemas."""

from __future__ import annotations

import dataclasses
import re

from openapi_spec_validator import validate

from api import create_app
from ocpp_worker.protocol.actions import CSMS_INITIATED
from ocpp_worker.state.store import Store


def document_of(api):
    response = api.request("GET", "/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_document_is_valid_openapi(api):
    validate(document_of(api))


def test_document_lists_every_route_and_method(api):
    document = document_of(api)
    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"  # the path parameters its operations share
    }
    served = {
        (re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule), method)
        for rule in api.app.url_map.iter_rules()
        if not rule.endpoint.startswith("pages.")  # the status pages: HTML for people, not API
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served
    assert documented == served


def test_operations_carry_schemas_parameters_and_error_statuses(api):
    document = document_of(api)
    schemas = document["components"]["schemas"]
    for name in ("ChargePoint", "Connector", "Transaction", "IdTag", "RemoteStartBody", "ErrorEnvelope"):
        assert name in schemas, name
    assert set(schemas["Transaction"]["properties"]) >= {
        "transactionId",
        "clientId",
        "connectorId",
        "idTag",
        "meterStart",
        "meterStop",
        "startTime",
        "stopTime",
        "stopReason",
        "status",
        "energyWh",
    }
    assert schemas["Transaction"]["properties"]["meterStart"]["type"] == "integer"
    start = document["paths"]["/api/v1/transactions/remote-start"]["post"]
    assert start["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/RemoteStartBody")
    assert {"200", "400", "401", "404", "408", "502", "503"} <= set(start["responses"])
    listing = document["paths"]["/api/v1/transactions"]["get"]
    assert {p["name"] for p in listing["parameters"] if p["in"] == "query"} == {
        "limit",
        "offset",
        "clientId",
        "status",
        "idTag",
        "from",
        "to",
    }
    export = document["paths"]["/api/v1/transactions/export"]["get"]
    assert {p["name"] for p in export["parameters"] if p["in"] == "query"} == {
        "from",
        "to",
        "clientId",
        "format",
    }
    assert {"text/csv", "application/x-ndjson"} <= set(export["responses"]["200"]["content"])
    status = next(p for p in listing["parameters"] if p["name"] == "status")
    assert status["schema"]["enum"] == ["active", "completed"]
    connector = document["paths"]["/api/v1/chargepoints/{cp_id}/connectors/{connector_id}"]
    assert {p["name"]: p["schema"]["type"] for p in connector["parameters"]} == {
        "cp_id": "string",
        "connector_id": "integer",
    }
    assert "401" not in document["paths"]["/health"]["get"]["responses"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_only_health_and_the_document_need_no_token(api):
    paths = document_of(api)["paths"]
    public = {
        (path, method)
        for path, item in paths.items()
        for method, operation in item.items()
        if method != "parameters" and operation.get("security") == []
    }
    assert public == {("/health", "get"), ("/api/v1/openapi.json", "get")}
    for path, method in public:
        assert "401" not in paths[path][method]["responses"]
    assert document_of(api)["security"] == [{"bearer": []}]
    for path, item in paths.items():
        for method, operation in item.items():
            if method != "parameters" and (path, method) not in public:
                assert "401" in operation["responses"], (path, method)


def test_call_route_lists_the_actions_a_central_system_sends(api):
    [action] = [
        p
        for p in document_of(api)["paths"]["/api/v1/chargepoints/{cp_id}/call/{action}"]["parameters"]
        if p["name"] == "action"
    ]
    assert action["in"] == "path" and action["required"] is True
    assert set(action["schema"]["enum"]) == CSMS_INITIATED
    assert {"Reset", "DataTransfer", "ExtendedTriggerMessage"} <= CSMS_INITIATED
    assert "BootNotification" not in action["schema"]["enum"]


def test_call_bodies_allow_the_values_of_ocpp_1_6(api):
    schemas = document_of(api)["components"]["schemas"]
    assert set(schemas["TriggerBody"]["properties"]["requestedMessage"]["enum"]) == {
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    }  # not the security extension's, which only ExtendedTriggerMessage may ask for
    assert set(schemas["ResetBody"]["properties"]["type"]["enum"]) == {"Hard", "Soft"}
    assert set(schemas["AvailabilityBody"]["properties"]["type"]["enum"]) == {"Inoperative", "Operative"}


def test_document_is_built_from_the_app_it_describes(api, store):
    """Each app serves the document of its own routes: here, its own charger-id rule
    (blueprints are shared by every app, their documents are not)."""
    legacy = Store(store.redis, dataclasses.replace(store.settings, charger_id_pattern=r"[a-z~ ]{1,10}"))
    app = create_app(store=legacy, config={"API_TOKEN": None})
    widened = app.test_client().get("/api/v1/openapi.json").get_json()
    [param] = widened["paths"]["/api/v1/chargepoints/{cp_id}"]["parameters"]
    assert param["schema"]["pattern"] == r"^(?!\.\.?$)(?:[a-z~ ]{1,10})$"
    [param] = document_of(api)["paths"]["/api/v1/chargepoints/{cp_id}"]["parameters"]
    assert param["schema"]["pattern"] == rf"^(?!\.\.?$)(?:{store.settings.charger_id_pattern})$"
