"""What runs: scenarios of sessions, one fresh system per session, alternating.

A session starts one system (the project in some configuration, or the baseline),
connects and boots its chargers (all at once in the boot storm, else 200 at a time),
then runs its phases; each phase has a warm-up and a measured window, and yields
one record (a JSON line). Sessions of the systems alternate within every run
(project, baseline, then baseline, project, ...) so drift hits both alike.
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.loadgen import LoadGenerator, merge
from bench.systems import (
    ROOT,
    Baseline,
    Meter,
    PrivateRedis,
    Project,
    System,
    export_revision,
    process_cpu,
    source_identity,
)

AVERAGE_RATE = 0.009  # CALLs/s per charger, on average (the sizing figures)
PEAK_RATE = 0.022


@dataclass(frozen=True)
class SystemSpec:
    label: str
    kind: str = "project"  # or "baseline"
    flower: bool = True
    workers: int = 1
    rev: str | None = None  # a git revision of the project to run instead of the checkout
    env: tuple[tuple[str, str], ...] = ()  # settings of this system's processes


PROJECT = SystemSpec("project")
PROJECT_NO_FLOWER = SystemSpec("project-noflower", flower=False)
PROJECT_2_WORKERS = SystemSpec("project-2workers", workers=2)
PROJECT_NO_EVENTS = SystemSpec("project-noevents", env=(("OCPP_EVENTS", "0"),))
BASELINE = SystemSpec("baseline", kind="baseline")


@dataclass(frozen=True)
class Phase:
    label: str
    rate: float | None  # offered CALLs/s; None: closed loop
    warmup: float
    duration: float
    mix: str = "full"  # or "heartbeat"
    only: tuple[str, ...] = ()  # system labels that run it (empty: all)


@dataclass
class Scenario:
    name: str
    chargers: int
    systems: list[SystemSpec]
    phases: list[Phase] = field(default_factory=list)
    storm: bool = False  # connect and boot every charger at once, and time it
    connect_only: bool = False  # known chargers reconnect without booting; RSS per connection
    deflate: bool | None = None  # permessage-deflate offered by the chargers (None: the CLI's choice)
    runs: int | None = None  # overrides --runs
    env: dict[str, str] = field(default_factory=dict)  # for the project's processes


def build(args: Any) -> list[Scenario]:
    """The scenarios the command line asks for; with --compare-rev, every scenario also
    runs that revision of the project (as `project@<rev>`, next to `project`)."""
    scenarios = _build(args)
    if args.compare_rev:
        other = SystemSpec(f"project@{args.compare_rev}", rev=args.compare_rev)
        for sc in scenarios:
            if PROJECT in sc.systems:
                sc.systems.insert(sc.systems.index(PROJECT) + 1, other)
            sc.phases = [
                replace(p, only=(*p.only, other.label)) if PROJECT.label in p.only else p for p in sc.phases
            ]
    return scenarios


def _build(args: Any) -> list[Scenario]:
    w, d = args.warmup, args.duration
    if args.quick:
        return [Scenario("closed100", 100, [PROJECT, BASELINE], [Phase("closed", None, w, d)])]
    names = args.scenario or ["closed100", "load1000", "storm", "connections", "connections-plain"]
    out = []
    for name in names:
        if name == "closed100":
            out.append(
                Scenario(name, 100, [PROJECT, PROJECT_NO_FLOWER, BASELINE], [Phase("closed", None, w, d)])
            )
        elif name == "load1000":
            # every system: the closed loop; project, baseline and project without Flower:
            # 300 and 1,000/s (the targets); project and baseline: the other rates
            phases = [Phase("closed", None, w, d)]
            for rate in args.rates:
                if rate in (300, 1000):
                    only: tuple[str, ...] = (PROJECT.label, PROJECT_NO_FLOWER.label, BASELINE.label)
                else:
                    only = (PROJECT.label, BASELINE.label)
                phases.append(Phase(f"open{rate:g}", float(rate), w, d, only=only))
            systems = [PROJECT, PROJECT_NO_FLOWER, PROJECT_2_WORKERS, BASELINE]
            out.append(Scenario(name, args.chargers or 1000, systems, phases))
        elif name == "workers":
            out.append(
                Scenario(
                    name, args.chargers or 1000, [PROJECT, PROJECT_2_WORKERS], [Phase("closed", None, w, d)]
                )
            )
        elif name == "events":
            # what publishing domain events costs: the project as shipped against OCPP_EVENTS=0
            systems = [PROJECT, PROJECT_NO_EVENTS]
            out.append(Scenario(name, args.chargers or 100, systems, [Phase("closed", None, w, d)]))
        elif name == "soak":
            # sessions back to back (the full mix: 11 CALLs and 12 samples a session) in
            # windows of --soak-window seconds, with a 10 s retention: Redis's memory at the
            # end of each window stays flat when completed sessions leave it for the archive,
            # and grows with a revision that keeps them (--compare-rev)
            windows = [Phase(f"soak{i + 1}", None, w if i == 0 else 0.0, args.soak_window) for i in range(4)]
            retention = {"OCPP_REDIS_RETENTION_HOURS": str(10 / 3600)}
            out.append(Scenario(name, args.chargers or 100, [PROJECT], windows, env=retention))
        elif name == "storm":
            out.append(Scenario(name, args.storm_chargers, [PROJECT, BASELINE], storm=True))
        elif name in ("connections", "connections-plain"):
            n = args.connections
            # idle: no CALL for 20 s, two registry refreshes (10 s) and one round of pings
            # (20 s): what holding the connections costs; then heartbeats at the fleet's
            # average rate, to see them answered
            idle = Phase("idle", 0.0, 0.0, 20.0)
            hb = Phase("heartbeats", n * AVERAGE_RATE, w, max(d, 10), mix="heartbeat")
            systems = [PROJECT, BASELINE] if args.connections_baseline else [PROJECT]
            deflate = name == "connections"
            runs = args.connections_runs
            sc = Scenario(name, n, systems, [idle, hb], connect_only=True, runs=runs, deflate=deflate)
            out.append(sc)
        else:
            raise SystemExit(f"unknown scenario {name!r}")
    return out


def _latency(hist: Any) -> dict[str, float]:
    if hist.get_total_count() == 0:
        return {}
    return {
        "p50": hist.get_value_at_percentile(50) / 1000,
        "p90": hist.get_value_at_percentile(90) / 1000,
        "p99": hist.get_value_at_percentile(99) / 1000,
        "p999": hist.get_value_at_percentile(99.9) / 1000,
        "max": hist.get_max_value() / 1000,
        "mean": hist.get_mean_value() / 1000,
    }


class Runner:
    def __init__(self, args: Any, out_dir: Path) -> None:
        self.args = args
        self.out_dir = out_dir
        self.log_root = out_dir / "logs"
        self.log_root.mkdir(parents=True, exist_ok=True)
        self.redis = PrivateRedis(self.log_root, args.redis)
        self.records: list[dict[str, Any]] = []
        self.exported: dict[str, tuple[Path, str]] = {}
        self.jsonl = open(out_dir / "results.jsonl", "a")  # noqa: SIM115 - closed in close()

    def close(self) -> None:
        self.jsonl.close()
        self.redis.stop()

    def emit(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self.jsonl.write(json.dumps(record, default=str) + "\n")
        self.jsonl.flush()
        print(one_line(record), flush=True)

    def run(self, scenarios: list[Scenario], runs: int) -> list[dict[str, Any]]:
        for sc in scenarios:
            n_runs = sc.runs or runs
            for run in range(n_runs):
                order = sc.systems if run % 2 == 0 else list(reversed(sc.systems))
                for spec in order:
                    try:
                        self.session(sc, spec, run)
                    except Exception as exc:
                        print(f"!! {sc.name} {spec.label} run {run}: {exc!r}", file=sys.stderr, flush=True)
                        self.emit(
                            {"scenario": sc.name, "system": spec.label, "run": run, "failed": repr(exc)}
                        )
        return self.records

    def source(self, spec: SystemSpec) -> tuple[Path, str | None]:
        """The code a project session runs: --rev (or the spec's own rev) exported once,
        else the checkout."""
        rev = spec.rev or self.args.rev
        if rev is None:
            return ROOT, None
        if rev not in self.exported:
            self.exported[rev] = export_revision(rev, self.out_dir)
        return self.exported[rev]

    def start(self, spec: SystemSpec, log_dir: Path, env: dict[str, str] | None = None) -> System:
        if spec.kind == "baseline":
            return Baseline(self.redis, log_dir, label=spec.label)
        source, _ = self.source(spec)
        return Project(
            self.redis,
            log_dir,
            flower=spec.flower,
            workers=spec.workers,
            label=spec.label,
            source=source,
            extra_env={**(env or {}), **dict(spec.env)},
        )

    def session(self, sc: Scenario, spec: SystemSpec, run: int) -> None:
        log_dir = self.log_root / f"{sc.name}-{spec.label}-{run}"
        log_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        system = self.start(spec, log_dir, sc.env)
        meter = Meter(system.components(), self.redis)
        lg: LoadGenerator | None = None
        deflate = (not self.args.no_deflate) if sc.deflate is None else sc.deflate
        base = {
            "scenario": sc.name,
            "system": spec.label,
            "kind": spec.kind,
            "flower": spec.flower if spec.kind == "project" else None,
            "workers": spec.workers if spec.kind == "project" else None,
            "run": run,
            "chargers": sc.chargers,
            "client_processes": self.args.clients,
            "deflate": deflate,
        }
        if spec.kind == "project":
            base["source"] = source_identity(*self.source(spec))
        try:
            tag = f"{random.randrange(16**6):06x}"
            ids = [f"BENCH{tag}-{i:06d}" for i in range(sc.chargers)]
            front = "gateway" if spec.kind == "project" else "baseline"
            time.sleep(1)  # let the processes settle after start-up
            rss_before = system.rss_of(front)
            if sc.connect_only and isinstance(system, Project):
                system.mark_booted(ids)  # known chargers: the gateway's boot deadline spares them
            lg = LoadGenerator(system.url, ids, self.args.clients, deflate=deflate)
            lg.send("ready", {})
            lg.collect(120)
            start_at = time.time() + 0.5
            deadline = 60.0 if sc.storm else max(60.0, sc.chargers / 50)
            reply_timeout = 120.0 if sc.storm or sc.chargers > 2000 else 30.0
            s0, c0 = meter.snapshot(), process_cpu(lg.pids)
            lg.send(
                "connect",
                {
                    "start_at": start_at,
                    "deadline_s": deadline,
                    "concurrency": 0 if sc.storm else 200,
                    "boot": not sc.connect_only,
                    # only chargers that will run the full cycle open a transaction first
                    "transactions": any(p.mix == "full" for p in sc.phases),
                    "reply_timeout_s": reply_timeout,
                },
            )
            setup = merge(lg.collect(deadline + reply_timeout + 120))
            s1, c1 = meter.snapshot(), process_cpu(lg.pids)
            time_to_all = (setup["last_accepted"] - start_at) if setup.get("last_accepted") else None
            boot = {
                **base,
                "phase": "boot",
                "mode": "storm" if sc.storm else "setup",
                "connected": setup.get("connected", 0),
                "accepted": setup.get("accepted", 0),
                "all_accepted": setup.get("accepted", 0) == sc.chargers,
                "time_to_all_accepted_s": time_to_all,
                "connect_attempts": setup.get("attempts", {}),
                "errors": sum(setup["errors"].values()),
                "error_kinds": dict(setup["errors"]),
                "error_samples": setup["samples"][:5],
                "accept_time_ms": _latency(setup["hist"]),
                **self._cpu(meter, s0, s1, c0, c1, setup.get("accepted", 0)),
            }
            self.emit(boot)
            base["setup_errors"] = boot["errors"]
            if not boot["accepted"]:
                raise RuntimeError(f"no charger was accepted: {boot['error_samples']}")
            if sc.connect_only:
                time.sleep(2)
                rss_after = system.rss_of(front)
                n = boot["accepted"]
                self.emit(
                    {
                        **base,
                        "phase": "connections",
                        "mode": "connect-only",
                        "connections": n,
                        "fd_limit": _fd_limit(),
                        "rss_before_mb": rss_before / 2**20,
                        "rss_after_mb": rss_after / 2**20,
                        "rss_per_connection_kb": (rss_after - rss_before) / n / 1024,
                        "rss_total_per_connection_kb": rss_after / n / 1024,
                        "boot_s": time_to_all,
                        "errors": boot["errors"],
                    }
                )
            for phase in sc.phases:
                if phase.only and spec.label not in phase.only:
                    continue
                meter.reset_peaks()
                record = self.phase(base, lg, meter, phase)
                if isinstance(system, Project) and phase.label.startswith("soak"):
                    record["redis_used_memory_mb"] = self.redis.client.info("memory")["used_memory"] / 2**20
                    families = system.memory_by_family()
                    sessions = [v for k, v in families.items() if k.startswith("business:transaction")]
                    record["session_keys"] = sum(n for n, _ in sessions)
                    record["session_memory_mb"] = sum(b for _, b in sessions) / 2**20
                    biggest = sorted(families.items(), key=lambda kv: -kv[1][1])[:8]
                    record["memory_by_family_mb"] = {k: (n, round(b / 2**20, 2)) for k, (n, b) in biggest}
                    record["archived_sessions"] = system.archived_sessions()
                self.emit(record)
                time.sleep(self.args.pause)
        finally:
            if lg is not None:
                lg.close()
            meter.stop()
            system.stop()
        print(f"   ({sc.name} {spec.label} run {run}: {time.monotonic() - t0:.0f} s)", flush=True)

    def phase(self, base: dict[str, Any], lg: LoadGenerator, meter: Meter, phase: Phase) -> dict[str, Any]:
        start_at = time.time() + 0.3
        w0 = start_at + phase.warmup
        w1 = w0 + phase.duration
        args = {"start_at": start_at, "warmup": phase.warmup, "duration": phase.duration, "mix": phase.mix}
        lg.send("load", args, lg.rates(phase.rate))
        _sleep_until(w0)
        s0, c0 = meter.snapshot(), process_cpu(lg.pids)
        _sleep_until(w1)
        s1, c1 = meter.snapshot(), process_cpu(lg.pids)
        res = merge(lg.collect(phase.duration + 120))
        duration = s1["t"] - s0["t"]
        done = res["answered_in_window"]
        record = {
            **base,
            "phase": phase.label,
            "mode": "closed" if phase.rate is None else ("open" if phase.rate else "idle"),
            "mix": phase.mix,
            "offered_per_s": phase.rate,
            "duration_s": duration,
            "throughput_per_s": done / duration if duration > 0 else 0.0,
            "intended": res["intended"],
            "answered": res["answered"],
            "answered_in_window": done,
            "unsent": res["unsent"],
            "carried_ratio": (done / duration / phase.rate) if phase.rate else None,
            "errors": sum(res["errors"].values()),
            "error_kinds": dict(res["errors"]),
            "error_samples": res["samples"][:5],
            "dead_chargers": res.get("dead", 0),
            "latency_ms": _latency(res["hist"]),
            "by_action": dict(res["by_action"]),
            **self._cpu(meter, s0, s1, c0, c1, done),
            "peak_rss_mb": {k: v / 2**20 for k, v in meter.peak_rss.items()},
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        return record

    def _cpu(
        self,
        meter: Meter,
        s0: dict[str, Any],
        s1: dict[str, Any],
        c0: dict[int, float],
        c1: dict[int, float],
        messages: int,
    ) -> dict[str, Any]:
        seconds = s1["t"] - s0["t"]
        cpu = Meter.cpu_between(s0, s1)
        per_msg = {k: v / messages * 1e6 for k, v in cpu.items()} if messages else {}
        lg_each = [c1.get(pid, 0.0) - c0.get(pid, 0.0) for pid in c0]
        server_total = sum(cpu.values())
        commands = Meter.commands_between(s0, s1)
        machine = (s1["machine"] - s0["machine"]) / seconds if seconds > 0 else 0.0
        return {
            # every core's busy time on the machine, and what of it was neither the system
            # under test nor the load generator (other people's tests: noise to report)
            "machine_busy_cores": machine,
            # time the hypervisor gave our vCPUs to someone else (a slow host shows here)
            "steal_cores": (s1["steal"] - s0["steal"]) / seconds if seconds > 0 else None,
            # Redis commands per answered CALL, by command (the private Redis: only ours)
            "redis_commands_per_msg": {k: v / messages for k, v in commands.items()} if messages else {},
            "redis_commands_per_s": {k: v / seconds for k, v in commands.items()} if seconds > 0 else {},
            "other_cores": machine - (server_total + sum(lg_each)) / seconds if seconds > 0 else None,
            "cpu_s": cpu,
            "cpu_us_per_msg": per_msg,
            "cpu_total_us_per_msg": server_total / messages * 1e6 if messages else None,
            "cpu_cores": {k: v / seconds for k, v in cpu.items()} if seconds > 0 else {},
            "loadgen": {
                "cpu_s": sum(lg_each),
                "us_per_msg": sum(lg_each) / messages * 1e6 if messages else None,
                "max_process_util": max(lg_each, default=0.0) / seconds if seconds > 0 else None,
            },
        }


def _sleep_until(t: float) -> None:
    while (left := t - time.time()) > 0:
        time.sleep(min(left, 0.5))


def _fd_limit() -> int:
    import resource

    return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def one_line(r: dict[str, Any]) -> str:
    """A progress line for one record."""
    head = f"{r.get('scenario', '?'):>11} {r.get('system', '?'):<17} run {r.get('run', '?')}"
    head += f" {r.get('phase', ''):<10}"
    if "failed" in r:
        return f"{head} FAILED {r['failed']}"
    if r.get("mode") == "connect-only":
        return (
            f"{head} {r['connections']} connections, gateway RSS {r['rss_before_mb']:.0f} → "
            f"{r['rss_after_mb']:.0f} MB, {r['rss_per_connection_kb']:.1f} KB/connection"
        )
    if r.get("phase") == "boot":
        return (
            f"{head} {r['accepted']}/{r['chargers']} accepted in "
            f"{r['time_to_all_accepted_s'] or float('nan'):.2f} s, {r['errors']} errors"
        )
    lat = r.get("latency_ms", {})
    cpu = r.get("cpu_total_us_per_msg") or 0
    carried = f" carried {r['carried_ratio']:.3f}" if r.get("carried_ratio") else ""
    if r.get("redis_used_memory_mb") is not None and str(r.get("phase", "")).startswith("soak"):
        archived = r.get("archived_sessions")
        carried += (
            f" Redis {r['redis_used_memory_mb']:.1f} MB (sessions {r['session_memory_mb']:.1f} MB in "
            f"{r['session_keys']} keys), archived {archived if archived is not None else '-'}"
        )
    return (
        f"{head} {r['throughput_per_s']:7.0f}/s{carried} p50 {lat.get('p50', 0):6.1f} "
        f"p99 {lat.get('p99', 0):7.1f} max {lat.get('max', 0):7.1f} ms  server {cpu:5.0f} µs/msg  "
        f"loadgen {r['loadgen']['us_per_msg'] or 0:4.0f} µs/msg "
        f"(max {r['loadgen']['max_process_util'] or 0:.0%} of a core)"
        f"  errors {r['errors']}"
    )


def with_runs(sc: Scenario, runs: int) -> Scenario:
    return replace(sc, runs=runs)
