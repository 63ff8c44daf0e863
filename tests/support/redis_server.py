"""A redis-server of a test's own, with an append-only file, that the test can stop and
start again on the same port and directory (what a Redis restart in production is)."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from tests.support.stack import ManagedProcess

PORTS = range(6390, 6400)


def free_redis_port() -> int:
    """A port in 6390-6399 nobody listens on (the range reserved for these tests)."""
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


class RedisServer:
    """`redis-server --appendonly yes --dir <dir>`: what was written before a stop is
    there after the next start."""

    def __init__(self, data_dir: Path, log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_redis_port()
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.starts = 0
        self.process: ManagedProcess | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, decode_responses=True)

    def start(self, timeout: float = 10) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        # a fresh ManagedProcess (own log file) per start; `--save ""`: the AOF only
        self.process = ManagedProcess(
            f"redis-{self.port}-{self.starts}",
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(self.data_dir),
            ],
            {},
            self.log_dir,
        )
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                if client.ping():
                    break
            if not self.process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{self.process.output()[-2000:]}")
            time.sleep(0.05)
        client.close()

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (Redis flushes the AOF and exits), wait; SIGKILL if it hangs."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.alive():
            process.kill(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.proc.wait(timeout)
        process.stop()

    def restart(self, down: float = 0.0) -> None:
        self.stop()
        time.sleep(down)
        self.start()
