"""Deterministic generators of hostile OCPP-J 1.6 frames (tests/integration/test_fuzz.py).

Everything is drawn from a `random.Random` the caller seeds, so a run can be repeated
frame for frame. Payloads are generated from the official 1.6 request schemas bundled
with the `ocpp` package (the ones the workers validate against), so a schema-valid
payload is valid by construction and a mutation breaks exactly one rule.

A `Step` is what a charger sends at once (one frame, or a few without waiting) and
what it must get back: one answer per CALL with a readable id (`Expect.ANSWER`), a
closed connection (`Expect.CLOSE`) or nothing (`Expect.SILENT`).
"""

from __future__ import annotations

import calendar
import enum
import json
import random
import string
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from ocpp_worker.protocol.actions import CHARGER_INITIATED, CSMS_INITIATED

CHARGER_ACTIONS = tuple(sorted(str(a) for a in CHARGER_INITIATED))
CSMS_ONLY_ACTIONS = tuple(sorted(str(a) for a in CSMS_INITIATED - CHARGER_INITIATED))
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MAX = 2**63 - 1
MAX_ID = 36  # OCPP-J 1.6 §4.1.3
FRAME_LIMIT = 128 * 1024  # Settings.max_frame_bytes
FRAME_BUDGET = 120_000  # what our well-formed frames may use of it (UTF-8 bytes)
CALLRESULT = "CALLRESULT"

# 1.6 CALLERROR codes, by what the gateway, bridge and workers answer (frames.py,
# validation.py, docs/ARCHITECTURE.md).
FORMATION = "FormationViolation"
PROTOCOL = "ProtocolError"
TYPE = "TypeConstraintViolation"
PROPERTY = "PropertyConstraintViolation"
OCCURENCE = "OccurenceConstraintViolation"
NOT_IMPLEMENTED = "NotImplemented"
NOT_SUPPORTED = "NotSupported"
GENERIC = "GenericError"
INTERNAL = "InternalError"

# idTags the test registers (Accepted, Blocked, Expired), so Authorize and the
# transactions see every status.
KNOWN_TAGS = ("FUZZ-OK", "FUZZ-BLOCKED", "FUZZ-EXPIRED")

# Strings: plain, JSON escapes and control characters, Latin and CJK, zero-width and
# line separators, right-to-left, astral plane (4 UTF-8 bytes, a surrogate pair when
# escaped). No lone surrogates: those are hostile, not valid.
CHAR_POOLS = (
    string.ascii_letters + string.digits,
    string.printable,
    "".join(map(chr, range(32))) + '"\\/\x7f',
    "äöüßéèñçåøÆŒ€£¥©®°±µ¶·¿¡",
    "中文漢字日本語한국어ㄱㅏ",
    "\u200b\u200c\u200d\u200e\u200f\u2028\u2029\ufeff\ufffd\u0301\u0308\u00a0",
    "עברית العربية",
    "😀🚗⚡🔌𝄞𠜎𝕏\U0010ffff\U00010000\U0001f9ea",
)
ALL_CHARS = "".join(CHAR_POOLS)
# Characters an OCPP message id may hold (any JSON string up to 36 characters).
ID_CHARS = ALL_CHARS + "{}%:*?[]<> \t\n\x00"

# Timestamps RFC 3339 allows that are edge cases for a parser: the first and last
# instants of year 1 and 9999 with offsets, a leap second, lowercase separators,
# nine fractional digits, "-00:00".
EDGE_TIMESTAMPS = (
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+00:01",
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:59:59.999999999Z",
    "9999-12-31T23:59:59-00:01",
    "9999-12-31T23:30:00-01:00",
    "2016-12-31T23:59:60Z",
    "2024-02-29t12:00:00z",
    "2026-01-01T00:00:00.123456789-00:00",
    "1970-01-01T00:00:00+23:59",
    "1969-12-31T23:59:59-23:59",
)
OFFSETS = ("Z", "z", "+00:00", "-00:00", "+05:30", "+05:45", "-03:30", "+14:00", "-12:00", "+23:59", "-23:59")
YEARS = (1, 2, 1899, 1900, 1970, 1999, 2000, 2024, 2026, 2038, 2100, 2400, 9998, 9999)


