"""Read the inbound stream as a member of the ``bridges`` consumer group.

* A CALL from a charger becomes the Celery task ``ocpp.v16.<Action>``.
* A CALLRESULT/CALLERROR answering one of our CALLs resolves the AsyncResult whose
  id is the OCPP message id, which the API is waiting on.
* A frame we cannot read is answered here (CALLERROR or close code), with no Celery
  round trip.

An entry is acknowledged and deleted only after it was handled. Entries a dead
bridge left pending are claimed by the living after `OCPP_BRIDGE_CLAIM_IDLE_MS`, so several
bridges can run and none of them can lose a frame by dying. A redelivered CALL is
harmless: the handlers are idempotent per (charger, message id).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

import redis
from celery import Celery, states
from kombu.exceptions import OperationalError

from ocpp_worker import answers, commands, metrics, transport
from ocpp_worker.protocol import errors, frames, validation
from ocpp_worker.protocol.actions import CHARGER_INITIATED, CSMS_INITIATED
from ocpp_worker.state import commands as command_state
from ocpp_worker.state.store import Store

log = logging.getLogger(__name__)

# Failures of the infrastructure, not of a frame: retry rather than drop.
OUTAGES = (redis.ConnectionError, redis.TimeoutError, OperationalError)

GROUP = "bridges"
BATCH = 200  # stream entries read at once
# CALLs of one action in one task: what one read holds, so a shallow stream (light
# load) gives batches of one and nothing waits to fill a batch.
TASK_BATCH = 100
# While more than BACKLOG_TASKS tasks wait in the worker queues, a shallow read waits up
# to LINGER_MS for more entries, so batches grow with the load (see workers_behind).
WORKER_QUEUES = ("ocpp", "ocpp.metering")
BACKLOG_TASKS = 4
LINGER_MS = 20


class Bridge:
    def __init__(self, store: Store, app: Celery, name: str | None = None) -> None:
        self.store = store
        self.app = app
        self.keys = store.keys
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._last_claim = 0.0
        self._own_pending = False
        # A frame another bridge has held this long unacknowledged is taken to be orphaned.
        self.claim_idle_ms = store.settings.bridge_claim_idle_ms
        self.claim_every_s = min(5.0, self.claim_idle_ms / 2000)
        self.metrics = metrics.bridge()

    def ensure_group(self) -> None:
        try:
            self.store.redis.xgroup_create(self.keys.inbound, GROUP, id="0", mkstream=True)
        except Exception as exc:  # BUSYGROUP: it exists already
            if "BUSYGROUP" not in str(exc):
                raise

    def run(self, stop: threading.Event) -> None:
        """Handle batches until `stop`; ride out Redis outages instead of dying."""
        log.info("bridge %s reading %s", self.name, self.keys.inbound)
        self.ensure_group()
        while not stop.is_set():
            try:
                self.step(block_ms=1000)
            except OUTAGES as exc:
                log.warning("Redis unavailable (%s); retrying in 1 s", exc)
                self._own_pending = True  # what this bridge read but did not hand on
                stop.wait(1)
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self.ensure_group()  # the stream or group was deleted (e.g. Redis restarted)

    def step(self, block_ms: int = 1000) -> int:
        """Handle one batch (claimed or new); returns how many entries were handled."""
        entries: list[tuple[str, dict[str, str]]] = []
        if self._own_pending:
            # after an outage, first the entries this bridge left pending: at once, not
            # after another bridge's claim timeout
            reply = self.store.redis.xreadgroup(GROUP, self.name, {self.keys.inbound: "0"}, count=BATCH)
            entries = [e for e in (reply[0][1] if reply else []) if e[1]]
            self._own_pending = bool(entries)
        if not entries and time.monotonic() - self._last_claim > self.claim_every_s:
            self._last_claim = time.monotonic()
            claimed = self.store.redis.xautoclaim(
                self.keys.inbound, GROUP, self.name, self.claim_idle_ms, "0-0", count=BATCH
            )
            entries = [e for e in claimed[1] if e[1]]
            if entries:
                log.warning("bridge %s took over %d unacknowledged frames", self.name, len(entries))
        if not entries:
            reply = self.store.redis.xreadgroup(
                GROUP, self.name, {self.keys.inbound: ">"}, count=BATCH, block=block_ms
            )
            entries = reply[0][1] if reply else []
            if 0 < len(entries) < BATCH and self.workers_behind():
                entries += self.read_more(BATCH - len(entries))
        done: list[str] = []
        calls: dict[str, list[tuple[str, transport.TaskEnvelope]]] = {}  # by action
        try:
            for entry_id, fields in entries:
                try:
                    to_dispatch = self.handle(fields, entry_id)
                except OUTAGES:
                    raise  # leave it pending: it is handled again once Redis is back
                except Exception:
                    # a bug on one frame must not block the stream behind it
                    log.exception("bridge could not handle %r", fields)
                    to_dispatch = None
                if to_dispatch is None:
                    done.append(entry_id)
                else:
                    calls.setdefault(to_dispatch[0], []).append((entry_id, to_dispatch[1]))
            for action, batch in calls.items():
                for start in range(0, len(batch), TASK_BATCH):
                    chunk = batch[start : start + TASK_BATCH]
                    envelopes = [env for _, env in chunk]
                    # ignore_result: no subscription to a result channel per task sent
                    self.app.send_task(transport.task_name(action), args=[envelopes], ignore_result=True)
                    done.extend(entry_id for entry_id, _ in chunk)
                    self.metrics.dispatched(action, len(chunk))
        finally:
            if done:
                pipe = self.store.redis.pipeline(transaction=False)
                pipe.xack(self.keys.inbound, GROUP, *done)
                pipe.xdel(self.keys.inbound, *done)
                pipe.execute()
        return len(done)

    def workers_behind(self) -> bool:
        """Whether tasks are waiting for a worker: then batching more per task costs no
        latency (the next task would wait anyway) and saves each CALL its share of
        Celery's per-task cost. At light load nothing waits and nothing is delayed."""
        pipe = self.store.redis.pipeline(transaction=False)
        for queue in WORKER_QUEUES:
            pipe.llen(self.keys.celery_queue(queue))
        waiting: int = sum(pipe.execute())
        return waiting > BACKLOG_TASKS

    def read_more(self, count: int) -> list[tuple[str, dict[str, str]]]:
        """What has arrived after LINGER_MS more, for a larger batch while workers are behind."""
        time.sleep(LINGER_MS / 1000)
        reply = self.store.redis.xreadgroup(GROUP, self.name, {self.keys.inbound: ">"}, count=count)
        return reply[0][1] if reply else []

    # -- one entry ----------------------------------------------------------
    def handle(self, fields: dict[str, str], entry_id: str = "") -> tuple[str, transport.TaskEnvelope] | None:
        """Handle one entry here, or return the (action, envelope) of a charger CALL for
        its task: `step` sends each action's CALLs of one read as one batch task."""
        entry = transport.decode_inbound(fields)
        if isinstance(entry, transport.Abandoned):
            for unique_id in entry.ids:
                self.resolve(unique_id, transport.abandoned_outcome(entry.reason))
            return None
        try:
            frame = frames.parse(entry.frame, self.store.settings.max_frame_bytes)
        except frames.FrameError as exc:
            if exc.is_answer and entry.answers and exc.unique_id:
                # a broken answer to our CALL: the caller learns it now, not at its timeout
                self.resolve(exc.unique_id, transport.invalid_outcome(exc.error_code, exc.reason))
            elif exc.is_answer:
                log.warning("broken stray answer from %s: %s", entry.cp, exc.reason)
            else:
                self.answer_bad_frame(entry, exc)
            return None
        if isinstance(frame, frames.Call):
            envelope: transport.TaskEnvelope = {
                "cp": entry.cp,
                "gw": entry.gw,
                "conn": entry.conn,
                "entry": entry_id,
                "frame": entry.frame,
            }
            if frame.action in CHARGER_INITIATED:
                return frame.action, envelope
            self.refuse_call(envelope, frame)
        else:
            self.resolve_answer(entry.cp, entry.answers, frame)
        return None

    def answer_bad_frame(self, entry: transport.ChargerFrame, exc: frames.FrameError) -> None:
        code = exc.error_code if exc.unique_id is not None else f"close_{exc.close_code}"
        log.warning(
            "bad frame from %s: %s",
            entry.cp,
            exc.reason,
            extra={"charger_id": entry.cp, "message_id": exc.unique_id, "outcome": code},
        )
        self.metrics.bad_frame(code)
        op: transport.OutboxOp
        if exc.unique_id is not None:
            op = transport.Send(
                entry.cp, frames.call_error(exc.unique_id, exc.error_code, exc.reason), entry.conn
            )
        else:
            op = transport.Close(entry.cp, entry.conn, exc.close_code, exc.reason[:120])
        transport.to_gateway(self.store.redis, self.keys, entry.gw, op)

    def refuse_call(self, envelope: transport.TaskEnvelope, call: frames.Call) -> None:
        """Answer a CALL no charger may send: a CSMS action, or one nobody defines."""
        if call.action in CSMS_INITIATED:
            error: errors.OcppError = errors.NotSupportedError(
                f"{call.action} is sent by a central system, not a charge point"
            )
        else:
            error = errors.NotImplementedActionError(f"unknown action {call.action[:64]}")
        self.metrics.bad_frame(error.code)
        reply = frames.call_error(call.unique_id, error.code, error.description)
        transport.to_gateway(
            self.store.redis,
            self.keys,
            envelope["gw"],
            transport.Send(envelope["cp"], reply, envelope["conn"]),
        )

    def resolve_answer(self, cp_id: str, action: str, answer: frames.Frame) -> None:
        if not action:
            log.warning(
                "stray %s %s from %s: no CALL of ours is waiting for it",
                type(answer).__name__,
                answer.unique_id,
                cp_id,
            )
            return
        outcome: transport.CallOutcome
        if isinstance(answer, frames.CallError):
            outcome = transport.error_outcome(
                answer.error_code, answer.error_description, answer.error_details
            )
        else:
            assert isinstance(answer, frames.CallResult)
            try:
                validation.validate("response", action, answer.payload)
                outcome = transport.result_outcome(answer.payload)
            except errors.OcppError as exc:
                outcome = transport.invalid_outcome(exc.code, exc.description, answer.payload)
            else:
                self.keep_answer(cp_id, action, answer.payload)
        self.resolve(answer.unique_id, outcome)

    def keep_answer(self, cp_id: str, action: str, payload: dict[str, Any]) -> None:
        """Store what the answer tells us (`answers.keep`) before anyone reads it; a
        failure there is logged and does not keep the answer from its caller."""
        try:
            answers.keep(self.store, cp_id, action, payload)
        except redis.RedisError:
            log.exception("could not store %s's answer to %s", cp_id, action)

    def resolve(self, unique_id: str, outcome: transport.CallOutcome) -> None:
        if command_state.is_command_id(unique_id):  # a queued command's CALL: nobody waits on it
            commands.record_outcome(self.store, unique_id, outcome)
            return
        self.app.backend.store_result(unique_id, outcome, states.SUCCESS)
