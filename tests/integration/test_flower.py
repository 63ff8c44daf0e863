"""scripts/flower, the Procfile's Flower: beyond the loopback only with a login."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.support.stack import ROOT, ManagedProcess, free_port

pytestmark = pytest.mark.timeout(90)


def flower_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWER_")}
    path = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # celery, as under make run
    return {**env, "PATH": path, "OCPP_KEY_PREFIX": f"ocpptest-{uuid.uuid4().hex[:8]}:", **extra}


def status(url: str, login: str | None = None) -> int:
    headers = {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()} if login else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.0.2.1"])
def test_flower_refuses_to_listen_beyond_the_loopback_without_a_login(address: str) -> None:
    result = subprocess.run(
        ["scripts/flower"],
        cwd=ROOT,
        env=flower_env(FLOWER_ADDRESS=address, FLOWER_PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"Flower would listen on {address} without a login" in result.stderr


def test_a_malformed_login_is_refused() -> None:
    env = flower_env(FLOWER_ADDRESS="0.0.0.0", FLOWER_BASIC_AUTH="just-a-user", FLOWER_PORT=str(free_port()))
    result = subprocess.run(["scripts/flower"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "must be user:password" in result.stderr


def test_flower_on_all_interfaces_asks_for_its_login(tmp_path: Path) -> None:
    port = free_port()
    login = f"operator:pw-{uuid.uuid4().hex}"
    env = flower_env(FLOWER_ADDRESS="0.0.0.0", FLOWER_PORT=str(port), FLOWER_BASIC_AUTH=login)
    flower = ManagedProcess("flower", ["scripts/flower"], env, tmp_path)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 45
        while True:
            try:
                first = status(url)
                break
            except OSError:
                assert flower.alive() and time.monotonic() < deadline, flower.output()[-3000:]
                time.sleep(0.2)
        assert first == 401
        assert status(url, "operator:wrong-password") == 401
        assert status(url, login) == 200
        # the password is read from the environment, never put on a command line (ps)
        cmdline = Path(f"/proc/{flower.pid}/cmdline").read_bytes().decode(errors="replace")
        assert "flower" in cmdline and login.split(":")[1] not in cmdline
    finally:
        flower.stop()
    assert login.split(":")[1] not in flower.output()
