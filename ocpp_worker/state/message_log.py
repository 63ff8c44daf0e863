"""The OCPP message log: every frame a charger sent us and we sent it, per charger, in a
capped Redis stream (`Keys.message_log`). It is what an operator reads first when a
charger misbehaves (`GET /api/v1/chargepoints/{id}/messages`, `ocpp-csms messages`).

Only the gateway writes it, off the hot path: it queues `Frame`s and appends what
gathered in 100 ms with one pipeline (`gateway/message_log.py`), through `add` and
`trim_age` here. Every entry has the same two fields (``meta``, ``frame``), so Redis
keeps their names once per stream node rather than once per entry.

Retention (`Retention`, from `Settings`): the newest `OCPP_MESSAGE_LOG_MAX` entries
(``XADD MAXLEN ~``) younger than `OCPP_MESSAGE_LOG_DAYS` days (``XTRIM MINID ~``, and
the key expires that long after its last write, so a charger gone silent leaves
nothing behind). Either set to 0 turns the log off. Both trims are approximate: Redis
drops whole stream nodes (100 entries by default), which keeps trimming cheap.

A frame's text is kept up to `FRAME_MAX` characters, marked ``truncated`` beyond. The
message type and id are read from its first bytes when the log is read; the action is
kept in ``meta``: a CALL's (from its text), or an answer's, which a 1.6
CALLRESULT/CALLERROR does not carry: the action of the CALL it answers, given by the
writer (`gateway/session.py` knows it).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ocpp_worker import timeutil
from ocpp_worker.config import Settings
from ocpp_worker.state.client import RedisClient
from ocpp_worker.state.keys import Keys
from ocpp_worker.state.store import Store, redis_of

__all__ = [
    "FRAME_MAX",
    "PAGE_MAX",
    "SCAN_MAX",
    "Direction",
    "Frame",
    "Message",
    "Page",
    "Retention",
    "add",
    "count",
    "follow",
    "page",
    "scan",
    "trim_age",
]

Direction = Literal["in", "out"]

FRAME_MAX = 8192  # characters of a frame's text kept; the rest is cut, marked truncated
ID_MAX = 100  # OCPP message ids are at most 36 characters; a charger may send longer
ACTION_MAX = 50  # the longest 1.6 action is 29 characters
PAGE_MAX = 500  # entries one page may return
ADD_CHUNK = 500  # frames appended by one script call: bounds the time Redis spends in it
SCAN_MAX = 5000  # entries one filtered page reads at most: bounded work per request
_SCAN_CHUNK = 200

MESSAGE_TYPES = {"2": "CALL", "3": "CALLRESULT", "4": "CALLERROR"}
# [type,"id"(,"action")…: the first bytes, without parsing the whole frame
_HEAD = re.compile(r'^\s*\[\s*([234])\s*,\s*"([^"\\]*(?:\\.[^"\\]*)*)"(?:\s*,\s*"((?:[^"\\]|\\.){0,200})")?')
# A CALL's action as the filter matches it, read without decoding anything (1.6 actions
# are ASCII letters); `describe` reads any other for display. The message id's
# [^"\\]*(?:\\.[^"\\]*)* is (?:[^"\\]|\\.)* unrolled: 6x faster in `re`.
_CALL_ACTION = re.compile(r'\s*\[\s*2\s*,\s*"[^"\\]*(?:\\.[^"\\]*)*"\s*,\s*"([A-Za-z0-9]{1,50})"')
# The XADDs of many frames in one command: one argument per charger, its entries
# each "<meta bytes> <frame bytes> <meta><frame>". The gateway's Redis client packs
# every argument and reads every reply in Python; a pipeline of XADDs (10 arguments and
# a reply per frame, twice per CALL) cost it ~3x the CPU per frame.
_ADD = """
local maxlen = ARGV[1]
local added = 0
for i, key in ipairs(KEYS) do
  local blob = ARGV[i + 1]
  local pos = 1
  while pos <= #blob do
    local _, stop, meta_len, frame_len = string.find(blob, '^(%d+) (%d+) ', pos)
    local meta_end = stop + tonumber(meta_len)
    local frame_end = meta_end + tonumber(frame_len)
    redis.call('XADD', key, 'MAXLEN', '~', maxlen, '*',
      'meta', string.sub(blob, stop + 1, meta_end), 'frame', string.sub(blob, meta_end + 1, frame_end))
    pos = frame_end + 1
    added = added + 1
  end
