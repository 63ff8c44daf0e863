"""Fuzz the real gateway, bridge and Celery worker with thousands of hostile frames.

`CONNECTIONS` chargers with valid ids connect at once; each boots, then sends
`STEPS_PER_CONNECTION` steps drawn from a seeded `random.Random` (tests/support/fuzz.py)
one after the other, reading every answer before the next CALL. Classes of input:
schema-valid CALLs of every charger-initiated action, schema-invalid mutations,
structural junk with a readable id, unreadable frames (the connection is closed; the
charger reconnects), stray CALLRESULT/CALLERROR frames, ids of any characters,
duplicated ids, and bursts beyond the pending-call limit. Afterwards no socket may
get another frame, the gateway and bridge must be alive, and a well-behaved charger
must still complete a whole charging session. The per-class numbers are printed
(`pytest -s`) and recorded in docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import websockets
from ocpp.v16 import call
from websockets.exceptions import ConnectionClosed

from ocpp_worker.protocol.errors import CODES_V16
from ocpp_worker.state import idtags, transactions
from tests.support import fuzz
from tests.support.chargers import ChargerFactory, raw_socket, recv_json
from tests.support.fuzz import Expect, Frame, Step

SEED = 20_161_616
CONNECTIONS = 40
STEPS_PER_CONNECTION = 120
ANSWER_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 10.0
QUIET_S = 1.5  # after the run, no socket may receive anything for this long
BURST = 8  # CALLs sent at once by the pending-limit class (the limit is 5)

CLASSES = {  # class -> weight of its steps
    "schema-valid": 32,
    "schema-invalid": 20,
    "structural": 28,
    "stray-answer": 10,
    "special-id": 4,
    "duplicate-id": 3,
    "unreadable": 2.2,
    "pending-limit": 0.8,
}


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)  # class -> frames sent
    kinds: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    outcomes: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # schema-valid CALLs: action -> answers by code
    actions: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    violations: list[str] = field(default_factory=list)
    valid_errors: list[str] = field(default_factory=list)  # schema-valid CALLs with a CALLERROR
    reconnects: int = 0


def charger_id(i: int, run: str, rng: random.Random) -> str:
    """Valid charger ids using the whole allowed alphabet (percent-encoded in the URL)."""
    return f"FZ{run}-{i:02d}" + "".join(rng.choice("*-_=:+|@.") for _ in range(rng.randint(0, 6)))


class Fuzzer:
    """One charger sending its steps in order over a raw WebSocket."""

    def __init__(self, url: str, cp_id: str, rng: random.Random, tally: Tally) -> None:
        self.url = f"{url}/{quote(cp_id, safe='')}"
        self.cp_id = cp_id
        self.rng = rng
        self.tally = tally
        self.ctx = fuzz.Context()
        self.ws: Any = None

    def violation(self, what: str) -> None:
        self.tally.violations.append(f"{self.cp_id}: {what}")

    async def connect(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.tally.reconnects += 1
        self.ws = await websockets.connect(self.url, subprotocols=["ocpp1.6"], max_size=None, open_timeout=30)  # type: ignore[list-item]

    # -- the steps --------------------------------------------------------------
    def next_step(self) -> Step:
        rng, ctx = self.rng, self.ctx
        cls = rng.choices(list(CLASSES), weights=list(CLASSES.values()))[0]
        if cls == "schema-valid":
            frame = fuzz.valid_call(rng, ctx, ctx.fresh_id(rng))
            return Step(cls, frame.action, [frame])
        if cls == "schema-invalid":
            kind, frame = fuzz.invalid_call(rng, ctx, ctx.fresh_id(rng))
            return Step(cls, kind, [frame])
        if cls == "structural":
            kind, frame = fuzz.structural(rng, ctx, ctx.fresh_id(rng))
            return Step(cls, kind, [frame])
        if cls == "stray-answer":
            kind, frame = fuzz.stray(rng, ctx)
            return Step(cls, kind, [frame])
        if cls == "special-id":
            if rng.random() < 0.8:
                frame = fuzz.valid_call(rng, ctx, ctx.special_id(rng))
                return Step(cls, "schema-valid CALL", [frame])
            kind, frame = fuzz.structural(rng, ctx, ctx.special_id(rng))
            return Step(cls, f"structural ({kind})", [frame])
        if cls == "duplicate-id":
            return self.duplicate_step()
        if cls == "unreadable":
            kind, frame = fuzz.unreadable(rng, ctx)
            return Step(cls, kind, [frame])
        frames = [fuzz.valid_call(rng, ctx, ctx.fresh_id(rng), "Heartbeat") for _ in range(BURST)]
        for frame in frames:
            frame.codes = frozenset({fuzz.CALLRESULT, fuzz.GENERIC})
        return Step(cls, f"{BURST} CALLs at once", frames, wait_between=False)

    def duplicate_step(self) -> Step:
        rng, ctx = self.rng, self.ctx
        unique_id = ctx.fresh_id(rng, "dup-")
        kind = rng.choice(
            [
                "resend-same-frame",
                "same-id-other-action",
                "back-to-back",
                "invalid-then-valid",
                "junk-then-valid",
            ]
        )
        first: Frame
        if kind in ("resend-same-frame", "back-to-back", "same-id-other-action"):
            first = fuzz.valid_call(rng, ctx, unique_id)
        elif kind == "invalid-then-valid":
            first = fuzz.invalid_call(rng, ctx, unique_id)[1]
        else:  # the bridge answers junk itself: nothing is cached under its id
            first = fuzz.structural(rng, ctx, unique_id)[1]
            while first.unique_id != unique_id:
                first = fuzz.structural(rng, ctx, unique_id)[1]
        if kind in ("resend-same-frame", "back-to-back"):
            second = Frame(first.text, Expect.ANSWER, unique_id, action=first.action, same_as_first=True)
        elif kind == "junk-then-valid":
            second = fuzz.valid_call(rng, ctx, unique_id)
        else:  # a reused id gets the reply to its first CALL again (state/replies.py)
            second = fuzz.valid_call(rng, ctx, unique_id)
            second.same_as_first, second.schema_valid = True, False
        return Step("duplicate-id", kind, [first, second], wait_between=kind != "back-to-back")

    # -- sending and reading ------------------------------------------------------
    async def send(self, step: Step, frame: Frame) -> None:
        self.tally.sent[step.cls] += 1
        self.tally.kinds[step.cls][step.kind] += 1
        if frame.expect is Expect.ANSWER and frame.unique_id is not None:
            self.ctx.answered_ids.append(frame.unique_id)  # in sending order: deterministic
        if isinstance(frame.text, bytes):
            await self.ws.send(frame.text, text=not frame.binary)
        else:
            await self.ws.send(frame.text)

    def record(self, step: Step, frame: Frame, message: Any, firsts: dict[str, Any]) -> None:
        ok_shape = (message[0] == 3 and len(message) == 3 and isinstance(message[2], dict)) or (
            message[0] == 4
            and len(message) == 5
            and message[2] in CODES_V16
            and isinstance(message[3], str)
            and isinstance(message[4], dict)
        )
        if not ok_shape:
            self.violation(f"malformed answer {message!r:.300} to {frame.note}")
            return
        outcome = fuzz.CALLRESULT if message[0] == 3 else message[2]
        self.tally.outcomes[step.cls][outcome] += 1
        if frame.schema_valid:
            self.tally.actions[frame.action][outcome] += 1
        uid = frame.unique_id
        assert uid is not None
        if frame.same_as_first:
            if message != firsts.get(uid):
                self.violation(
                    f"{step.kind}: {message!r:.200} differs from the first answer {firsts.get(uid)!r:.200}"
                )
            return
        firsts.setdefault(uid, message)
        if outcome in frame.codes:
            if frame.action == "StartTransaction" and outcome == fuzz.CALLRESULT:
                self.ctx.transactions.append(message[2]["transactionId"])
        elif frame.schema_valid and outcome != fuzz.INTERNAL:
            self.tally.valid_errors.append(f"{outcome} {message[3]!r:.120} for {frame.note}")
        else:
            expected = "/".join(sorted(frame.codes))
            self.violation(
                f"{step.cls} {step.kind}: {outcome} {message[3:4]!r:.150}, expected {expected},"
                f" for {frame.note}"
            )

    async def answers(self, step: Step, frames: list[Frame], firsts: dict[str, Any]) -> bool:
        """Read one answer per frame (matched by id); False if the socket had to be replaced."""
        waiting = list(frames)
        while waiting:
            try:
                message = json.loads(await asyncio.wait_for(self.ws.recv(), ANSWER_TIMEOUT_S))
            except TimeoutError:
                self.violation(f"no answer in {ANSWER_TIMEOUT_S:.0f} s to {[f.note for f in waiting]!r:.400}")
                await self.connect()
                return False
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                self.violation(
                    f"closed ({code}) while waiting for answers to {[f.note for f in waiting]!r:.400}"
                )
                await self.connect()
                return False
            if not isinstance(message, list) or len(message) < 2 or message[0] not in (3, 4):
                self.violation(f"got {message!r:.200}, not an answer")
                continue
            match = next((f for f in waiting if f.unique_id == message[1]), None)
            if match is None:
                self.violation(
                    f"unexpected frame {message!r:.200} while waiting for {[f.note for f in waiting]!r:.300}"
                )
                continue
            waiting.remove(match)
            self.record(step, match, message, firsts)
        return True

    async def closed(self, step: Step, frame: Frame) -> None:
        """Send an unreadable frame: the server must close, sending nothing first."""
        code = None
        try:
            await self.send(step, frame)
            while True:
                message = await asyncio.wait_for(self.ws.recv(), CLOSE_TIMEOUT_S)
                self.violation(f"{message!r:.200} arrived after the unreadable {frame.note}")
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
        except TimeoutError:
            self.violation(f"not closed within {CLOSE_TIMEOUT_S:.0f} s after {frame.note}")
        self.tally.outcomes[step.cls][f"closed {code}"] += 1
        if code not in frame.codes:
            self.violation(f"closed with {code}, expected {sorted(frame.codes)}, after {frame.note}")
        await self.connect()

    async def run_step(self, step: Step) -> None:
        if step.frames[0].expect is Expect.CLOSE:
            await self.closed(step, step.frames[0])
            return
        firsts: dict[str, Any] = {}
        if not step.wait_between:
            for frame in step.frames:
                await self.send(step, frame)
            await self.answers(step, [f for f in step.frames if f.expect is Expect.ANSWER], firsts)
            return
        for frame in step.frames:
            await self.send(step, frame)
            if frame.expect is Expect.SILENT:
                self.tally.outcomes[step.cls]["no answer"] += 1
            elif not await self.answers(step, [frame], firsts):
                return

    async def run(self, steps: int) -> None:
        await self.connect()
        boot = Frame(
            json.dumps(
                [2, "boot", "BootNotification", {"chargePointVendor": "Fuzz", "chargePointModel": "F"}]
            ),
            Expect.ANSWER,
            "boot",
            frozenset({fuzz.CALLRESULT}),
            "BootNotification",
            note="setup boot",
        )
        self.ctx.used_ids.add("boot")
        await self.run_step(Step("setup", "BootNotification", [boot]))
        for _ in range(steps):
            try:
                await self.run_step(self.next_step())
            except ConnectionClosed as closed:  # e.g. a send on a socket the server closed
                self.violation(f"connection closed unexpectedly: {closed!r}")
                await self.connect()
        probe = fuzz.valid_call(self.rng, self.ctx, self.ctx.fresh_id(self.rng, "probe-"), "Heartbeat")
        await self.run_step(Step("final probe", "Heartbeat", [probe]))

    async def quiet(self) -> None:
        """Nothing may arrive once every CALL was answered."""
        try:
            message = await asyncio.wait_for(self.ws.recv(), QUIET_S)
            self.violation(f"extra frame after the run: {message!r:.200}")
        except TimeoutError:
            pass
        except ConnectionClosed as closed:
            self.violation(f"closed after the run: {closed!r}")
        await self.ws.close()


def summary(tally: Tally, elapsed: float) -> str:
    lines = [f"fuzz: seed {SEED}, {CONNECTIONS} connections, {elapsed:.1f} s, {tally.reconnects} reconnects"]
    total = sum(n for cls, n in tally.sent.items() if cls not in ("setup", "final probe"))
    lines.append(f"{'class':<16}{'frames':>7}  outcomes")
    for cls in [*CLASSES, "setup", "final probe"]:
        outcomes = ", ".join(f"{k} {v}" for k, v in tally.outcomes[cls].most_common())
        lines.append(f"{cls:<16}{tally.sent[cls]:>7}  {outcomes}")
        if cls not in ("schema-valid", "setup", "final probe"):
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(tally.kinds[cls].items()))
            lines.append(f"{'':<25}by kind: {kinds}")
    lines.append(f"{'hostile total':<16}{total:>7}")
    lines.append(
        "schema-valid CALLs by action: "
        + "; ".join(f"{a} {dict(c)}" for a, c in sorted(tally.actions.items()))
    )
    lines.append(
        f"schema-valid CALLs answered with a CALLERROR other than InternalError: {len(tally.valid_errors)}"
    )
    lines.extend(f"  {e}" for e in tally.valid_errors[:20])
    lines.append(f"violations: {len(tally.violations)}")
    lines.extend(f"  {v}" for v in tally.violations[:40])
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_fuzz_thousands_of_hostile_frames(stack, store):
    idtags.put(store, "FUZZ-OK", "Accepted")
    idtags.put(store, "FUZZ-BLOCKED", "Blocked")
    idtags.put(store, "FUZZ-EXPIRED", "Accepted", expiry_date="2020-01-01T00:00:00Z")
    run = uuid.uuid4().hex[:6]
    ids_rng = random.Random(SEED)
    tally = Tally()
    fuzzers = [
        Fuzzer(stack.ws_url, charger_id(i, run, ids_rng), random.Random(f"{SEED}:{i}"), tally)
        for i in range(CONNECTIONS)
    ]
    started = time.monotonic()
    await asyncio.gather(*(f.run(STEPS_PER_CONNECTION) for f in fuzzers))
    await asyncio.gather(*(f.quiet() for f in fuzzers))
    elapsed = time.monotonic() - started

    dead = [
        fields
        for _, fields in store.redis.xrange(store.keys.dead_letters)
        if fields.get("cp", "").startswith(f"FZ{run}-")
    ]
    report = summary(tally, elapsed) + f"\ndead letters of the fuzzed chargers: {len(dead)}"
    print("\n" + report)

    problems = list(tally.violations)
    for name in ("gateway", "bridge"):
        if not stack.processes[name].alive():
            problems.append(f"the {name} died:\n{stack.processes[name].output()[-3000:]}")
    hostile = sum(n for cls, n in tally.sent.items() if cls in CLASSES)
    if hostile < 5000:
        problems.append(f"only {hostile} hostile frames were sent")
    for action in fuzz.CHARGER_ACTIONS:
        if not tally.actions[action][fuzz.CALLRESULT]:
            problems.append(f"no schema-valid {action} got a CALLRESULT")

    # a well-behaved charger still gets a whole session through gateway, bridge and worker
    idtags.put(store, "FUZZ-GOOD", "Accepted")
    good = ChargerFactory(stack.ws_url)
    try:
        cp = await good.connect(f"FZ{run}-good")
        assert (await cp.call(call.Authorize(id_tag="FUZZ-GOOD"))).id_tag_info["status"] == "Accepted"
        tx_id = await cp.start_session(1, "FUZZ-GOOD")
        for _ in range(3):
            await cp.meter(1, wh=500)
        await cp.stop_session(1)
    finally:
        await good.close_all()
    tx = transactions.get(store, tx_id)
    assert tx is not None and tx["status"] == "completed" and tx["energyWh"] == "1500"
    assert len(transactions.samples_of(store, tx_id)) == 6

    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:60])


EDGE_OF_RANGE = [
    # RFC 3339 date-times whose UTC form is in year 0 or 10000
    (
        "StatusNotification",
        {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": "Available",
            "timestamp": "9999-12-31T23:59:59-00:01",
        },
    ),
    (
        "StartTransaction",
        {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "0001-01-01T00:00:00+00:01"},
    ),
    ("StopTransaction", {"transactionId": 1, "meterStop": 0, "timestamp": "9999-12-31T23:30:00-01:00"}),
    (
        "MeterValues",
        {
            "connectorId": 1,
            "meterValue": [{"timestamp": "0001-01-01T00:30:00+01:00", "sampledValue": [{"value": "1"}]}],
        },
    ),
    ("SecurityEventNotification", {"type": "X", "timestamp": "9999-12-31T23:59:59-23:59"}),
]


@pytest.mark.parametrize(("action", "payload"), EDGE_OF_RANGE, ids=[a for a, _ in EDGE_OF_RANGE])
async def test_timestamps_at_the_ends_of_the_date_range_get_a_callresult(stack, cp_id, action, payload):
    """Schema-valid: the 1.6 schemas only ask for an RFC 3339 date-time, and these are.
    Converting them to UTC leaves Python's datetime range, which must not become an
    InternalError (a charger would resend the message forever)."""
    async with raw_socket(stack.ws_url, cp_id) as ws:
        await ws.send(json.dumps([2, "edge-1", action, payload]))
        reply = await recv_json(ws, timeout=20)
    assert reply[:2] == [3, "edge-1"], reply


async def test_a_burst_reusing_one_message_id_is_held_to_the_pending_call_limit(stack, cp_id):
    """OCPP_MAX_PENDING_CALLS (5) keeps one charger from queueing unbounded work. The
    gateway counts pending CALLs by distinct message id, so 60 copies of one CALL sent
    at once all pass to the bridge and the workers (each a Celery task, each answered
    with the cached reply) instead of all but a few being refused with GenericError."""
    frame = json.dumps([2, "same-id", "Heartbeat", {}])
    async with raw_socket(stack.ws_url, cp_id) as ws:
        for _ in range(60):
            await ws.send(frame)
        answers = [await recv_json(ws, timeout=20) for _ in range(60)]
        assert all(a[1] == "same-id" for a in answers)  # every frame got its one answer
        refused = [a for a in answers if a[0] == 4]
        assert all(a[2] == "GenericError" for a in refused)
        assert len(refused) >= 30, f"only {len(refused)} of 60 were refused"
        await ws.send(json.dumps([2, "after-burst", "Heartbeat", {}]))
        assert (await recv_json(ws))[:2] == [3, "after-burst"]
