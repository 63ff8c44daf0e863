"""One charger connection: its writer, and the flow control of our CALLs to it.

OCPP-J 1.6 §4.1.1 allows one outstanding CALL per direction. The charger's CALLs
are answered as they come, up to `max_pending` awaiting an answer at once (a little
slack for chargers that send a burst; beyond it the gateway answers a CALLERROR
itself, so one charger cannot queue unbounded work); ours are sent one at a time: a CALL waits in `waiting`
until the previous one is answered or reaches its deadline (the API has given up
by then). Because the gateway knows which CALL is outstanding, it tags the
charger's answer with that CALL's action, which a 1.6 CALLRESULT does not carry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

log = logging.getLogger(__name__)

# [3,"id",…] or [4,"id",…]: enough to match an answer without parsing the whole frame.
_ANSWER = re.compile(r'^\s*\[\s*([34])\s*,\s*"((?:[^"\\]|\\.)*)"')
_CALL = re.compile(r'^\s*\[\s*2\s*,\s*"((?:[^"\\]|\\.)*)"(?:\s*,\s*"([A-Za-z0-9]{1,50})")?')
# A charger CALL nobody answered within this long no longer counts against the limit.
PENDING_FORGET_S = 60.0


def _json_string(escaped: str) -> str | None:
    """The value of a JSON string's body as matched by the regexes above."""
    try:
        value = json.loads(f'"{escaped}"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


@dataclass
class OutgoingCall:
    unique_id: str
    action: str
    frame: str
    deadline: float  # time.time() after which nobody waits for the answer


class Session:
    def __init__(
        self,
        ws: ServerConnection,
        cp_id: str,
        conn_id: str,
        max_pending: int = 5,
        on_send: Callable[[str, str], None] | None = None,
    ) -> None:
        self.ws = ws
        self.cp_id = cp_id
        self.conn_id = conn_id
        self.registration: dict[str, str] = {}  # what the gateway registry holds for it
        # frames to send, or (close code, reason) to close after what came before
        self.outgoing: asyncio.Queue[str | tuple[int, str]] = asyncio.Queue()
        self.pending: OutgoingCall | None = None
        self.waiting: deque[OutgoingCall] = deque()
        self.max_pending = max_pending
        self.charger_calls: dict[str, list[float]] = {}  # the charger's CALL frames not answered yet
        self.charger_call_actions: dict[str, str] = {}  # their actions, for the answers' log entries
        self.on_send = on_send  # (frame, action it is or answers) for each frame queued to send
        self._expiry: asyncio.TimerHandle | None = None
        self.writer = asyncio.create_task(self._write(), name=f"writer-{cp_id}")

    # -- to the charger --------------------------------------------------------
    def send(self, frame: str, action: str = "") -> None:
        """Queue a frame; `action`: the one it calls or answers, for `on_send`."""
        if self.on_send is not None:
            self.on_send(frame, action)
        self.outgoing.put_nowait(frame)

    def close(self, code: int, reason: str) -> None:
        self.outgoing.put_nowait((code, reason))

    def call(self, outgoing: OutgoingCall) -> None:
        """Send our CALL now, or after the one outstanding."""
        self.waiting.append(outgoing)
        if self.pending is None:
            self._next_call()

    def _next_call(self) -> None:
        self.pending = None
        while self.waiting:
            candidate = self.waiting.popleft()
            remaining = candidate.deadline - time.time()
            if remaining > 0:
                self.pending = candidate
                self._expiry = asyncio.get_running_loop().call_later(remaining, self._expire)
                self.send(candidate.frame, candidate.action)
                return
            log.info(
                "%s: dropped %s %s, its caller gave up", self.cp_id, candidate.action, candidate.unique_id
            )

    def _expire(self) -> None:
        if self.pending is not None:
            log.info("%s: no answer to %s %s", self.cp_id, self.pending.action, self.pending.unique_id)
        self._next_call()

    async def _write(self) -> None:
        try:
            while True:
                item = await self.outgoing.get()
                if isinstance(item, tuple):
                    await self.ws.close(*item)
                    return
                await self.ws.send(item)
        except ConnectionClosed:
            pass

    # -- from the charger ------------------------------------------------------
    def charger_call_refused(self, text: str) -> tuple[str, int] | None:
        """Count a CALL from the charger; (its id, the limit) when it is one too many.
        Every frame counts, so resending one message id cannot get around the limit."""
        match = _CALL.match(text)
        unique_id = _json_string(match.group(1)) if match else None
        if unique_id is None:
            return None  # not a CALL, or unreadable: the bridge answers it
        now = time.monotonic()
        if self._pending_charger_calls() >= self.max_pending:
            for key, times in list(self.charger_calls.items()):
                times[:] = [at for at in times if now - at <= PENDING_FORGET_S]
                if not times:
                    del self.charger_calls[key]
                    self.charger_call_actions.pop(key, None)
            if self._pending_charger_calls() >= self.max_pending:
                return unique_id, self.max_pending
        self.charger_calls.setdefault(unique_id, []).append(now)
        self.charger_call_actions[unique_id] = (match.group(2) or "") if match else ""
        return None

    def _pending_charger_calls(self) -> int:
        return sum(len(times) for times in self.charger_calls.values())

    def charger_call_answered(self, frame: str) -> str:
        """Count our answer to a charger CALL; the action of that CALL ("" if unknown)."""
        match = _ANSWER.match(frame)
        unique_id = _json_string(match.group(2)) if match else None
        if unique_id is None:
            return ""
        action = self.charger_call_actions.get(unique_id, "")
        times = self.charger_calls.get(unique_id, [])
        if times:
            times.pop(0)
        if not times:
            self.charger_calls.pop(unique_id, None)
            self.charger_call_actions.pop(unique_id, None)
        return action

    def answered_action(self, text: str) -> str:
        """If `text` answers our outstanding CALL, release the next one and return the
        action it answers; otherwise ''."""
        match = _ANSWER.match(text)
        if match is None or self.pending is None or match.group(2) != self.pending.unique_id:
            return ""
        action = self.pending.action
        if self._expiry is not None:
            self._expiry.cancel()
        self._next_call()
        return action

    # -- end -------------------------------------------------------------------
    def abandon(self) -> list[str]:
        """Stop writing; the ids of our CALLs that will now get no answer."""
        self.writer.cancel()
        if self._expiry is not None:
            self._expiry.cancel()
        calls = ([self.pending] if self.pending else []) + list(self.waiting)
        self.pending, self.waiting = None, deque()
        return [c.unique_id for c in calls if c.deadline > time.time()]