end
return added
"""
_STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}", re.ASCII)


@dataclass(frozen=True)
class Retention:
    """How much of each charger's log is kept; `enabled` is False when either is 0."""

    max_entries: int = 1000
    days: float = 7.0

    @classmethod
    def of(cls, settings: Settings) -> Retention:
        return cls(settings.message_log_max, settings.message_log_days)

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.days > 0

    @property
    def seconds(self) -> int:
        return max(1, int(self.days * 86400))


@dataclass(frozen=True)
class Frame:
    """A frame to log, as the gateway saw it. `answers`: for a CALLRESULT/CALLERROR,
    the action of the CALL it answers ("" when it answers nothing we know of)."""

    cp: str
    direction: Direction
    text: str
    answers: str = ""
    ts: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Message:
    """One logged frame. `id` is its stream entry id, the paging cursor."""

    id: str
    direction: str
    at: str  # UTC ISO 8601, when the gateway received or queued it
    message_type: str  # CALL, CALLRESULT, CALLERROR, or "" for an unreadable frame
    message_id: str
    action: str
    frame: str
    truncated: bool
    size: int  # characters of the whole frame


@dataclass(frozen=True)
class Page:
    """Messages newest first, and `next`: the ``before`` of the next page (None when
    nothing older is left). With a filter, a page may stop short of `limit` after
    reading `SCAN_MAX` entries; `next` then says where to go on."""

    items: list[Message]
    next: str | None


def _text(escaped: str | None, limit: int) -> str:
    """A JSON string body from a frame's first bytes, decoded if it can be stored as
    UTF-8 (a ``\\udfff`` escape cannot: it is then kept as written), cut to `limit`."""
    if not escaped:
        return ""
    try:
        value = json.loads(f'"{escaped}"')
        value.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        value = escaped
    return str(value)[:limit]


def describe(frame: Frame) -> tuple[str, str, str]:
    """(message type, message id, action) of a frame, each "" when it does not say."""
    return _describe(frame.text, frame.answers)


def _describe(text: str, answers: str) -> tuple[str, str, str]:
    match = _HEAD.match(text)
    if match is None:
        return "", "", ""
    kind = MESSAGE_TYPES[match.group(1)]
    action = _text(match.group(3), ACTION_MAX) if kind == "CALL" else answers[:ACTION_MAX]
    return kind, _text(match.group(2), ID_MAX), action


def fields_of(frame: Frame) -> dict[str, str]:
    """The stream entry of a frame: ``meta`` (direction, time, size, action) and
    ``frame``. Two fields, not one per item: the gateway's Redis client packs every
    argument in Python, and this is written twice per CALL. Type and message id are
    read from the frame's first bytes when the log is read."""
    text = frame.text
    action = frame.answers or _call_action(text)
    return {"meta": f"{frame.direction} {frame.ts:.3f} {len(text)} {action}", "frame": text[:FRAME_MAX]}


def _call_action(text: str) -> str:
    match = _CALL_ACTION.match(text)
    return match.group(1) if match else ""


def add(pipe: Any, keys: Keys, frames: Iterable[Frame], retention: Retention) -> None:
    """Queue on a pipeline (sync or asyncio: queuing is the same) the appends of these
    frames, each log capped at ~`retention.max_entries`: one script call per
    `ADD_CHUNK` frames, which does their XADDs in Redis."""
    if not retention.enabled:
        return
    chunk: list[Frame] = []
    for frame in frames:
        chunk.append(frame)
        if len(chunk) == ADD_CHUNK:
            _queue_add(pipe, keys, chunk, retention.max_entries)
            chunk = []
    if chunk:
        _queue_add(pipe, keys, chunk, retention.max_entries)


def _queue_add(pipe: Any, keys: Keys, frames: list[Frame], max_entries: int) -> None:
    blobs: dict[str, list[bytes]] = {}
    for frame in frames:
        fields = fields_of(frame)
        meta, text = fields["meta"].encode(), fields["frame"].encode("utf-8", "replace")
        blobs.setdefault(frame.cp, []).append(b"%d %d %s%s" % (len(meta), len(text), meta, text))
    charger_logs = [keys.message_log(cp_id) for cp_id in blobs]
    pipe.eval(
        _ADD, len(blobs), *charger_logs, str(max_entries), *(b"".join(parts) for parts in blobs.values())
    )


