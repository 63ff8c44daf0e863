"""Start the real processes (gateway, bridge, celery workers) as subprocesses, each in
its own process group, and stop them by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What a terminal gives a program: Ctrl-C, hang-up and TERM at their default actions.
# A test runner started in the background (`cmd &`, nohup) hands its children SIGINT
# and SIGHUP *ignored*, and a program cannot trap a signal ignored on entry (bash) or
# does not install its Ctrl-C handler then (Python); prefix a command with this to
# test its signal handling as a user would run it.
FROM_A_TERMINAL = ["env", "--default-signal=INT,HUP,TERM,QUIT"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ManagedProcess:
    """One subprocess with its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (a celery worker and its pool children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait(5)
        self.kill(signal.SIGKILL)  # stragglers in the group
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_gunicorn(env: dict[str, str], log_dir: Path, port: int, timeout: float = 20) -> ManagedProcess:
    """The real API (gunicorn serving `api.wsgi:app`) on 127.0.0.1:`port` with `env`,
    once its /health answers."""
    env = {**env, "HTTP_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "gunicorn", "-c", "api/gunicorn_conf.py", "api.wsgi:app"]
    process = ManagedProcess("gunicorn", args, env, log_dir)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return process
        except urllib.error.HTTPError:
            return process  # 503: up, something it checks is not
        except OSError:
            pass
        if not process.alive() or time.monotonic() > deadline:
            process.stop()
            raise RuntimeError(f"gunicorn did not start:\n{process.output()[-3000:]}")
        time.sleep(0.1)


@dataclass
class Stack:
    """Gateway + bridge (+ workers) on their own key prefix and port."""

    prefix: str
    log_dir: Path
    ws_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    # the gateway serves wss:// (OCPP_TLS_CERT/KEY in extra_env): how to reach /healthz
    tls_client: ssl.SSLContext | None = None

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "OCPP_KEY_PREFIX": self.prefix,
                "OCPP_WS_HOST": "127.0.0.1",
                "OCPP_WS_PORT": str(self.ws_port),
                "PYTHONUNBUFFERED": "1",
                **self.extra_env,
            }
        )
        return env

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.tls_client else "ws"
        return f"{scheme}://127.0.0.1:{self.ws_port}/ocpp"

    def start(self, name: str, args: list[str]) -> ManagedProcess:
        process = ManagedProcess(name, args, self.env, self.log_dir)
        self.processes[name] = process
        return process

    def start_gateway(self) -> ManagedProcess:
        process = self.start("gateway", [sys.executable, "-m", "ocpp_worker.gateway"])
        self.wait_for(lambda: self._healthy(), "gateway /healthz", process)
        return process

    def start_bridge(self, name: str = "bridge") -> ManagedProcess:
        return self.start(name, [sys.executable, "-m", "ocpp_worker.bridge"])

    def start_worker(
        self, name: str, concurrency: int = 1, pool: str = "prefork", queues: str = "ocpp,ocpp.metering"
    ) -> ManagedProcess:
        process = self.start(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "ocpp_worker",
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "-P",
                pool,
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
        )
        self.wait_for(lambda: "ready." in process.output(), f"{name} ready", process)
        return process

    def _healthy(self) -> bool:
        try:
            scheme = "https" if self.tls_client else "http"
            url = f"{scheme}://127.0.0.1:{self.ws_port}/healthz"
            with urllib.request.urlopen(url, timeout=1, context=self.tls_client) as r:
                return r.status == 200
        except OSError:
            return False

    def wait_for(self, check, what: str, process: ManagedProcess, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if not process.alive():
                raise RuntimeError(f"{process.name} died:\n{process.output()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}:\n{process.output()[-3000:]}")

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()


@contextlib.contextmanager
def private_stack(log_dir: Path, extra_env: dict[str, str], workers: tuple[str, ...] = ("w1",)):  # type: ignore[no-untyped-def]
    """Gateway, bridge and `celery worker` subprocesses on a key prefix of their own
    (the session's in-process worker never takes their tasks), with a store on that
    prefix; everything stopped and the prefix deleted afterwards. Yields (stack, store)."""
    import dataclasses
    import uuid

    from ocpp_worker.archive import migrate
    from ocpp_worker.config import Settings
    from ocpp_worker.state.store import Store
    from tests.conftest import delete_prefix

    prefix = f"ocpptest-{uuid.uuid4().hex[:10]}:"
    # a session archive of its own: transaction ids start at 1000 on every prefix
    extra_env = {"DATABASE_URL": f"sqlite:///{log_dir}/archive.sqlite3", **extra_env}
    stack = Stack(prefix, log_dir, extra_env=extra_env)
    settings = Settings.from_env({**os.environ, **extra_env})
    store = Store.connect(dataclasses.replace(settings, key_prefix=prefix))
    migrate.upgrade(store.settings)
    try:
        stack.start_gateway()
        stack.start_bridge()
        for name in workers:
            stack.start_worker(name)
        yield stack, store
    finally:
        stack.stop()
        delete_prefix(store, prefix)
