import pytest

from ocpp_worker.protocol import errors, validation

BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"chargePointVendor": "V"}, "OccurenceConstraintViolation"),
        ({**BOOT, "chargePointModel": 3}, "TypeConstraintViolation"),
        ({**BOOT, "chargePointModel": "M" * 21}, "PropertyConstraintViolation"),
        ({**BOOT, "extra": 1}, "FormationViolation"),
        ([], "FormationViolation"),
    ],
)
def test_schema_failures_map_to_ocpp16_codes(payload, code):
    with pytest.raises(errors.OcppError) as failure:
        validation.validate("request", "BootNotification", payload)
    assert failure.value.code == code
    assert failure.value.code in errors.CODES_V16


def test_enum_violation_is_property_constraint():
    with pytest.raises(errors.PropertyConstraintViolationError):
        validation.validate(
            "request", "StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "X"}
        )


def test_decimal_limits_with_one_decimal_validate():
    """21.4 is 21.399999… as a float and fails `multipleOf: 0.1` unless parsed as Decimal."""
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}],
        },
    }
    validation.validate("request", "RemoteStartTransaction", {"idTag": "T", "chargingProfile": profile})
    validation.validate("request", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile})


def test_response_schemas():
    validation.validate("response", "Reset", {"status": "Accepted"})
    with pytest.raises(errors.PropertyConstraintViolationError):
        validation.validate("response", "Reset", {"status": "Maybe"})


def test_unknown_action_has_no_schema():
    assert not validation.has_schema("Teleport")
    with pytest.raises(errors.NotImplementedActionError):
        validation.validate("request", "Teleport", {})


def test_decimal_too_large_for_multiple_of_is_a_property_violation():
    period = {"startPeriod": 0, "limit": 1e30}
    payload = {
        "status": "Accepted",
        "connectorId": 1,
        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [period]},
    }
    with pytest.raises(errors.PropertyConstraintViolationError):
        validation.validate("response", "GetCompositeSchedule", payload)