class Expect(enum.Enum):
    ANSWER = "answer"  # exactly one answer with the frame's id
    CLOSE = "close"  # the server closes the connection
    SILENT = "silent"  # nothing comes back, the connection stays


@dataclass
class Frame:
    text: str | bytes
    expect: Expect
    unique_id: str | None = None  # the id its answer must carry
    codes: frozenset[str] = frozenset()  # answer codes (CALLRESULT or CALLERROR codes) or close codes
    action: str = ""
    note: str = ""  # what the frame holds, for failure messages
    binary: bool = False  # bytes: a binary frame (else a text frame of invalid UTF-8)
    same_as_first: bool = False  # its answer must equal the first answer to this id in the step
    schema_valid: bool = False  # a CALL whose payload the 1.6 schema accepts


@dataclass
class Step:
    cls: str  # the class of hostile input, for the report
    kind: str  # the sub-kind
    frames: list[Frame] = field(default_factory=list)
    wait_between: bool = True  # read each answer before sending the next frame


# -- schemas -----------------------------------------------------------------------


@cache
def request_schema(action: str) -> dict[str, Any]:
    text = resources.files("ocpp.v16").joinpath("schemas", f"{action}.json").read_text(encoding="utf-8-sig")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


# -- values ------------------------------------------------------------------------


def text(rng: random.Random, max_len: int | None, *, min_len: int = 0) -> str:
    """A string of at most `max_len` code points (what JSON Schema's maxLength counts)."""
    if max_len is None:  # no limit in the schema (DataTransfer data, sampled values): mostly short
        limit = rng.choices([1, 40, 500, 4000], weights=[3, 4, 2, 1])[0]
        length = rng.randint(0, limit)
    else:
        length = rng.choice([0, 1, max_len, max_len, rng.randint(0, max_len)])
    length = max(length, min_len)
    pool = rng.choice((*CHAR_POOLS, ALL_CHARS, ALL_CHARS))
    return "".join(rng.choices(pool, k=length))


def integer(rng: random.Random) -> int:
    """Mostly 32-bit extremes; now and then the 64-bit ones the frame check still lets through."""
    if rng.random() < 0.03:
        return rng.choice([INT64_MAX, -INT64_MAX])
    return rng.choice(
        [0, 1, -1, INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1, rng.randint(-100, 100)]
        + [rng.randint(INT32_MIN, INT32_MAX)] * 2
    )


def timestamp(rng: random.Random) -> str:
    """An RFC 3339 date-time (the schemas' `format: date-time`), often an odd one."""
    if rng.random() < 0.08:
        return rng.choice(EDGE_TIMESTAMPS)
    if rng.random() < 0.4:
        return "2026-05-17T10:20:30Z"
    year = rng.choice((*YEARS, rng.randint(1, 9999)))
    month = rng.randint(1, 12)
    day = rng.randint(1, calendar.monthrange(year, month)[1])
    hour, minute, second = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    if year in (1, 9999):  # an offset that crosses the year range is an edge case of its own
        offset = "Z"
        if (year, month, day, hour) == (1, 1, 1, 0) or (year, month, day, hour) == (9999, 12, 31, 23):
            hour = 12
    else:
        offset = rng.choice(OFFSETS)
    fraction = rng.choice(["", "", f".{rng.randint(0, 9)}", f".{rng.randint(0, 999):03d}"])
    fraction = rng.choice(
        [fraction, "." + "".join(rng.choice(string.digits) for _ in range(rng.randint(1, 9)))]
    )
    sep = rng.choice("TTTt")
    return f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}"


