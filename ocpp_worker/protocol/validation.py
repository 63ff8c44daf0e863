"""Validate 1.6 payloads against the official schemas bundled with the `ocpp` package.

We load those schema files ourselves instead of calling `ocpp.messages.get_validator`
or `validate_payload`: the latter is async (no use in a Celery task), the former
caches one validator per action whatever `parse_float` was asked for, and both report
failures with OCPP 2.0.1 spellings. A 1.6 peer must get 1.6 codes (OCPP-J 1.6 §4.2.3).

Each payload is checked first by a validator `fastjsonschema` compiled from the same
schema (tens of times faster than jsonschema, which took a fifth of a worker's CPU).
Only what it refuses goes to jsonschema, which decides and names the error: a
compiled validator that is stricter somewhere (it is never more lenient: see
tests/unit/test_validation.py) costs time, never a different answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

import fastjsonschema
from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError, best_match

from ocpp_worker.protocol import errors

Direction = Literal["request", "response"]

# The 1.6 schemas of these messages hold decimals with a `multipleOf: 0.1`, which
# binary floats fail (21.4 is 21.399999…): parse schema and payload as Decimal.
_DECIMAL_MESSAGES = {
    ("request", "SetChargingProfile"),
    ("request", "RemoteStartTransaction"),
    ("response", "GetCompositeSchedule"),
}

_PROPERTY_KEYWORDS = {
    "enum",
    "maxLength",
    "minLength",
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "pattern",
    "format",
    "multipleOf",
    "maxItems",
    "minItems",
    "uniqueItems",
}


@cache
def _schema_text(direction: Direction, action: str) -> str:
    name = f"{action}Response.json" if direction == "response" else f"{action}.json"
    schema_file = resources.files("ocpp.v16").joinpath("schemas", name)
    try:
        return schema_file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise errors.NotImplementedActionError(f"no OCPP 1.6 schema for {action}") from None


@cache
def _validator(direction: Direction, action: str) -> Draft4Validator:
    parse_float = Decimal if (direction, action) in _DECIMAL_MESSAGES else float
    return Draft4Validator(json.loads(_schema_text(direction, action), parse_float=parse_float))


@cache
def _compiled(direction: Direction, action: str) -> Callable[[Any], Any] | None:
    """The fast check, or None for the Decimal messages (rare, and CSMS-initiated).
    No defaults filled in (that would change the payload), no format checks
    (jsonschema makes none either)."""
    if (direction, action) in _DECIMAL_MESSAGES:
        return None
    schema = json.loads(_schema_text(direction, action))
    return fastjsonschema.compile(schema, use_default=False, use_formats=False, detailed_exceptions=False)


def passes_fast_check(direction: Direction, action: str) -> Callable[[Any], bool]:
    """For tests: the compiled validator alone, as a predicate."""
    compiled = _compiled(direction, action)

    def check(payload: Any) -> bool:
        if compiled is None:
            return False
        try:
            compiled(payload)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return check


def has_schema(action: str) -> bool:
    try:
        _validator("request", action)
    except errors.NotImplementedActionError:
        return False
    return True


def error_for(failure: ValidationError) -> errors.OcppError:
    """Map one jsonschema failure to the OCPP 1.6 error it stands for."""
    where = "/".join(str(p) for p in failure.absolute_path) or "payload"
    details = {"field": where, "cause": failure.message}
    keyword = failure.validator
    if keyword == "required":
        return errors.OccurenceConstraintViolationError(f"required field missing: {failure.message}", details)
    if keyword == "type" and failure.absolute_path:
        return errors.TypeConstraintViolationError(f"{where}: {failure.message}", details)
    if keyword in _PROPERTY_KEYWORDS:
        return errors.PropertyConstraintViolationError(f"{where}: {failure.message}", details)
    return errors.FormationViolationError(f"{where}: {failure.message}", details)


def validate(direction: Direction, action: str, payload: Any) -> None:
    """Raise the fitting `OcppError` if `payload` breaks the 1.6 schema of `action`."""
    compiled = _compiled(direction, action)
    if compiled is not None:
        try:
            compiled(payload)
            return
        except fastjsonschema.JsonSchemaException:
            pass  # jsonschema decides, and names the error
    validator = _validator(direction, action)
    if (direction, action) in _DECIMAL_MESSAGES:
        payload = json.loads(json.dumps(payload), parse_float=Decimal)
    try:
        failure = best_match(validator.iter_errors(payload))
    except ArithmeticError:  # multipleOf on a Decimal beyond 28 digits (1e30)
        raise errors.PropertyConstraintViolationError("a number is out of range") from None
    if failure is not None:
        raise error_for(failure)
