"""`make run` as a user runs it: everything starts, a simulated charger completes a
session through it, and SIGTERM to its process group, or the SIGHUP of a closed
terminal, stops every process it started within 15 s, freeing the ports."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocpp_worker.config import get_settings
from ocpp_worker.state.store import Store
from tests.conftest import delete_prefix
from tests.support.stack import FROM_A_TERMINAL, ROOT, free_port

pytestmark = pytest.mark.slow


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:100]
    except OSError:
        return f"{pid} (gone)"


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


PORTS = (
    "OCPP_WS_PORT",
    "HTTP_PORT",
    "FLOWER_PORT",
    "OCPP_GATEWAY_METRICS_PORT",
    "OCPP_BRIDGE_METRICS_PORT",
    "OCPP_WORKER_METRICS_PORT",
    "OCPP_BACKGROUND_METRICS_PORT",
)


@dataclasses.dataclass
class MakeRun:
    """`make run` in a process group of its own, as a terminal would hold it."""

    process: subprocess.Popen[bytes]
    env: dict[str, str]
    ports: dict[str, int]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stops_cleanly_on(self, sig: int) -> None:
        """Send `sig` to make's whole process group (as a terminal does): every process
        it started is gone within 15 s and every port is free."""
        started = descendants(self.process.pid)
        assert len(started) >= 6  # honcho, gateway, bridge, worker (+pool), api (+workers), flower
        os.killpg(self.process.pid, sig)
        deadline = time.monotonic() + 15
        while any(alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in started if alive(p)]
        assert not left, f"still running 15 s after signal {sig}: {[command_of(p) for p in left]}"
        busy = [name for name, port in self.ports.items() if not port_free(port)]
        assert not busy, busy


@contextlib.contextmanager
def make_run(tmp_path: Path) -> Iterator[MakeRun]:
    """`make run` on free ports and a key prefix of its own, serving (gateway, API,
    Flower and the metrics answer); killed and cleaned up afterwards, whatever happened."""
    prefix = f"ocpptest-run-{uuid.uuid4().hex[:8]}:"
    ports = {name: free_port() for name in PORTS}
    env = {**os.environ, "OCPP_KEY_PREFIX": prefix, **{k: str(v) for k, v in ports.items()}}
    for name in ("API_TOKEN", "OCPP_REGISTRATION", "OCPP_TLS_CERT", "OCPP_TLS_KEY", "LOG_FORMAT"):
        env.pop(name, None)  # the quickstart's defaults: every door open, each one warned about
    env.pop("DATABASE_URL", None)  # the embedded default: SQLite in the data directory
    env["OCPP_DATA_DIR"] = str(tmp_path / "data")
    log_path = tmp_path / "make-run.log"
    log = open(log_path, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [*FROM_A_TERMINAL, "make", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    run = MakeRun(process, env, ports, log_path)
    store = Store.connect(dataclasses.replace(get_settings(), key_prefix=prefix))
    try:
        deadline = time.monotonic() + 60
        urls = [
            f"http://127.0.0.1:{ports['OCPP_WS_PORT']}/healthz",
            f"http://127.0.0.1:{ports['HTTP_PORT']}/health",
            f"http://127.0.0.1:{ports['FLOWER_PORT']}/healthcheck",
            *(f"http://127.0.0.1:{ports[name]}/metrics" for name in PORTS if name.endswith("METRICS_PORT")),
        ]
        while not all(http_ok(u) for u in urls):
            assert process.poll() is None, run.output()[-3000:]
            assert time.monotonic() < deadline, run.output()[-3000:]
            time.sleep(0.3)
        yield run
    finally:
        everything = descendants(process.pid)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        for pid in everything:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()
        delete_prefix(store, prefix)


def _archived(path: Path) -> list[tuple[int, str, str]]:
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as sql:
            return sql.execute("SELECT transaction_id, charger_id, status FROM charging_sessions").fetchall()
    except sqlite3.Error:
        return []


@pytest.mark.timeout(120)
def test_make_run_serves_a_charger_and_stops_cleanly(tmp_path):
    with make_run(tmp_path) as run:
        # one warning line per open door (this environment sets no token, no TLS, no closed registration)
        output = run.output()
        for door in ("API_TOKEN is not set", "OCPP_REGISTRATION=open", "no TLS"):
            assert f"WARNING: {door}" in output, output[-3000:]
        # a worker must be consuming before the simulator's first CALL times out (30 s): it is by now
        simulator = subprocess.run(
            [
                sys.executable,
                "-m",
                "ocpp_worker.simulate",
                "--id",
                "RUN-CP1",
                "--session",
                "--exit",
                "--url",
                f"ws://127.0.0.1:{run.ports['OCPP_WS_PORT']}/ocpp",
            ],
            cwd=ROOT,
            env=run.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert simulator.returncode == 0, simulator.stderr
        assert "charging session done, transaction 1000" in simulator.stdout
        # archived to the SQLite file `make run` created, with no set-up
        archive = tmp_path / "data" / "archive.sqlite3"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _archived(archive) != [(1000, "RUN-CP1", "completed")]:
            time.sleep(0.3)
        assert _archived(archive) == [(1000, "RUN-CP1", "completed")], run.output()[-3000:]
        run.stops_cleanly_on(signal.SIGTERM)
        run.process.wait(15)


@pytest.mark.timeout(120)
def test_make_run_stops_everything_when_its_terminal_hangs_up(tmp_path):
    """Closing the terminal sends SIGHUP to its foreground process group: make and the
    scripts get it, the services (in sessions of their own, as honcho starts them)
    do not. honcho alone would die of it and leave them all running."""
    with make_run(tmp_path) as run:
        run.stops_cleanly_on(signal.SIGHUP)
        run.process.wait(15)
        assert "SIGTERM received" in run.output()  # honcho's orderly stop, from scripts/run
