"""The systems under test, the Redis they share, and the meter of their processes.

* `Project`: the Procfile's commands, verbatim (gateway, bridge, the Celery worker,
  the API, optionally Flower), started as ``scripts/run`` starts them (same
  environment: PYTHONUNBUFFERED, API_GRACEFUL_TIMEOUT, .venv/bin first on PATH) but
  each in its own process group with its output in a log file, on a private key
  prefix and ports, and stopped by PID. Honcho is left out: it only multiplexes logs.
* `Baseline`: ``python -m bench.baseline_server`` (one process).
* `PrivateRedis`: a throwaway ``redis-server`` with the flags ``scripts/with-redis``
  uses, so Redis's CPU is only ours (the shared 6379 serves other people's tests).
* `Meter`: CPU seconds per component over a window (psutil, every process of the
  component's tree) and peak RSS (sampled every 0.2 s).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import redis

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """name → command, from the Procfile (what ``make run`` starts)."""
    commands = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line.strip())
        if match:
            commands[match.group(1)] = match.group(2)
    return commands


class Process:
    """One command in its own process group, output to a log file."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], log_dir: Path, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.ps = psutil.Process(self.proc.pid)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait(5)
        self.signal(signal.SIGKILL)  # stragglers in the group (pool children)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tree(self) -> list[psutil.Process]:
        """The process and all its descendants now."""
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.Error:
            return []


def stop_all(processes: list[Process], timeout: float = 10) -> None:
    for p in processes:
        if p.alive():
            p.signal(signal.SIGTERM)
    for p in processes:
        p.wait(timeout)


