"""`make run` as a user runs it: everything starts, a simulated charger completes a
session through it, and SIGTERM to its process group stops every process it started
within 15 s, freeing the ports."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from ocpp_worker.config import get_settings
from ocpp_worker.state.store import Store
from tests.conftest import delete_prefix
from tests.support.stack import ROOT, free_port

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


@pytest.mark.timeout(120)
def test_make_run_serves_a_charger_and_stops_cleanly(tmp_path):
    prefix = f"ocpptest-run-{uuid.uuid4().hex[:8]}:"
    ports = {"OCPP_WS_PORT": free_port(), "HTTP_PORT": free_port(), "FLOWER_PORT": free_port()}
    env = {**os.environ, "OCPP_KEY_PREFIX": prefix, **{k: str(v) for k, v in ports.items()}}
    for name in ("API_TOKEN", "OCPP_REGISTRATION", "OCPP_TLS_CERT", "OCPP_TLS_KEY"):
        env.pop(name, None)  # the quickstart's defaults: every door open, each one warned about
    log = open(tmp_path / "make-run.log", "wb")  # noqa: SIM115
    run = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    store = Store.connect(dataclasses.replace(get_settings(), key_prefix=prefix))
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        urls = [
            f"http://127.0.0.1:{ports['OCPP_WS_PORT']}/healthz",
            f"http://127.0.0.1:{ports['HTTP_PORT']}/health",
            f"http://127.0.0.1:{ports['FLOWER_PORT']}/healthcheck",
        ]
        while not all(http_ok(u) for u in urls):
            assert run.poll() is None, (tmp_path / "make-run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "make-run.log").read_text()[-3000:]
            time.sleep(0.3)
        # one warning line per open door (this environment sets no token, no TLS, no closed registration)
        output = (tmp_path / "make-run.log").read_text()
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
                f"ws://127.0.0.1:{ports['OCPP_WS_PORT']}/ocpp",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert simulator.returncode == 0, simulator.stderr
        assert "charging session done, transaction 1000" in simulator.stdout

        started = descendants(run.pid)
        assert len(started) >= 6  # honcho, gateway, bridge, worker (+pool), api (+workers), flower
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(15)
        deadline = time.monotonic() + 15
        while any(alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in started if alive(p)]
        assert not left, f"still running after SIGTERM: {left}"
        assert all(port_free(p) for p in ports.values())
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        for pid in started | descendants(run.pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()
        delete_prefix(store, prefix)
