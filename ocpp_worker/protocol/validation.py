"""Validate 1.6 payloads against the official schemas bundled with the `ocpp` package.

We load those schema files ourselves instead of calling `ocpp.messages.get_validator`
or `validate_payload`: the latter is async (no use in a Celery task), the former
caches one validator per action whatever `parse_float` was asked for, and both report
failures with OCPP 2.0.1 spellings. A 1.6 peer must get 1.6 codes (OCPP-J 1.6 §4.2.3).
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

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
def _validator(direction: Direction, action: str) -> Draft4Validator:
    name = f"{action}Response.json" if direction == "response" else f"{action}.json"
    schema_file = resources.files("ocpp.v16").joinpath("schemas", name)
    try:
        text = schema_file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise errors.NotImplementedActionError(f"no OCPP 1.6 schema for {action}") from None
    parse_float = Decimal if (direction, action) in _DECIMAL_MESSAGES else float
    return Draft4Validator(json.loads(text, parse_float=parse_float))


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
    validator = _validator(direction, action)
    if (direction, action) in _DECIMAL_MESSAGES:
        payload = json.loads(json.dumps(payload), parse_float=Decimal)
    try:
        failure = best_match(validator.iter_errors(payload))
    except ArithmeticError:  # multipleOf on a Decimal beyond 28 digits (1e30)
        raise errors.PropertyConstraintViolationError("a number is out of range") from None
    if failure is not None:
        raise error_for(failure)
