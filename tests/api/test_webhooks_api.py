"""POST/GET/DELETE /api/v1/webhooks and the delivery log route: validation, the secret
shown once, hostile ids and bodies (no 5xx)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import envelope_of, ok

URL = "/api/v1/webhooks"
PUBLIC = "https://hooks.example.com/ocpp"


def create(api: Any, **body: Any) -> Any:
    return api.request("POST", URL, json={"url": PUBLIC, "types": ["*"], **body})


def test_register_read_list_delete(api):
    created = ok(
        create(api, types=["transaction.started", "transaction.stopped"], description="billing"), 201
    )
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["types"] == ["transaction.started", "transaction.stopped"]
    assert created["url"] == PUBLIC and created["description"] == "billing"
    one = ok(api.request("GET", f"{URL}/{created['id']}"))
    assert "secret" not in one and one["attempts"] == 0 and one["pendingEvent"] is None
    assert one["cursor"] == created["cursor"]
    listed = ok(api.request("GET", URL))
    assert created["id"] in [w["id"] for w in listed["items"]]
    assert all("secret" not in w for w in listed["items"])
    assert ok(api.request("GET", f"{URL}/{created['id']}/deliveries")) == {"items": []}
    given = ok(create(api, secret="my-own-secret-0123456789"), 201)
    assert given["secret"] == "my-own-secret-0123456789"
    for hook in (created, given):
        response = api.request("DELETE", f"{URL}/{hook['id']}")
        assert response.status_code == 204
        envelope_of(api.request("GET", f"{URL}/{hook['id']}"), 404)
        envelope_of(api.request("DELETE", f"{URL}/{hook['id']}"), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1:8080/x"}, "url"),  # private (OCPP_WEBHOOKS_ALLOW_PRIVATE off)
        ({"url": "http://[::1]/x"}, "url"),
        ({"url": "http://localhost/x"}, "url"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/x"}, "url"),
        ({"url": "ftp://hooks.example.com/x"}, "url"),
        ({"url": "https://hooks.example.com/" + "x" * 2100}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": ""}, "url"),
        ({"types": []}, "types"),
        ({"types": ["transaction.nope"]}, "types"),
        ({"types": ["*", "transaction.started"]}, "types"),
        ({"types": "*"}, "types"),
        ({"types": ["x"] * 1000}, "types"),
        ({"secret": "short"}, "secret"),
        ({"secret": "has spaces in it, sixteen+"}, "secret"),
        ({"secret": "x" * 257}, "secret"),
        ({"description": "d" * 201}, "description"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_registrations_are_400(api, body, field):
    errors = envelope_of(create(api, **body), 400)["data"]
    assert field in errors, errors


def test_unknown_and_hostile_ids_are_404(api):
    for webhook_id in ("wh_0000000000000000", "nope", "wh_0123456789abcdef:deliveries", "%00", "x" * 300):
        envelope_of(api.request("GET", f"{URL}/{webhook_id}"), 404)
        envelope_of(api.request("DELETE", f"{URL}/{webhook_id}"), 404)
        envelope_of(api.request("GET", f"{URL}/{webhook_id}/deliveries"), 404)
    created = ok(create(api), 201)
    envelope_of(api.request("GET", f"{URL}/{created['id']}/deliveries?limit=0"), 400)
    envelope_of(api.request("GET", f"{URL}/{created['id']}/deliveries?limit=101"), 400)
    assert api.request("DELETE", f"{URL}/{created['id']}").status_code == 204
