"""What the gateway tells about each frame: its metrics (`ocpp_worker.metrics`, the
gateway group) and, with LOG_LEVEL=DEBUG, one log line per frame in and out.

Per frame this is one regular-expression match of the frame's first bytes, one dict
lookup and one counter increment (about 1-2 µs; the gateway spends ~565 µs of CPU
per CALL under load, docs/BENCHMARKS.md). The DEBUG test is made once, at start.
"""

from __future__ import annotations

import logging
import re

from ocpp_worker import metrics

log = logging.getLogger(__name__)

# [type,"id"(,"Action")…: the message type and a CALL's action, from the first bytes
# (the id's body unrolled, [^"\\]*(?:\\.[^"\\]*)*, matches ~3x faster than an alternation)
_HEAD = re.compile(r'\s*\[\s*([234])\s*,\s*"[^"\\]*(?:\\.[^"\\]*)*"(?:\s*,\s*"([A-Za-z0-9]{1,64})")?')
_TYPES = {"2": "call", "3": "result", "4": "error"}


def head(text: str, answers: str = "") -> tuple[str, str]:
    """(message type, action) of a frame: a CALL's own action, an answer's `answers`
    (the action of the CALL it answers); ("other", "") for anything unreadable."""
    match = _HEAD.match(text)
    if match is None:
        return "other", ""
    kind = _TYPES[match.group(1)]
    return kind, (match.group(2) or "") if kind == "call" else answers


class FrameObserver:
    def __init__(self) -> None:
        self.metrics = metrics.gateway()
        self.debug = log.isEnabledFor(logging.DEBUG)

    def received(self, cp_id: str, text: str, answers: str) -> None:
        kind, action = head(text, answers)
        self.metrics.received(kind, action)
        if self.debug:
            log.debug("%s <- %s", cp_id, text, extra=_fields(cp_id, "in", action))

    def sent(self, cp_id: str, frame: str, action: str) -> None:
        kind, action = head(frame, action)
        self.metrics.sent(kind, action)
        if self.debug:
            log.debug("%s -> %s", cp_id, frame, extra=_fields(cp_id, "out", action))

    def delivered(self, entry_id: str) -> None:
        """An outbox entry handed to its connection (or dropped): its lag."""
        self.metrics.delivered(entry_id)


def _fields(cp_id: str, direction: str, action: str) -> dict[str, str]:
    return {"charger_id": cp_id, "direction": direction, "action": action}
