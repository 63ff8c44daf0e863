"""Bounds on what a list query and a date may ask for (both were 500s): 400 past them."""

from __future__ import annotations

import pytest

from api.schemas.common import MAX_OFFSET
from api.schemas.transactions import MAX_TRANSACTION_OFFSET
from tests.api.conftest import data_of_400, envelope_of, ok

LISTS = ("/api/v1/chargepoints", "/api/v1/transactions", "/api/v1/idtags", "/clients")


# Transactions page across Redis and the archive, which reads offset + limit ids of each.
BOUND = {"/api/v1/transactions": MAX_TRANSACTION_OFFSET}


@pytest.mark.parametrize("url", LISTS)
def test_list_offset_past_its_bound_is_400(api, url):
    bound = BOUND.get(url, MAX_OFFSET)
    for offset in (2**63, 2**63 - 1, bound + 1, -1):
        data = data_of_400(api.request("GET", f"{url}?offset={offset}"), "invalid query parameters")
        assert set(data) == {"offset"}
    assert ok(api.request("GET", f"{url}?offset={bound}&limit=500"))["items"] == []
    for limit in ("1e400", "501", str(2**64)):
        data = data_of_400(api.request("GET", f"{url}?limit={limit}"), "invalid query parameters")
        assert set(data) == {"limit"}


OUT_OF_RANGE = "Out of range: the time in UTC must fall in years 1 to 9999."


@pytest.mark.parametrize(
    ("expiry", "error"),
    [
        ("99999-01-01T00:00:00Z", "Not a valid datetime."),
        ("9999-12-31T23:59:59-05:00", OUT_OF_RANGE),  # year 10000 in UTC: was a 500
        ("0001-01-01T00:00:00+05:00", OUT_OF_RANGE),  # year 0 in UTC: was a 500
    ],
)
def test_expiry_date_without_a_utc_form_is_400(api, expiry, error):
    body = {"status": "Accepted", "expiryDate": expiry}
    response = api.request("PUT", "/api/v1/idtags/FAR-FUTURE", json=body)
    assert data_of_400(response, "invalid request body") == {"expiryDate": [error]}
    envelope_of(api.request("GET", "/api/v1/idtags/FAR-FUTURE"), 404)


def test_latest_expiry_date_is_kept(api):
    body = {"status": "Accepted", "expiryDate": "9999-12-31T18:59:59-05:00"}
    tag = ok(api.request("PUT", "/api/v1/idtags/LAST-DAY", json=body), 201)
    assert tag["expiryDate"] == "9999-12-31T23:59:59.000Z"
    ok(api.request("DELETE", "/api/v1/idtags/LAST-DAY"))