def wait_until(check: Callable[[], bool], what: str, processes: list[Process], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        for p in processes:
            if not p.alive():
                raise RuntimeError(f"{p.name} died:\n{p.output()[-3000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def http_ok(url: str, any_status: bool = False) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return bool(r.status == 200)
    except urllib.error.HTTPError:
        return any_status
    except OSError:
        return False


# -- Redis ------------------------------------------------------------------------


class PrivateRedis:
    """A throwaway redis-server on a free port (or, with `addr`, an existing Redis:
    then its CPU is read from INFO and includes anybody else's load)."""

    def __init__(self, log_dir: Path, addr: str | None = None) -> None:
        self.process: Process | None = None
        if not addr and shutil.which("redis-server") is None:
            addr = os.environ.get("REDIS_ADDR") or "localhost:6379"
            print(f"no redis-server binary: using the Redis at {addr} (its CPU includes others' load)")
        if addr:
            host, _, port = addr.rpartition(":")
            self.host, self.port = host or "127.0.0.1", int(port or 6379)
        else:
            binary = str(shutil.which("redis-server"))
            self.host, self.port = "127.0.0.1", free_port()
            args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            args += ["--appendonly", "no", "--loglevel", "warning", "--maxclients", "10000"]
            self.process = Process("redis", args, dict(os.environ), log_dir)
        self.client = redis.Redis(host=self.host, port=self.port, decode_responses=True)
        wait_until(self._pings, "redis", [self.process] if self.process else [], 10)

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    def _pings(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def version(self) -> str:
        return str(self.client.info("server").get("redis_version", "?"))

    def cpu_seconds(self) -> float:
        info = self.client.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    def command_calls(self) -> dict[str, int]:
        """Calls per command since Redis started (INFO commandstats)."""
        try:
            stats = self.client.info("commandstats")
        except redis.RedisError:
            return {}
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        batch: list[str] = []
        for key in self.client.scan_iter(match=f"{prefix}*", count=2000):
            batch.append(key)
            if len(batch) >= 2000:
                deleted += int(self.client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(self.client.unlink(*batch))
        return deleted

    def stop(self) -> None:
        self.client.close()
        if self.process is not None:
            stop_all([self.process])


# -- systems ----------------------------------------------------------------------

Components = dict[str, Callable[[], list[psutil.Process]]]


class System:
    label: str
    kind: str  # "project" | "baseline"
    url: str
    processes: list[Process]

    def components(self) -> Components:
        raise NotImplementedError

    def rss_of(self, name: str) -> int:
        return sum(_rss(p) for p in self.components()[name]())

    def stop(self) -> None:
        raise NotImplementedError


def _rss(p: psutil.Process) -> int:
    try:
        return int(p.memory_info().rss)
    except psutil.Error:
        return 0


class Project(System):
    kind = "project"

    def __init__(
        self,
        redis_server: PrivateRedis,
        log_dir: Path,
        *,
        flower: bool = True,
        workers: int = 1,
        concurrency: int | None = None,
        label: str = "project",
        extra_env: dict[str, str] | None = None,
        source: Path = ROOT,
    ) -> None:
        """`source`: the directory whose code runs (the checkout, or an exported revision:
        it is the processes' working directory and first on their PYTHONPATH)."""
        self.label = label
        self.source = source
        self.redis = redis_server
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}:"
        self.ws_port, self.http_port, self.flower_port = free_port(), free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "OCPP_", "API_"))}
        env.update(
            {
                "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
                "PYTHONPATH": os.pathsep.join(x for x in (str(source), env.get("PYTHONPATH", "")) if x),
                "PYTHONUNBUFFERED": "1",
                "API_GRACEFUL_TIMEOUT": "4",
                "REDIS_ADDR": redis_server.addr,
                "OCPP_KEY_PREFIX": self.prefix,
                "OCPP_WS_HOST": "127.0.0.1",
                "OCPP_WS_PORT": str(self.ws_port),
                "HTTP_PORT": str(self.http_port),
                "FLOWER_PORT": str(self.flower_port),
                "FLOWER_ADDRESS": "127.0.0.1",
                # the Procfile's metrics endpoints, on private ports too (each worker its own)
                "OCPP_GATEWAY_METRICS_PORT": str(free_port()),
                "OCPP_BRIDGE_METRICS_PORT": str(free_port()),
                "OCPP_ACCEPT_UNKNOWN_IDTAGS": "1",
                **(extra_env or {}),
            }
        )
        commands = procfile(source / "Procfile")
        wanted = ["gateway", "bridge", "worker", "api"] + (["flower"] if flower else [])
        # a revision with the session archive: its SQLite in the session's log directory,
        # migrated first, and the background worker that archives (its cost is measured)
        self.archive_path: Path | None = None
        if (source / "ocpp_worker" / "archive").is_dir() and "background" in commands:
            self.archive_path = log_dir / "archive.sqlite3"
            env["DATABASE_URL"] = f"sqlite:///{self.archive_path}"
            env["OCPP_BACKGROUND_METRICS_PORT"] = str(free_port())
            upgrade = [sys.executable, "-m", "ocpp_worker.cli", "db", "upgrade"]
            subprocess.run(upgrade, env=env, cwd=source, check=True, capture_output=True, timeout=60)
            wanted.append("background")
        self.processes = []
        self.workers: list[Process] = []
        self.log_dir = log_dir
        try:
            for name in wanted:
                for n in range(workers if name == "worker" else 1):
                    command = commands[name]
                    if name == "worker" and workers > 1:
                        command += f" -n worker{n + 1}@%h"
                    if name == "worker" and concurrency:
                        command += f" -c {concurrency}"
                    pname = f"worker{n + 1}" if name == "worker" and workers > 1 else name
                    own = {**env, "OCPP_WORKER_METRICS_PORT": str(free_port())} if name == "worker" else env
                    process = Process(pname, ["/bin/sh", "-c", f"exec {command}"], own, log_dir, cwd=source)
                    self.processes.append(process)
                    if name == "worker":
                        self.workers.append(process)
            by_name = {p.name: p for p in self.processes}
            wait_until(lambda: http_ok(f"http://127.0.0.1:{self.ws_port}/healthz"), "gateway", self.processes)
            for w in self.workers + [p for p in self.processes if p.name == "background"]:
                wait_until(lambda w=w: " ready." in w.output(), f"{w.name} ready", self.processes)  # type: ignore[misc]
            wait_until(self._bridge_reading, "bridge", self.processes)
            wait_until(
                lambda: http_ok(f"http://127.0.0.1:{self.http_port}/health", any_status=True),
                "api",
                self.processes,
            )
            if "flower" in by_name:
                wait_until(lambda: port_open(self.flower_port), "flower", self.processes)
        except BaseException:
            self.stop()
            raise
        self.url = f"ws://127.0.0.1:{self.ws_port}/ocpp"
        self._by_name = by_name

    def mark_booted(self, cp_ids: list[str]) -> None:
        """Record these chargers as accepted at an earlier boot, as the worker would
        (`registrationStatus` in their charger hash): they may connect without booting."""
        from ocpp_worker.state.keys import Keys

        keys = Keys(self.prefix)
        pipe = self.redis.client.pipeline(transaction=False)
        for i, cp_id in enumerate(cp_ids):
            pipe.hset(keys.chargepoint(cp_id), mapping={"registrationStatus": "Accepted"})
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()

    def _bridge_reading(self) -> bool:
        """The bridge logs 'reading <stream>' before its first XREADGROUP (a blocked
        XREADGROUP on an empty stream does not make it a consumer yet in Redis 7.0)."""
        bridge = next(p for p in self.processes if p.name == "bridge")
        if " reading " in bridge.output():
            return True
        try:
            consumers = self.redis.client.xinfo_consumers(f"{self.prefix}server:inbound", "bridges")
        except redis.RedisError:
            return False
        return len(consumers) > 0

    def components(self) -> Components:
        def one(name: str) -> Callable[[], list[psutil.Process]]:
            return lambda: self._by_name[name].tree()

        comps: Components = {"gateway": one("gateway"), "bridge": one("bridge")}
        comps["worker-main"] = lambda: [w.ps for w in self.workers]
        comps["worker-pool"] = lambda: [c for w in self.workers for c in w.tree()[1:]]
        comps["api"] = one("api")
        if "flower" in self._by_name:
            comps["flower"] = one("flower")
        if "background" in self._by_name:
            comps["archiver"] = one("background")
        return comps

    def memory_by_family(self) -> dict[str, tuple[int, int]]:
        """(keys, bytes) of this system's Redis keys by family: the key with its charger
        tag, numbers and message ids replaced (`business:transaction:#:meter`), from
        MEMORY USAGE of each. What grows in a soak, and what stays flat."""
        client = self.redis.client
        keys = list(client.scan_iter(match=f"{self.prefix}*", count=5000))
        families: dict[str, tuple[int, int]] = {}
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            pipe = client.pipeline(transaction=False)
            for key in chunk:
                pipe.memory_usage(key, samples=0)
            for key, size in zip(chunk, pipe.execute(), strict=True):
                family = _FAMILY_PARTS.sub("#", _CHARGER_TAG.sub("{cp}", key[len(self.prefix) :]))
                count, total = families.get(family, (0, 0))
                families[family] = (count + 1, total + (size or 0))
        return families

    def archived_sessions(self) -> int | None:
        """Sessions in this system's archive (None: a revision without one)."""
        if self.archive_path is None:
            return None
        import sqlite3

        with contextlib.closing(sqlite3.connect(self.archive_path, timeout=30)) as sql:
            return int(sql.execute("SELECT count(*) FROM charging_sessions").fetchone()[0])

    def stop(self) -> None:
        stop_all(self.processes)
        self.redis.delete_prefix(self.prefix)


