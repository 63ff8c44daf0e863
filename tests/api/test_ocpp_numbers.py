"""Numbers in OCPP payloads: finite and within ±(2^53 - 1), or the OCPP validation error
(a charging profile limit of 1e400 or 1e30 was a 500)."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import data_of_400, envelope_of, post_raw

NOBODY = "never-connected-charger"

PROFILE = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0}]},
}
# Where a charging profile goes, and the path of its limit in the OCPP validation error.
PROFILE_ROUTES = [
    (
        f"/api/v1/chargepoints/{NOBODY}/call/SetChargingProfile",
        {"connectorId": 1, "csChargingProfiles": PROFILE},
        "csChargingProfiles/chargingSchedule/chargingSchedulePeriod/0/limit",
    ),
    (
        "/api/v1/transactions/remote-start",
        {"clientId": NOBODY, "idTag": "T", "chargingProfile": PROFILE},
        "chargingProfile/chargingSchedule/chargingSchedulePeriod/0/limit",
    ),
]


def with_limit(body: dict, limit: str) -> str:
    """The body as JSON text with `limit` written as is (1e400 has no Python literal)."""
    return json.dumps(body).replace('"limit": 0', f'"limit": {limit}')


@pytest.mark.parametrize(("url", "body", "where"), PROFILE_ROUTES)
@pytest.mark.parametrize("limit", ["1e400", "-1e400", "1e30", "1" + "0" * 30, str(2**53)])
def test_charging_profile_limit_out_of_range_is_the_ocpp_validation_error(api, url, body, where, limit):
    data = data_of_400(post_raw(api, url, with_limit(body, limit)), "invalid OCPP payload")
    assert data == {
        "errorCode": "PropertyConstraintViolation",
        "errorDescription": f"{where}: out of range (at most {2**53 - 1} in magnitude)",
    }


@pytest.mark.parametrize(("url", "body", "where"), PROFILE_ROUTES)
def test_charging_profile_limit_in_range_passes_and_nan_is_not_json(api, url, body, where):
    # The same payload with a sane limit is sent on: to a charger that never connected.
    envelope_of(post_raw(api, url, with_limit(body, "32.5")), 404)
    envelope_of(post_raw(api, url, with_limit(body, str(2**53 - 1))), 404)
    for constant in ("NaN", "Infinity", "-Infinity"):
        response = post_raw(api, url, with_limit(body, constant))
        assert data_of_400(response, "the request body is not valid JSON") == {"_body": ["Not valid JSON."]}
