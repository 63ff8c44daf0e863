"""The load generator: several client processes, each an asyncio loop (uvloop when
installed) holding its share of the chargers as raw WebSockets with hand-built frames.

The parent (`LoadGenerator`) sends every process the same command with absolute
start times, so all processes act together; each answers with its counts, its
errors and an HDR histogram of latencies (µs), which the parent merges.

Latency is measured per CALL from send to reply (closed loop) or from the CALL's
*intended* send time (open loop): a CALL that had to wait because the system was
slow counts that wait, so no coordinated omission. Every CALL intended inside the
window is recorded, also when its reply comes after the window ends; a reply that
never comes within `REPLY_TIMEOUT_S` is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import resource
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from bench.mix import CYCLE, FIRST_WITH_TRANSACTION, Charger

REPLY_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 30.0
HIST_MAX_US = 300_000_000
MAX_ERRORS_KEPT = 20


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, HIST_MAX_US, 3)


@dataclass
class Tally:
    """What one process saw in one command."""

    hist: HdrHistogram = field(default_factory=new_histogram)
    by_action: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    intended: int = 0  # CALLs whose (intended) send time is in the window
    answered: int = 0  # of those, answered (good or not): the latency histogram's count
    answered_in_window: int = 0  # replies received inside the window, whenever sent
    unsent: int = 0  # intended in the window but never sent (open loop fell behind past the drain)

    def error(self, what: str) -> None:
        key = what.split(":")[0] + ": " + what.split(":")[1][:40] if ":" in what else what
        self.errors[key] += 1
        if len(self.samples) < MAX_ERRORS_KEPT:
            self.samples.append(what[:300])

    def record(self, latency_s: float) -> None:
        self.hist.record_value(max(1, min(HIST_MAX_US, int(latency_s * 1e6))))

    def export(self) -> dict[str, Any]:
        return {
            "hist": self.hist.encode(),
            "by_action": dict(self.by_action),
            "errors": dict(self.errors),
            "samples": self.samples,
            "intended": self.intended,
            "answered": self.answered,
            "answered_in_window": self.answered_in_window,
            "unsent": self.unsent,
        }


# -- one client process ------------------------------------------------------------


def answer_to_call(frame: str) -> str:
    """What a charger answers a CALL of the central system: its (empty) configuration
    for GetConfiguration, NotImplemented for anything else (we implement nothing)."""
    message = json.loads(frame)
    if message[2] == "GetConfiguration":
        return json.dumps([3, message[1], {"configurationKey": []}])
    return json.dumps([4, message[1], "NotImplemented", "not in the load generator", {}])


class Client:
    def __init__(self, url: str, cp_ids: list[str], positions: list[int], deflate: bool) -> None:
        self.url = url
        seen: set[int] = set()
        self.chargers = [Charger(cp, pos, seen) for cp, pos in zip(cp_ids, positions, strict=True)]
        self.deflate = deflate

    async def call(
        self, ch: Charger, built: tuple[str, str, str], timeout: float = REPLY_TIMEOUT_S
    ) -> tuple[str | None, float]:
        """Send one CALL and wait for its answer: (error or None, time of the answer)."""
        action, uid, frame = built
        try:
            async with asyncio.timeout(timeout):
                await ch.ws.send(frame)
                reply = await ch.ws.recv()
                while reply.startswith("[2,"):  # the central system's own CALL (GetConfiguration after boot)
                    await ch.ws.send(answer_to_call(reply))
                    reply = await ch.ws.recv()
        except TimeoutError:
            ch.dead = True
            return f"{action}: no answer within {timeout:g} s", time.time()
        except Exception as exc:
            ch.dead = True
            return f"{action}: connection {type(exc).__name__}: {exc}"[:200], time.time()
        return ch.check(action, uid, reply), time.time()

    async def ready(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid(), "chargers": len(self.chargers)}

    # -- connect and boot ------------------------------------------------------
    async def connect(self, args: dict[str, Any]) -> dict[str, Any]:
        """Connect and boot every charger, all at once from `start_at` in a storm, else
        `concurrency` at a time; open a transaction for those whose cycle starts
        inside one. Without `boot`, only connect (the chargers must be known already,
        or the gateway closes them after OCPP_BOOT_DEADLINE_S).
        A refused or timed-out connect is retried after 1 s, as a
        charger would, until `deadline_s`; a BootNotification waits `reply_timeout_s`
        for its answer."""
        from websockets.asyncio.client import connect

        start_at: float = args["start_at"]
        deadline = start_at + args["deadline_s"]
        gate = asyncio.Semaphore(args["concurrency"]) if args["concurrency"] else contextlib.nullcontext()
        tally = Tally()
        accepted_at: list[float] = []
        attempts = Counter[str]()
        delay = start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)

        async def one(ch: Charger) -> None:
            while time.time() < deadline:
                try:
                    async with gate:  # type: ignore[attr-defined]
                        attempts["connect"] += 1
                        ch.ws = await connect(
                            f"{self.url}/{ch.cp_id}",
                            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                            open_timeout=CONNECT_TIMEOUT_S,
                            compression="deflate" if self.deflate else None,
                            max_queue=4,
                            ping_interval=None,
                        )
                        if args.get("boot", True):
                            timeout = args.get("reply_timeout_s", REPLY_TIMEOUT_S)
                            error, at = await self.call(ch, ch.boot(), timeout)
                        else:
                            error, at = None, time.time()
                    break
                except Exception as exc:
                    attempts[f"failed {type(exc).__name__}"] += 1
                    await asyncio.sleep(1)
            else:
                ch.dead = True
                tally.error(f"connect: gave up after {args['deadline_s']:g} s")
                return
            if error:
                tally.error(error)
                return
            accepted_at.append(at)
            tally.record(at - start_at)
            if ch.pos >= FIRST_WITH_TRANSACTION and args.get("boot", True) and args.get("transactions", True):
                error, _ = await self.call(ch, ch.start_transaction())
                if error:
                    tally.error("setup " + error)

        await asyncio.gather(*(one(ch) for ch in self.chargers))
        return {
            **tally.export(),
            "connected": sum(1 for ch in self.chargers if ch.ws is not None),
            "accepted": len(accepted_at),
            "first_accepted": min(accepted_at, default=None),
            "last_accepted": max(accepted_at, default=None),
            "attempts": dict(attempts),
        }

    # -- load ------------------------------------------------------------------
    async def load(self, args: dict[str, Any]) -> dict[str, Any]:
        """Closed loop (`rate` None: one CALL outstanding per charger, back to back) or
        open loop (`rate` CALLs/s for this process, evenly spaced, each charger at
        rate/n) from `start_at`; the window is [start_at + warmup, + duration]."""
        start_at, rate = args["start_at"], args["rate"]
        w0 = start_at + args["warmup"]
        w1 = w0 + args["duration"]
        drain_until = w1 + args.get("drain_s", REPLY_TIMEOUT_S)
        heartbeats_only = args.get("mix") == "heartbeat"
        tally = Tally()
        live = [ch for ch in self.chargers if not ch.dead]

        def build(ch: Charger) -> tuple[str, str, str]:
            return ch.heartbeat() if heartbeats_only else ch.next()

        def done(action: str, error: str | None, sent: float, answered: float) -> None:
            # throughput: every reply received inside the window, whenever it was sent
            # (a long queue carries replies to CALLs sent before the window into it)
            if w0 <= answered <= w1:
                tally.answered_in_window += 1
                tally.by_action[action] += 1
            # latency: every CALL (intended to be) sent inside the window, whenever answered
            if sent < w0:
                return
            tally.answered += 1
            tally.record(answered - sent)
            if error:
                tally.error(error)

        async def closed(ch: Charger) -> None:
            delay = start_at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            while not ch.dead:
                sent = time.time()
                if sent >= w1:
                    return
                if sent >= w0:
                    tally.intended += 1
                built = build(ch)
                error, answered = await self.call(ch, built)
                done(built[0], error, sent, answered)

        async def opened(ch: Charger, first: float, interval: float) -> None:
            k = 0
            while True:
                intended = first + k * interval
                k += 1
                if intended >= w1:
                    return
                if intended >= w0:
                    tally.intended += 1
                if ch.dead or time.time() > drain_until:
                    if intended >= w0:
                        tally.unsent += 1
                    continue
                delay = intended - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                built = build(ch)
                error, answered = await self.call(ch, built)
                done(built[0], error, intended, answered)

        if rate is None:
            await asyncio.gather(*(closed(ch) for ch in live))
        elif live and rate > 0:
            interval = len(live) / rate
            await asyncio.gather(*(opened(ch, start_at + i / rate, interval) for i, ch in enumerate(live)))
        result = tally.export()
        result["dead"] = sum(1 for ch in self.chargers if ch.dead)
        return result

    async def close(self) -> dict[str, Any]:
        async def one(ch: Charger) -> None:
            if ch.ws is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await ch.ws.close()

        await asyncio.gather(*(one(ch) for ch in self.chargers))
        return {}


def _serve(conn: Any, url: str, cp_ids: list[str], positions: list[int], deflate: bool) -> None:
    """Body of one client process: run commands from the parent until 'close'."""
    with contextlib.suppress(ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def main() -> None:
        client = Client(url, cp_ids, positions, deflate)
        loop = asyncio.get_running_loop()
        while True:
            command, args = await loop.run_in_executor(None, conn.recv)
            try:
                result = await getattr(client, command)(args) if args is not None else await client.close()
                conn.send(("ok", result))
            except Exception:
                conn.send(("error", traceback.format_exc()))
            if command == "close":
                return

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


# -- the parent's handle -------------------------------------------------------------


class LoadGenerator:
    """`processes` client processes sharing `cp_ids` round-robin."""

    def __init__(
        self, url: str, cp_ids: list[str], processes: int, deflate: bool = True, seed: int = 1
    ) -> None:
        ctx = mp.get_context("spawn")
        rng = random.Random(seed)
        positions = [rng.randrange(len(CYCLE)) for _ in cp_ids]
        self.processes = max(1, min(processes, len(cp_ids)))
        self.conns: list[Any] = []
        self.procs: list[Any] = []
        for i in range(self.processes):
            parent, child = ctx.Pipe()
            share = cp_ids[i :: self.processes]
            proc = ctx.Process(
                target=_serve,
                args=(child, url, share, positions[i :: self.processes], deflate),
                name=f"bench-client-{i}",
                daemon=True,
            )
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)
        self.shares = [len(cp_ids[i :: self.processes]) for i in range(self.processes)]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def send(
        self, command: str, args: dict[str, Any] | None, per_process: list[dict[str, Any]] | None = None
    ) -> None:
        for i, conn in enumerate(self.conns):
            conn.send((command, {**(args or {}), **(per_process[i] if per_process else {})}))

    def collect(self, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        results = []
        for conn in self.conns:
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"a client process did not answer within {timeout:g} s")
            status, result = conn.recv()
            if status != "ok":
                raise RuntimeError(f"client process failed:\n{result}")
            results.append(result)
        return results

    def rates(self, total: float | None) -> list[dict[str, Any]]:
        """Split an offered rate over the processes in proportion to their chargers."""
        n = sum(self.shares)
        return [{"rate": None if total is None else total * s / n} for s in self.shares]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            for conn in self.conns:
                conn.send(("close", None))
            self.collect(30)
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One tally from the processes' answers (histograms added, counters summed)."""
    hist = new_histogram()
    out: dict[str, Any] = {"by_action": Counter(), "errors": Counter(), "samples": []}
    for r in results:
        hist.decode_and_add(r["hist"])
        out["by_action"].update(r["by_action"])
        out["errors"].update(r["errors"])
        out["samples"].extend(r["samples"][: max(0, MAX_ERRORS_KEPT - len(out["samples"]))])
        for key, value in r.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and key != "hist":
                out[key] = out.get(key, 0) + value
    for key in ("first_accepted",):
        values = [r[key] for r in results if r.get(key) is not None]
        if values:
            out[key] = min(values)
    for key in ("last_accepted",):
        values = [r[key] for r in results if r.get(key) is not None]
        if values:
            out[key] = max(values)
    attempts: Counter[str] = Counter()
    for r in results:
        attempts.update(r.get("attempts", {}))
    if attempts:
        out["attempts"] = dict(attempts)
    out["hist"] = hist
    return out