@dataclass
class Context:
    """What one charger knows while it fuzzes: its transactions and the ids it used."""

    transactions: list[int] = field(default_factory=list)
    used_ids: set[str] = field(default_factory=set)
    answered_ids: list[str] = field(default_factory=list)
    counter: int = 0

    def fresh_id(self, rng: random.Random, prefix: str = "") -> str:
        """A message id this charger never sent (the reply cache answers a reused id
        with its first reply)."""
        while True:
            self.counter += 1
            candidate = f"{prefix}{self.counter}-{rng.randrange(16**6):06x}"[:MAX_ID]
            if candidate not in self.used_ids:
                self.used_ids.add(candidate)
                return candidate

    def special_id(self, rng: random.Random) -> str:
        """A never-used id of 1-36 characters of any kind (quotes, backslashes, control
        characters, NUL, astral), often exactly 36."""
        while True:
            length = rng.choice([1, 2, rng.randint(1, MAX_ID), MAX_ID, MAX_ID])
            pool = rng.choice([ID_CHARS, '"\\/{}%:* \x00\n', CHAR_POOLS[-1], CHAR_POOLS[2]])
            candidate = "".join(rng.choices(pool, k=length))
            if candidate not in self.used_ids:
                self.used_ids.add(candidate)
                return candidate


def _value(schema: dict[str, Any], root: dict[str, Any], rng: random.Random, ctx: Context, name: str) -> Any:
    schema = _resolve(schema, root)
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", []))
        return {
            key: _value(sub, root, rng, ctx, key)
            for key, sub in schema.get("properties", {}).items()
            if key in required or rng.random() < 0.5
        }
    if kind == "array":
        low = schema.get("minItems", 0)
        return [_value(schema["items"], root, rng, ctx, name) for _ in range(rng.randint(low, low + 3))]
    if kind == "string":
        if schema.get("format") == "date-time":
            return timestamp(rng)
        if name == "idTag" and rng.random() < 0.4:
            return rng.choice(KNOWN_TAGS)
        return text(rng, schema.get("maxLength"))
    if kind == "integer":
        if name == "transactionId" and ctx.transactions and rng.random() < 0.5:
            return rng.choice(ctx.transactions)
        if name == "connectorId" and rng.random() < 0.5:
            return rng.randint(0, 2)
        return integer(rng)
    raise AssertionError(f"no generator for {schema}")


def valid_payload(action: str, rng: random.Random, ctx: Context) -> dict[str, Any]:
    schema = request_schema(action)
    payload: dict[str, Any] = _value(schema, schema, rng, ctx, "")
    return payload


def dumps(rng: random.Random, message: Any, *, ascii_only: bool | None = None) -> str:
    """JSON text of `message`: raw UTF-8 or \\u escapes, compact or spread over lines."""
    ensure_ascii = rng.random() < 0.5 if ascii_only is None else ascii_only
    layout = rng.choice([{"separators": (",", ":")}, {}, {"indent": 1}, {"indent": "\t"}])
    text_ = json.dumps(message, ensure_ascii=ensure_ascii, allow_nan=False, **layout)
    if rng.random() < 0.05:  # JSON allows whitespace around the array
        text_ = rng.choice([" ", "\n", "\r\n", "\t "]) + text_ + rng.choice(["", " ", "\n"])
    return text_


def fits(frame: str) -> bool:
    return len(frame.encode("utf-8", "surrogatepass")) <= FRAME_BUDGET


def valid_call(rng: random.Random, ctx: Context, unique_id: str, action: str | None = None) -> Frame:
    """A CALL of a charger-initiated action whose payload its 1.6 schema accepts."""
    action = action or rng.choice(CHARGER_ACTIONS)
    while True:
        payload = valid_payload(action, rng, ctx)
        frame = dumps(rng, [2, unique_id, action, payload])
        if fits(frame):
            return Frame(
                frame,
                Expect.ANSWER,
                unique_id,
                frozenset({CALLRESULT}),
                action,
                note=frame[:300],
                schema_valid=True,
            )


# -- schema-invalid mutations -------------------------------------------------------


