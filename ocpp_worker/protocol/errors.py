"""OCPP 1.6 CALLERROR codes as exceptions.

OCPP-J 1.6 §4.2.3 lists the codes; we keep its spellings exactly, including the
misspelled ``OccurenceConstraintViolation`` and ``FormationViolation`` (OCPP 2.0.1
renamed them, and a 1.6 charger may not know the new names).

    OcppError (GenericError)
    ├── NotImplementedActionError        NotImplemented: unknown action
    ├── NotSupportedError                NotSupported: known action, not accepted from this side
    ├── InternalError                    InternalError: our fault while handling it
    ├── ProtocolError                    ProtocolError: payload incomplete
    ├── SecurityError                    SecurityError
    ├── FormationViolationError          FormationViolation: bad structure, unexpected field
    ├── PropertyConstraintViolationError PropertyConstraintViolation: bad enum/length/range
    ├── OccurenceConstraintViolationError OccurenceConstraintViolation: required field missing
    └── TypeConstraintViolationError     TypeConstraintViolation: wrong JSON type
"""

from __future__ import annotations

from typing import Any


class OcppError(Exception):
    """An error that is answered to the peer as a CALLERROR."""

    code = "GenericError"

    def __init__(self, description: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.details = details or {}


class NotImplementedActionError(OcppError):
    code = "NotImplemented"


class NotSupportedError(OcppError):
    code = "NotSupported"


class InternalError(OcppError):
    code = "InternalError"


class ProtocolError(OcppError):
    code = "ProtocolError"


class SecurityError(OcppError):
    code = "SecurityError"


class FormationViolationError(OcppError):
    code = "FormationViolation"


class PropertyConstraintViolationError(OcppError):
    code = "PropertyConstraintViolation"


class OccurenceConstraintViolationError(OcppError):
    code = "OccurenceConstraintViolation"


class TypeConstraintViolationError(OcppError):
    code = "TypeConstraintViolation"


#: Every code an OCPP 1.6 peer may send or receive (OCPP-J 1.6 §4.2.3).
CODES_V16 = frozenset(
    {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
)