def trim_age(pipe: Any, keys: Keys, cp_id: str, retention: Retention, now: float | None = None) -> None:
    """Queue the age trim of one charger's log: entries older than `retention.days`
    go (whole nodes, ``MINID ~``), and the key expires that long after this write.
    Cheap, but once in a while per charger is plenty (the writer decides)."""
    if not retention.enabled:
        return
    key = keys.message_log(cp_id)
    oldest_ms = int(((now if now is not None else time.time()) - retention.seconds) * 1000)
    pipe.xtrim(key, minid=f"{max(oldest_ms, 0)}-0", approximate=True)
    pipe.expire(key, retention.seconds)


def _meta(fields: dict[str, str]) -> list[str]:
    """[direction, time, size, action] of an entry (missing parts "")."""
    parts = fields.get("meta", "").split(" ", 3)
    return parts + [""] * (4 - len(parts))


def _message(entry_id: str, fields: dict[str, str]) -> Message:
    direction, ts, size_text, action = _meta(fields)
    frame = fields.get("frame", "")
    size = int(size_text) if size_text.isdigit() else len(frame)
    try:
        at = timeutil.iso(datetime.fromtimestamp(float(ts or 0), UTC))
    except (ValueError, OverflowError, OSError):
        at = ""
    kind, message_id, read_action = _describe(frame, action)
    return Message(
        id=entry_id,
        direction=direction,
        at=at,
        message_type=kind,
        message_id=message_id,
        action=action or read_action,
        frame=frame,
        truncated=size > len(frame),
        size=size,
    )


def _cursor(before: str | None) -> str:
    if before is None:
        return "+"
    if not _STREAM_ID.fullmatch(before):
        raise ValueError("before must be a message id such as 1767225600000-0")
    return f"({before}"


def scan(
    store: Store | RedisClient,
    keys: Keys,
    cp_id: str,
    limit: int = 50,
    before: str | None = None,
    action: str | None = None,
    scan_max: int = SCAN_MAX,
) -> Page:
    """Up to `limit` (at most `PAGE_MAX`) messages of a charger, newest first, older
    than the message id `before`, only those of `action` when given (CALLs of it and
    the answers to them). Reads at most `scan_max` entries (and `limit`, when larger).
    ValueError for a `before` that is not a message id."""
    upper = _cursor(before)
    limit = min(limit, PAGE_MAX)
    if limit <= 0 or upper.strip("(0-") == "":
        return Page([], None)  # nothing is older than 0-0 (and Redis refuses "(0-0")
    redis = redis_of(store)
    key = keys.message_log(cp_id)
    budget = max(scan_max, limit)
    items: list[Message] = []
    while budget > 0:
        chunk = limit - len(items) if action is None else min(_SCAN_CHUNK, budget)
        entries = redis.xrevrange(key, max=upper, min="-", count=chunk)
        budget -= len(entries)
        for entry_id, fields in entries:
            if action is None or _meta(fields)[3] == action:
                items.append(_message(entry_id, fields))
                if len(items) == limit:
                    return Page(items, entry_id)
        if len(entries) < chunk:
            return Page(items, None)  # nothing older
        upper = f"({entries[-1][0]}"
    return Page(items, upper[1:])


def page(
    store: Store | RedisClient,
    keys: Keys,
    cp_id: str,
    limit: int = 50,
    before: str | None = None,
    action: str | None = None,
) -> list[Message]:
    """The messages of `scan`, without the cursor (its `next`)."""
    return scan(store, keys, cp_id, limit, before, action).items


def follow(
    store: Store | RedisClient,
    keys: Keys,
    cp_id: str,
    after: str = "$",
    block_ms: int = 1000,
    count: int = 100,
) -> list[Message]:
    """Messages newer than the message id `after`, oldest first, waiting up to
    `block_ms` for one ([] when none came). A tail loops, passing the last id back:
    start from the newest id of `page` (or "0-0" for an empty log), not "$", so that
    nothing written between two calls is missed."""
    if after != "$" and not _STREAM_ID.fullmatch(after):
        raise ValueError("after must be a message id such as 1767225600000-0, or $")
    reply = redis_of(store).xread({keys.message_log(cp_id): after}, count=count, block=block_ms)
    return [_message(entry_id, fields) for _, entries in reply or [] for entry_id, fields in entries]


def count(store: Store | RedisClient, keys: Keys, cp_id: str) -> int:
    """How many messages of a charger are kept."""
    return int(redis_of(store).xlen(keys.message_log(cp_id)))
