import random

import pytest

from ocpp_worker.protocol import errors, frames, validation
from tests.support import fuzz

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


def _fuzzed_payloads(count: int) -> list[tuple[str, object]]:
    """Valid and one-rule-broken payloads of every charger action, as the worker sees
    them (through frames.parse), plus values at the edges of JSON's types."""
    rng = random.Random(8)
    ctx = fuzz.Context(transactions=[1000, 2**31 - 1])
    out: list[tuple[str, object]] = []
    for n in range(count):
        if n % 2:
            action = rng.choice(fuzz.CHARGER_ACTIONS)
            text = fuzz.dumps(rng, [2, str(n), action, fuzz.valid_payload(action, rng, ctx)])
        else:
            _, step = fuzz.invalid_call(rng, ctx, str(n))
            text = step.text
        parsed = frames.parse(text)
        assert isinstance(parsed, frames.Call)
        out.append((parsed.action, parsed.payload))
    edges = [1.0, -0.0, True, False, None, 2**63 - 1, 1e300, "", "1", [], {}, [1], {"": 1}]
    for action in fuzz.CHARGER_ACTIONS:
        for field in ("connectorId", "transactionId", "meterStart", "idTag", "meterValue", "status"):
            out.extend((action, {field: edge}) for edge in edges)
    return out


def test_the_compiled_check_is_never_more_lenient_than_jsonschema() -> None:
    """The fast path may only ever say 'valid' where jsonschema says so too; on
    anything else jsonschema decides, so the error codes stay jsonschema's."""
    accepted = refused = 0
    for action, payload in _fuzzed_payloads(3000):
        fast = validation.passes_fast_check("request", action)(payload)
        slow = validation._validator("request", action).is_valid(payload)
        assert not fast or slow, (action, payload)
        accepted += fast
        refused += not fast
    assert accepted > 500 and refused > 500  # both sides were exercised


def test_decimal_messages_skip_the_fast_check() -> None:
    assert not validation.passes_fast_check("request", "SetChargingProfile")({})