def _nodes(value: Any, schema: dict[str, Any], root: dict[str, Any], path: tuple[Any, ...] = ()) -> list[Any]:
    """(path, value, schema) of every value in a payload, the payload itself first."""
    schema = _resolve(schema, root)
    found = [(path, value, schema)]
    if isinstance(value, dict):
        for key, item in value.items():
            sub = schema.get("properties", {}).get(key)
            if sub is not None:
                found += _nodes(item, sub, root, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _nodes(item, schema["items"], root, (*path, i))
    return found


def _parent(payload: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        payload = payload[part]
    return payload


WRONG_TYPES: dict[str, list[Any]] = {
    "integer": ["5", "", 1.5, -0.25, True, False, None, [], {}, [1], {"n": 1}, "0x10"],
    "string": [5, 0, -1, 1.5, True, False, None, [], {}, ["x"], {"s": "x"}],
    "object": ["x", 5, None, [], True, [{}]],
    "array": ["x", 5, None, {}, True],
}

# mutation kind -> the code(s) the 1.6 mapping gives it (docs/ARCHITECTURE.md)
MUTATION_CODES: dict[str, frozenset[str]] = {
    "wrong-type": frozenset({TYPE}),
    "missing-required": frozenset({OCCURENCE}),
    "extra-field": frozenset({FORMATION}),
    "enum-violation": frozenset({PROPERTY}),
    "over-long-string": frozenset({PROPERTY}),
    "empty-array": frozenset({PROPERTY}),
}


def _mutations(payload: Any, schema: dict[str, Any]) -> dict[str, list[Any]]:
    nodes = _nodes(payload, schema, schema)
    return {
        "wrong-type": [n for n in nodes if n[0] and n[2].get("type") in WRONG_TYPES],
        "missing-required": [
            n for n in nodes if isinstance(n[1], dict) and set(n[2].get("required", [])) & set(n[1])
        ],
        "extra-field": [n for n in nodes if isinstance(n[1], dict)],
        "enum-violation": [n for n in nodes if n[0] and "enum" in n[2]],
        "over-long-string": [n for n in nodes if n[0] and "maxLength" in n[2]],
        "empty-array": [n for n in nodes if n[0] and n[2].get("minItems", 0) > 0],
    }


def invalid_call(rng: random.Random, ctx: Context, unique_id: str) -> tuple[str, Frame]:
    """A CALL of a charger-initiated action with one schema rule broken."""
    while True:
        action = rng.choice(CHARGER_ACTIONS)
        schema = request_schema(action)
        payload = valid_payload(action, rng, ctx)
        candidates = {k: v for k, v in _mutations(payload, schema).items() if v}
        kind = rng.choice(sorted(candidates))
        path, value, sub = rng.choice(candidates[kind])
        if kind == "wrong-type":
            _parent(payload, path)[path[-1]] = rng.choice(WRONG_TYPES[sub["type"]])
        elif kind == "missing-required":
            present = sorted(set(sub["required"]) & set(value))
            del value[rng.choice(present)]
        elif kind == "extra-field":
            while True:
                key = rng.choice(
                    [text(rng, 12), rng.choice(["extra", "id", "__proto__", "", "chargePointVendor "])]
                )
                if key not in sub.get("properties", {}):
                    break
            value[key] = rng.choice([1, "x", None, True, [], {}, {"a": [1, 2]}, text(rng, 30)])
        elif kind == "enum-violation":
            current = _parent(payload, path)[path[-1]]
            options = [current.lower(), current.upper(), f" {current}", f"{current}\x00", "", text(rng, 20)]
            replacement = rng.choice([o for o in options if o not in sub["enum"]])
            _parent(payload, path)[path[-1]] = replacement
        elif kind == "over-long-string":
            extra = rng.choice([1, 1, rng.randint(2, 50), rng.randint(50, 1000)])
            _parent(payload, path)[path[-1]] = text(rng, None, min_len=sub["maxLength"] + extra)[
                : sub["maxLength"] + extra
            ]
        else:  # empty-array
            _parent(payload, path)[path[-1]] = []
        frame = dumps(rng, [2, unique_id, action, payload])
        if fits(frame):
            note = f"{kind} at {'/'.join(map(str, path)) or 'payload'}: {frame[:300]}"
            return kind, Frame(frame, Expect.ANSWER, unique_id, MUTATION_CODES[kind], action, note)


# -- structural junk with a readable id ---------------------------------------------


def nested(rng: random.Random, depth: int) -> str:
    """JSON text of `depth` nested containers (lists and objects mixed)."""
    opening, closing = [], []
    for _ in range(depth):
        if rng.random() < 0.5:
            opening.append("[")
            closing.append("]")
        else:
            opening.append('{"k":')
            closing.append("}")
    inner = "1" if opening[-1] != "[" else ""
    return "".join(opening) + inner + "".join(reversed(closing))


LONE_SURROGATES = ("\\udfff", "\\ud800", "\\udc00\\ud800", "\\uDBFF", "x\\udfffy")
NON_FINITE = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E+999")
HUGE_INTS = (str(2**63), str(-(2**63)), str(2**64), str(10**30), "-" + "9" * 200)


def structural(rng: random.Random, ctx: Context, unique_id: str) -> tuple[str, Frame]:
    """A frame with a readable string id that is not an acceptable CALL."""
    uid = json.dumps(unique_id)
    action = rng.choice(CHARGER_ACTIONS)
    payload = json.dumps(valid_payload(action, rng, ctx))
    if len(payload) > 50_000:
        payload = "{}"
    kind = rng.choice(
        [
            "wrong-arity",
            "unknown-message-type",
            "non-integer-message-type",
            "payload-not-object",
            "action-not-string",
            "unknown-action",
            "csms-only-action",
            "deep-nesting",
            "lone-surrogate",
            "non-finite-number",
            "over-64-bit-integer",
        ]
    )
    answer_id = unique_id
    if kind == "wrong-arity":
        text_ = rng.choice(
            [
                f"[2,{uid}]",
                f'[2,{uid},"{action}"]',
                f'[2,{uid},"{action}",{payload},{{}}]',
                f'[2,{uid},"{action}",{payload},1,2,3]',
            ]
        )
        codes = {PROTOCOL}
    elif kind == "unknown-message-type":
        t = rng.choice(["0", "1", "5", "6", "7", "99", "-1", "-2", str(INT32_MAX), str(10**18), "-0"])
        text_ = f'[{t},{uid},"{action}",{payload}]'
        codes = {PROTOCOL}
    elif kind == "non-integer-message-type":
        t = rng.choice(
            ["2.0", "2e0", "20E-1", "true", "false", '"2"', "null", "[2]", '{"t":2}', "2.5", "-0.0"]
        )
        text_ = f'[{t},{uid},"{action}",{payload}]'
        codes = {PROTOCOL}
    elif kind == "payload-not-object":
        p = rng.choice(["[]", "[{}]", '"x"', '""', "1", "-1.5", "null", "true", f"[{payload}]"])
        text_ = f'[2,{uid},"{action}",{p}]'
        codes = {FORMATION}
    elif kind == "action-not-string":
        a = rng.choice(["5", "null", "true", "[]", "{}", '""', '["Heartbeat"]', "2.0"])
        text_ = f"[2,{uid},{a},{payload}]"
        codes = {FORMATION}
    elif kind == "unknown-action":
        a = rng.choice(
            [
                action.lower(),
                action.upper(),
                f" {action}",
                f"{action} ",
                f"{action}\x00",
                "TransactionEvent",
                "NotifyReport",
                "__class__",
                "../Heartbeat",
                "ocpp.v16.Heartbeat",
                "Heartbeat.json",
                text(rng, 40, min_len=1),
                "A" * rng.randint(100, 5000),
            ]
        )
        text_ = f"[2,{uid},{json.dumps(a, ensure_ascii=rng.random() < 0.5)},{payload}]"
        codes = {NOT_IMPLEMENTED}
    elif kind == "csms-only-action":
        text_ = f'[2,{uid},"{rng.choice(CSMS_ONLY_ACTIONS)}",{rng.choice(["{}", payload])}]'
        codes = {NOT_SUPPORTED}
    elif kind == "deep-nesting":
        depth = rng.choice([11, 12, rng.randint(11, 64), rng.randint(64, 600), 600])
        where = rng.choice(["payload", "extra", "action", "type"])
        if where == "payload":  # frame array and payload object are two levels
            text_ = f'[2,{uid},"{action}",{{"x":{nested(rng, depth - 2)}}}]'
        elif where == "extra":
            text_ = f'[2,{uid},"{action}",{{}},{nested(rng, depth - 1)}]'
        elif where == "action":
            text_ = f"[2,{uid},{nested(rng, depth - 1)},{{}}]"
        else:
            text_ = f'[{nested(rng, depth - 1)},{uid},"{action}",{{}}]'
        codes = {FORMATION}
    elif kind == "lone-surrogate":
        s = rng.choice(LONE_SURROGATES)
        where = rng.choice(["id", "action", "value", "key"])
        if where == "id":
            escaped = json.dumps(unique_id[:20])[1:-1] + s
            text_ = f'[2,"{escaped}","{action}",{payload}]'
            answer_id = json.loads(f'"{escaped}"')
        elif where == "action":
            text_ = f'[2,{uid},"{action}{s}",{payload}]'
        elif where == "value":
            text_ = f'[2,{uid},"{action}",{{"idTag":"a{s}","x":1}}]'
        else:
            text_ = f'[2,{uid},"{action}",{{"{s}":1}}]'
        codes = {FORMATION}
    else:
        number = rng.choice(NON_FINITE if kind == "non-finite-number" else HUGE_INTS)
        where = rng.choice(["field", "extra", "type", "nested"])
        if where == "field":
            field_ = rng.choice(
                ["connectorId", "meterStart", "transactionId", "requestId", "chargePointVendor"]
            )
            text_ = f'[2,{uid},"{action}",{{"{field_}":{number}}}]'
        elif where == "extra":
            text_ = f'[2,{uid},"{action}",{payload},{number}]'
        elif where == "type":
            text_ = f'[{number},{uid},"{action}",{payload}]'
        else:
            meter_value = f'[{{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{{"value":[{number}]}}]}}]'
            text_ = f'[2,{uid},"MeterValues",{{"connectorId":1,"meterValue":{meter_value}}}]'
        codes = {FORMATION}
    return kind, Frame(text_, Expect.ANSWER, answer_id, frozenset(codes), note=text_[:300])


# -- unreadable frames: no answer is possible, the connection is closed --------------

NOT_JSON = (
    "hello",
    "[2,",
    '[2,"x","Heartbeat",{}',
    "[2,'x','Heartbeat',{}]",
    '[2,"x","Heartbeat",{},]',
    '[2,"x","Heartbeat",{}]]',
    '[2,"x","Heartbeat",{}] [3]',
    "{",
    "nul",
    "",
    " ",
    '\ufeff[2,"bom","Heartbeat",{}]',
    '[2,"x","Heartbeat",{"a":01}]',
    '[2,"x\x01","Heartbeat",{}]',  # a raw control character in a string
    '[2,"x","Heartbeat",{"a":"\\x41"}]',
    '[2,"x","Heartbeat",{"a":' + "1" * 5000 + "}]",  # an int over Python's 4300 digits
)
NO_STRING_ID = (
    "[]",
    "[2]",
    "{}",
    '{"a":1}',
    "2",
    '"str"',
    "null",
    "true",
    "NaN",
    '[2,17,"Heartbeat",{}]',
    '[2,null,"Heartbeat",{}]',
    '[2,["x"],"Heartbeat",{}]',
    '[2,{"id":"x"},"Heartbeat",{}]',
    '[2,"","Heartbeat",{}]',
    '[2,1.5,"Heartbeat",{}]',
    '[2,true,"Heartbeat",{}]',
    "[3,5,{}]",
    '[4,null,"GenericError","",{}]',
    '["x",2,"Heartbeat",{}]',
)


def unreadable(rng: random.Random, ctx: Context) -> tuple[str, Frame]:
    kind = rng.choice(
        ["not-json"] * 4
        + ["no-string-id"] * 4
        + ["id-over-36"] * 3
        + ["oversize", "too-deep-to-parse", "invalid-utf8", "binary", "empty"]
    )
    binary = False
    raw: str | bytes
    if kind == "not-json":
        raw, codes = rng.choice(NOT_JSON), {1007}
        if raw == "":
            kind = "empty"
    elif kind == "no-string-id":
        raw, codes = rng.choice(NO_STRING_ID), {1002}
    elif kind == "id-over-36":
        long_id = text(rng, None, min_len=MAX_ID + 1)
        long_id = long_id[: rng.choice([MAX_ID + 1, rng.randint(MAX_ID + 1, 300)])]
        if len(long_id) <= MAX_ID:
            long_id = "x" * (MAX_ID + 1)
        message = rng.choice(
            [[2, long_id, "Heartbeat", {}], [3, long_id, {}], [4, long_id, "GenericError", "", {}]]
        )
        raw, codes = dumps(rng, message), {1002}
    elif kind == "oversize":
        raw, codes = (
            dumps(rng, [2, "big", "DataTransfer", {"vendorId": "v", "data": "x" * FRAME_LIMIT}]),
            {1009},
        )
    elif kind == "too-deep-to-parse":
        depth = rng.randint(20_000, 60_000)
        raw, codes = "[" * depth + "]" * depth, {1007}
    elif kind == "invalid-utf8":
        raw = rng.choice(
            [b"\xff", b'[2,"x","Heartbeat",{"a":"\xc3\x28"}]', b"\xed\xa0\x80", b'[2,"\xf8\x88\x80\x80\x80"]']
        )
        codes = {1007}
    elif kind == "binary":
        raw, codes, binary = b'[2,"bin","Heartbeat",{}]', {1003}, True
    else:
        raw, codes = "", {1007}
    note = raw[:200] if isinstance(raw, str) else repr(raw[:200])
    return kind, Frame(raw, Expect.CLOSE, codes=frozenset(codes), binary=binary, note=f"{kind}: {note}")


# -- stray answers: OCPP-J never answers a CALLRESULT/CALLERROR ----------------------


def stray(rng: random.Random, ctx: Context) -> tuple[str, Frame]:
    if ctx.answered_ids and rng.random() < 0.3:
        unique_id = rng.choice(ctx.answered_ids)  # an id we had an answer to
    elif rng.random() < 0.3:
        unique_id = ctx.special_id(rng)
    else:
        unique_id = ctx.fresh_id(rng, "stray-")
    uid = json.dumps(unique_id, ensure_ascii=rng.random() < 0.5)
    kind = rng.choice(["callresult", "callerror", "malformed-answer", "hostile-answer"])
    if kind == "callresult":
        payload = rng.choice(
            ["{}", '{"currentTime":"2026-01-01T00:00:00Z"}', '{"status":"Accepted"}', "[]", '"x"', "null"]
        )
        raw = f"[3,{uid},{payload}]"
    elif kind == "callerror":
        code = rng.choice([GENERIC, INTERNAL, FORMATION, NOT_IMPLEMENTED, "NoSuchCode", ""])
        details = rng.choice(["{}", '{"a":1}', "[]", "null"])
        raw = f"[4,{uid},{json.dumps(code)},{json.dumps(text(rng, 60))},{details}]"
    elif kind == "malformed-answer":
        raw = rng.choice(
            [
                f"[3,{uid}]",
                f"[3,{uid},{{}},1]",
                f"[4,{uid}]",
                f'[4,{uid},5,"",{{}}]',
                f'[4,{uid},"GenericError"]',
                f'[4,{uid},"GenericError","",{{}},"extra"]',
            ]
        )
    else:
        raw = rng.choice(
            [
                f'[3,{uid},{{"x":{rng.choice(NON_FINITE)}}}]',
                f'[3,{uid},{{"x":{rng.choice(HUGE_INTS)}}}]',
                f'[3,"a{rng.choice(LONE_SURROGATES)}",{{}}]',
                f'[4,{uid},"Generic{rng.choice(LONE_SURROGATES)}","",{{}}]',
                f"[3,{uid},{nested(rng, rng.randint(11, 600))}]",
            ]
        )
    return kind, Frame(raw, Expect.SILENT, note=raw[:300])
