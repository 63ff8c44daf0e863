"""A private stack that shows itself: gateway, bridge, a prefork worker and the API
under gunicorn, each with its own metrics endpoint and log file; and a Prometheus
scrape read with prometheus-client's own parser."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from ocpp_worker.config import Settings
from ocpp_worker.state.store import Store
from tests.support.stack import ManagedProcess, Stack, free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
ROLES = ("gateway", "bridge", "worker", "api")


def http_get(url: str, token: str | None = None, timeout: float = 5) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def answers(url: str) -> bool:
    """Whether an HTTP server answers at `url` (any status but a 5xx)."""
    try:
        return http_get(url, timeout=2)[0] < 500
    except OSError:
        return False


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(
        found
        for (sample, sample_labels), found in samples.items()
        if sample == name and labels.items() <= dict(sample_labels).items()
    )


@dataclass
class ObservedStack:
    prefix: str
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    token: str = field(default_factory=lambda: "metrics-test-token-" + uuid.uuid4().hex)
    ports: dict[str, int] = field(default_factory=lambda: {role: free_port() for role in ROLES})
    ws_port: int = field(default_factory=free_port)
    stacks: list[Stack] = field(default_factory=list)
    api: ManagedProcess | None = None
    store: Store | None = None  # on this stack's prefix

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ocpp"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    def metrics_url(self, role: str) -> str:
        return f"http://127.0.0.1:{self.ports[role]}/metrics"

    def scrape(self, role: str, token: str | None = None) -> Samples:
        status, text = http_get(self.metrics_url(role), token or (self.token if role == "api" else None))
        assert status == 200, (role, status, text[:500])
        return parse(text)

    def _stack(self, role: str) -> Stack:
        env = {"API_TOKEN": self.token, "OCPP_METRICS_PORT": str(self.ports[role]), **self.extra_env}
        stack = Stack(self.prefix, self.log_dir, ws_port=self.ws_port, extra_env=env)
        self.stacks.append(stack)
        return stack

    def start(self) -> None:
        self._stack("gateway").start_gateway()
        self._stack("bridge").start_bridge()
        self._stack("worker").start_worker("w1", concurrency=2)
        env = {
            **self.stacks[0].env,
            "HTTP_PORT": str(self.ports["api"]),
            "API_WORKERS": "2",
            "API_THREADS": "4",
            "OCPP_METRICS_PORT": "0",
        }
        self.api = ManagedProcess(
            "api",
            [sys.executable, "-m", "gunicorn", "-c", "api/gunicorn_conf.py", "api.wsgi:app"],
            env,
            self.log_dir,
        )
        deadline = time.monotonic() + 30
        while not answers(f"{self.api_url}/health"):
            assert self.api.alive() and time.monotonic() < deadline, self.api.output()[-3000:]
            time.sleep(0.1)
        for role in ("gateway", "bridge", "worker"):  # each serves its metrics by now
            self.wait_for_metrics(role)

    def wait_for_metrics(self, role: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not answers(self.metrics_url(role)):
            assert time.monotonic() < deadline, f"no metrics from the {role}"
            time.sleep(0.1)

    def processes(self) -> list[ManagedProcess]:
        found = [p for stack in self.stacks for p in stack.processes.values()]
        return [*found, self.api] if self.api is not None else found

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
        for stack in reversed(self.stacks):
            stack.stop()


@contextlib.contextmanager
def observed_stack(log_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[ObservedStack]:
    """An `ObservedStack` (its `store` on a key prefix of its own), stopped (by PID) and
    its keys deleted afterwards."""
    from tests.conftest import delete_prefix

    prefix = f"ocpptest-{uuid.uuid4().hex[:10]}:"
    observed = ObservedStack(prefix, log_dir, extra_env=dict(extra_env or {}))
    store = Store.connect(dataclasses.replace(Settings.from_env(dict(os.environ)), key_prefix=prefix))
    observed.store = store
    try:
        observed.start()
        yield observed
    finally:
        observed.stop()
        delete_prefix(store, prefix)
