"""`scripts/with-redis` (what `make run` and `make test` run under): with no Redis at
REDIS_ADDR it starts one that keeps an append-only file in the data directory, synced
every second unless REDIS_APPENDFSYNC says otherwise, and stops it afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.support.stack import ROOT, free_port

PROBE = """
import os, redis
r = redis.Redis(port=int(os.environ["PROBE_PORT"]))
r.set("probe", "kept")
found = r.config_get("append*") | r.config_get("dir")
print("PROBE", found["appendonly"], found["appendfsync"], found["dir"])
"""


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server binary to start")
@pytest.mark.parametrize("fsync", ["everysec", "always"])
def test_the_redis_it_starts_keeps_an_append_only_file(tmp_path, fsync):
    port = free_port()
    env = {
        **os.environ,
        "REDIS_ADDR": f"localhost:{port}",
        "OCPP_DATA_DIR": str(tmp_path / "data"),
        "PROBE_PORT": str(port),
    }
    env.pop("REDIS_PASSWORD", None)
    if fsync != "everysec":
        env["REDIS_APPENDFSYNC"] = fsync
    done = subprocess.run(
        ["scripts/with-redis", sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "append-only file in" in done.stdout
    probe = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert len(probe) == 1, done.stdout
    appendonly, appendfsync, directory = probe[0].split()[1:]
    assert (appendonly, appendfsync) == ("yes", fsync)
    assert os.path.samefile(directory, tmp_path / "data" / "redis")
    files = [p.name for p in (tmp_path / "data" / "redis").rglob("*")]
    assert any("aof" in name for name in files), files
    # the Redis it started is gone with the command
    with pytest.raises(OSError):
        import socket

        socket.create_connection(("127.0.0.1", port), timeout=1).close()