_CHARGER_TAG = re.compile(r"\{[^}]*\}")
_FAMILY_PARTS = re.compile(r"(?<=:)[^:{}]*\d[^:{}]*(?=:|$)")  # a key segment with a digit in it


class Baseline(System):
    kind = "baseline"

    def __init__(self, redis_server: PrivateRedis, log_dir: Path, label: str = "baseline") -> None:
        self.label = label
        self.redis = redis_server
        self.prefix = f"bench-base-{uuid.uuid4().hex[:8]}:"
        self.port = free_port()
        env = dict(os.environ)
        env.update({"PYTHONUNBUFFERED": "1", "OCPP_ACCEPT_UNKNOWN_IDTAGS": "1"})
        args = [sys.executable, "-m", "bench.baseline_server", "--port", str(self.port)]
        args += ["--redis", redis_server.addr, "--prefix", self.prefix]
        self.server = Process("baseline", args, env, log_dir)
        self.processes = [self.server]
        try:
            wait_until(lambda: port_open(self.port), "baseline server", self.processes)
        except BaseException:
            self.stop()
            raise
        self.url = f"ws://127.0.0.1:{self.port}"

    def components(self) -> Components:
        return {"baseline": self.server.tree}

    def stop(self) -> None:
        stop_all(self.processes)
        self.redis.delete_prefix(self.prefix)


