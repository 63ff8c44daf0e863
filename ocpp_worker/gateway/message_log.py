"""The gateway's writer of the OCPP message log (`state.message_log`): off the hot path.

`record` only appends to a list and is never awaited, so logging a frame costs a
charger no round trip. What gathers in `FLUSH_EVERY_S` (100 ms) goes to Redis in one
pipeline (one script call per 500 frames, `state.message_log.add`); while that
pipeline is out, the next frames gather for the next one, so a slow Redis makes
batches bigger, not more numerous. Each pipeline costs the gateway a fixed share of
CPU whatever its size, so batching by time rather than per loop turn keeps the log's
cost per frame low under light load too (a few frames per turn). The queue is bounded
(`MAX_QUEUED`): past it, and when a write fails, frames are dropped and counted
(`dropped`; also added to `Keys.message_log_dropped` with the next write that works),
never held in memory or made to slow the chargers down.

Each charger's log is also trimmed by age (`state.message_log.trim_age`), at most
once per `TRIM_EVERY_S` per charger, with the first write of its in that window.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import Any

from ocpp_worker.redaction import Scrubber
from ocpp_worker.state import message_log
from ocpp_worker.state.keys import Keys
from ocpp_worker.state.message_log import Frame, Retention

log = logging.getLogger(__name__)

# The log is read through the API, the status page and the CLI: a new AuthorizationKey
# (ChangeConfiguration, or a charger that reports it in GetConfiguration) is masked
# before it is kept. Only frames that name the key pay for the scrubber.
_SCRUB = Scrubber()
SECRET_MARK = "AuthorizationKey"
MAX_QUEUED = 20_000  # frames waiting for a write; ~20 MB at most with FRAME_MAX texts
FLUSH_EVERY_S = 0.1
TRIM_EVERY_S = 600.0
WARN_EVERY_S = 60.0


class MessageLogWriter:
    def __init__(
        self,
        redis: Any,
        keys: Keys,
        retention: Retention,
        max_queued: int = MAX_QUEUED,
        flush_every_s: float = FLUSH_EVERY_S,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.retention = retention
        self.max_queued = max_queued
        self.flush_every_s = flush_every_s
        self.dropped = 0  # frames never written, since the process started
        self._unreported = 0  # of those, not yet added to the Redis counter
        self._queue: list[Frame] = []
        self._writer: asyncio.Task[None] | None = None  # held, or the loop may drop it
        self._trimmed: set[str] = set()  # chargers trimmed in this window
        self._window = 0.0
        self._warned = 0.0

    def record(self, frame: Frame) -> None:
        """Log a frame (from the event loop's thread). Returns at once."""
        if not self.retention.enabled:
            return
        if len(self._queue) >= self.max_queued:
            self._drop(1, "queue full")
            return
        if SECRET_MARK in frame.text:
            frame = dataclasses.replace(frame, text=_SCRUB(frame.text))
        self._queue.append(frame)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.flush_every_s)  # let frames gather
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
                pipe = self.redis.pipeline(transaction=False)
                message_log.add(pipe, self.keys, batch, self.retention)
                for cp_id in self._due_for_trim(batch):
                    message_log.trim_age(pipe, self.keys, cp_id, self.retention)
                reported, self._unreported = self._unreported, 0
                if reported:
                    pipe.incrby(self.keys.message_log_dropped, reported)
                try:
                    await pipe.execute()
                except Exception as exc:  # Redis down or slow: the log is what gives
                    self._unreported += reported
                    self._drop(len(batch), f"write failed: {exc!r}")
        finally:
            self._writer = None

    def _due_for_trim(self, batch: list[Frame]) -> set[str]:
        now = time.monotonic()
        if now - self._window >= TRIM_EVERY_S:
            self._window, self._trimmed = now, set()
        due = {frame.cp for frame in batch} - self._trimmed
        self._trimmed |= due
        return due

    def _drop(self, n: int, why: str) -> None:
        self.dropped += n
        self._unreported += n
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY_S:
            self._warned = now
            log.warning("message log: dropped %d frames (%d in all): %s", n, self.dropped, why)

    async def close(self, timeout: float = 2.0) -> None:
        """Write what is queued (for a clean stop), waiting at most `timeout`."""
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(writer), timeout)
