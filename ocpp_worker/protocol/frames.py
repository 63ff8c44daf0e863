"""Parse and build OCPP-J frames (OCPP-J 1.6 §4): ``[2, id, action, payload]``,
``[3, id, payload]`` and ``[4, id, code, description, details]``.

A frame that cannot be read raises `FrameError`, which says how to answer it: a
CALLERROR when the message id is readable (OCPP-J §4.2.3), otherwise a WebSocket
close code (RFC 6455 §7.4.1: 1007 for text that is not JSON, 1002 for a protocol
error, 1009 for a frame over the size limit).

Every frame a charger sends is hostile until `parse` has checked it: its size, its
nesting depth (an OCPP 1.6 message needs 6 levels; we allow `MAX_DEPTH`), and that
every string can be encoded (no lone surrogates such as ``"\udfff"``) and every number
is finite and fits 64 bits. Whatever passes can be stored in Redis, validated,
handed to Celery and echoed back without an error. Frames we build are pure ASCII
(``ensure_ascii``), so they can always be sent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

CALL, CALLRESULT, CALLERROR = 2, 3, 4
MAX_ID_LENGTH = 36  # OCPP-J 1.6 §4.1.3
MAX_DEPTH = 10  # the frame array is level 1; MeterValues and charging profiles reach 6
MAX_FRAME_CHARS = 128 * 1024  # the default of Settings.max_frame_bytes
_INT_LIMIT = 2**63 - 1

CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_TOO_BIG = 1009


@dataclass(frozen=True)
class Call:
    unique_id: str
    action: str
    payload: Any


@dataclass(frozen=True)
class CallResult:
    unique_id: str
    payload: Any


@dataclass(frozen=True)
class CallError:
    unique_id: str
    error_code: str
    error_description: str = ""
    error_details: Any = field(default_factory=dict)


Frame = Call | CallResult | CallError


class FrameError(Exception):
    """A frame we cannot process.

    `unique_id` is set when the message id could be read: answer with a CALLERROR
    of `error_code`, unless `is_answer` (a broken CALLRESULT/CALLERROR, which OCPP-J
    never answers). Otherwise close the connection with `close_code`.
    """

    def __init__(
        self,
        reason: str,
        *,
        unique_id: str | None = None,
        error_code: str = "FormationViolation",
        close_code: int = CLOSE_PROTOCOL_ERROR,
        is_answer: bool = False,
    ) -> None:
        super().__init__(reason)
        self.is_answer = is_answer
        self.reason = reason
        self.unique_id = unique_id
        self.error_code = error_code
        self.close_code = close_code


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, only possible through a \u escape
        return False
    return True


def hostile_content(message: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why a parsed JSON value cannot be processed safely, or None if it can.

    Iterative, so no depth of input can exhaust the stack while we look at it."""
    stack: list[tuple[Any, int]] = [(message, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if not _encodable(value):
                return "a string holds an invalid code point (lone surrogate)"
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > _INT_LIMIT:
                return "an integer does not fit in 64 bits"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return "numbers must be finite"
        elif depth > max_depth:
            return f"nested deeper than {max_depth} levels"
        elif isinstance(value, dict):
            for key, item in value.items():
                if not _encodable(key):
                    return "a key holds an invalid code point (lone surrogate)"
                stack.append((item, depth + 1))
        else:
            stack.extend((item, depth + 1) for item in value)
    return None


def parse(text: str | bytes, max_chars: int = MAX_FRAME_CHARS) -> Frame:
    """Read one OCPP-J frame, or raise `FrameError`."""
    if len(text) > max_chars:
        raise FrameError(f"frame longer than {max_chars} characters", close_code=CLOSE_TOO_BIG)
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError(f"not JSON: {exc}", close_code=CLOSE_INVALID_DATA) from None
    except RecursionError:
        raise FrameError("JSON nested too deeply", close_code=CLOSE_INVALID_DATA) from None
    if not isinstance(message, list) or len(message) < 2:
        raise FrameError("a frame is a JSON array [type, id, ...]")
    type_id, unique_id = message[0], message[1]
    if not isinstance(unique_id, str) or not unique_id:
        raise FrameError("the message id must be a non-empty string")
    if len(unique_id) > MAX_ID_LENGTH:
        raise FrameError(f"message id longer than {MAX_ID_LENGTH} characters")

    def bad(reason: str, code: str = "FormationViolation", is_answer: bool = False) -> FrameError:
        return FrameError(reason, unique_id=unique_id, error_code=code, is_answer=is_answer)

    hostile = hostile_content(message)
    if hostile is not None:
        raise bad(hostile, is_answer=type(type_id) is int and type_id in (CALLRESULT, CALLERROR))
    if type(type_id) is not int:  # 2.0 == 2 and True == 1 in Python, not in OCPP-J
        raise bad(f"unknown message type {type_id!r}", "ProtocolError")
    if type_id == CALL:
        if len(message) != 4:
            raise bad("a CALL is [2, id, action, payload]", "ProtocolError")
        action, payload = message[2], message[3]
        if not isinstance(action, str) or not action:
            raise bad("the action must be a non-empty string", "FormationViolation")
        if not isinstance(payload, dict):
            raise bad("the payload must be a JSON object")
        return Call(unique_id, action, payload)
    if type_id == CALLRESULT:
        if len(message) != 3:
            raise bad("a CALLRESULT is [3, id, payload]", is_answer=True)
        return CallResult(unique_id, message[2])
    if type_id == CALLERROR:
        if len(message) != 5 or not isinstance(message[2], str):
            raise bad("a CALLERROR is [4, id, code, description, details]", is_answer=True)
        return CallError(unique_id, message[2], str(message[3]), message[4])
    raise bad(f"unknown message type {type_id!r}", "ProtocolError")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(message: list[Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=True, default=_plain)


def call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return _dumps([CALL, unique_id, action, payload])


def call_result(unique_id: str, payload: dict[str, Any]) -> str:
    return _dumps([CALLRESULT, unique_id, payload])


def call_error(
    unique_id: str, code: str, description: str = "", details: dict[str, Any] | None = None
) -> str:
    return _dumps([CALLERROR, unique_id, code, description, details or {}])