# -- which code -------------------------------------------------------------------

PROJECT_PATHS = ("ocpp_worker", "api", "celeryconfig.py", "Procfile", "pyproject.toml")


def export_revision(rev: str, into: Path) -> tuple[Path, str]:
    """`git archive` of `rev` into a fresh directory: (the directory, the full sha)."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = into / f"src-{sha[:10]}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target, sha


def source_identity(source: Path, sha: str | None = None) -> dict[str, Any]:
    """What code a session ran: an exported revision, or the checkout as it was at that
    moment (HEAD plus a digest of the uncommitted changes to the project's files, so two
    sessions of one run show whether someone edited the code in between)."""
    if sha is not None:
        return {"rev": sha[:12], "dirty": False, "dir": str(source)}
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    diff = subprocess.run(["git", "diff", "HEAD", "--", *PROJECT_PATHS], cwd=ROOT, capture_output=True).stdout
    import hashlib

    return {
        "rev": head[:12],
        "dirty": bool(diff),
        "diff_sha1": hashlib.sha1(diff).hexdigest()[:12] if diff else None,
        "dir": str(source),
    }


# -- metering ---------------------------------------------------------------------


def _cpu(p: psutil.Process) -> float:
    try:
        t = p.cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return 0.0


class Meter:
    """CPU per component between two snapshots; peak RSS per component while running."""

    def __init__(self, components: Components, redis_server: PrivateRedis | None) -> None:
        self.components = dict(components)
        self.redis = redis_server
        if redis_server is not None and redis_server.process is not None:
            self.components["redis"] = lambda: [redis_server.process.ps]  # type: ignore[union-attr]
        self.peak_rss: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True, name="rss-sampler")
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            for name, resolve in list(self.components.items()):
                rss = sum(_rss(p) for p in resolve())
                if rss > self.peak_rss.get(name, 0):
                    self.peak_rss[name] = rss

    def reset_peaks(self) -> None:
        self.peak_rss = {}

    def snapshot(self) -> dict[str, Any]:
        t = psutil.cpu_times()
        busy = t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)
        snap: dict[str, Any] = {"t": time.time(), "machine": busy, "steal": getattr(t, "steal", 0.0)}
        for name, resolve in self.components.items():
            snap[name] = {p.pid: _cpu(p) for p in resolve()}
        if self.redis is not None and self.redis.process is None:
            snap["redis*"] = self.redis.cpu_seconds()
        if self.redis is not None:
            snap["commands"] = self.redis.command_calls()
        return snap

    @staticmethod
    def commands_between(a: dict[str, Any], b: dict[str, Any]) -> dict[str, int]:
        """Redis commands run from snapshot a to b, by command (most first)."""
        before, after = a.get("commands", {}), b.get("commands", {})
        delta = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}
        return dict(sorted(delta.items(), key=lambda kv: -kv[1]))

    @staticmethod
    def cpu_between(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
        """CPU seconds per component from snapshot a to b (a process born in between
        counts from zero; one that died in between is lost)."""
        out: dict[str, float] = {}
        for name, after in b.items():
            if name in ("t", "machine", "steal", "commands"):
                continue
            if name == "redis*":
                out["redis"] = after - a.get(name, after)
                continue
            before = a.get(name, {})
            out[name] = sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())
        return out

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def process_cpu(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            out[pid] = _cpu(psutil.Process(pid))
    return out
