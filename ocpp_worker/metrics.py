"""Every Prometheus metric of the central system (prometheus-client), by process.

Names follow Prometheus' conventions: ``ocpp_<process>_…``, counters end in
``_total``, durations are ``_seconds`` histograms. Labels only take few values: an
OCPP 1.6 action (anything else a charger sends counts as ``other``), a 1.6 error
code, a refusal reason, a route's URL rule, an HTTP status. Never a charger id: a
network has thousands, and each label value is a series Prometheus keeps.

Each process creates only its own group (`gateway()`, `bridge()`, `worker()`,
`api()`), on first use: a process exports what it measures and nothing else, and in
multiprocess mode (API, workers: `metrics_export`) no metric exists before
``PROMETHEUS_MULTIPROC_DIR`` is set. The hot paths call the groups' methods, which
resolve a label set's child once (`.labels()` takes a lock and checks its values)
and then find it in a dict: one dict lookup and one locked add per frame.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from ocpp_worker.protocol.actions import ALL_V16
from ocpp_worker.protocol.errors import CODES_V16
from ocpp_worker.state.inbound_backlog import Backlog

log = logging.getLogger(__name__)

# the *_created series double the output for a timestamp nobody graphs
disable_created_metrics()  # type: ignore[no-untyped-call]

OTHER = "other"
NONE = "none"
_ACTIONS = {action: action for action in ALL_V16}
_CODES = {code: code for code in CODES_V16}

M = TypeVar("M", bound=MetricWrapperBase)


def action_label(action: str) -> str:
    """An OCPP 1.6 action as itself, anything else as ``other`` ("" as ``none``)."""
    return _ACTIONS.get(action, OTHER) if action else NONE


def code_label(code: str) -> str:
    """A 1.6 error code as itself, anything else as ``other``."""
    return _CODES.get(code, OTHER)


class Children(Generic[M]):
    """A labelled metric's children, each resolved once: ``children(*values)``.
    Callers pass bounded values only (see `action_label`)."""

    def __init__(self, metric: M) -> None:
        self.metric = metric
        self._found: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._found.get(values)
        if child is None:
            child = self._found[values] = self.metric.labels(*values)
        return child


# -- gateway --------------------------------------------------------------------


class GatewayMetrics:
    def __init__(self) -> None:
        self.connected = Gauge(
            "ocpp_gateway_connected_chargers", "Chargers with an open WebSocket on this gateway"
        )
        received = Counter(
            "ocpp_gateway_frames_received_total",
            "Frames received from chargers, by message type (call, result, error, other) and action"
            " (a result's or error's: the action of our CALL it answers)",
            ["type", "action"],
        )
        sent = Counter(
            "ocpp_gateway_frames_sent_total",
            "Frames sent to chargers, by message type and action (an answer's: the charger CALL's)",
            ["type", "action"],
        )
        refusals = Counter(
            "ocpp_gateway_handshake_refusals_total",
            "WebSocket handshakes refused by admission (docs/SECURITY.md), by reason",
            ["reason"],
        )
        self.outbox_lag = Histogram(
            "ocpp_gateway_outbox_lag_seconds",
            "Time from an outbox entry's id (when a worker, the bridge or the API wrote it) to its"
            " delivery to the charger's connection",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self._received = Children(received)
        self._sent = Children(sent)
        self._refusals = Children(refusals)

    def received(self, kind: str, action: str) -> None:
        self._received(kind, action_label(action)).inc()

    def sent(self, kind: str, action: str) -> None:
        self._sent(kind, action_label(action)).inc()

    def refused(self, reason: str) -> None:
        self._refusals(reason).inc()  # reasons: the admission's fixed set

    def delivered(self, entry_id: str) -> None:
        """One outbox entry delivered now: its lag from the time in its stream id."""
        written_ms = int(entry_id.partition("-")[0])
        self.outbox_lag.observe(max(0.0, time.time() - written_ms / 1000))


# -- bridge ---------------------------------------------------------------------


class BacklogCollector(Collector):
    """The inbound stream's backlog, read from Redis when Prometheus scrapes (never on
    the bridge's hot path). Every bridge reports the same stream: aggregate with max."""

    def __init__(self, read: Callable[[], Backlog]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            backlog = self.read()
        except Exception as exc:  # Redis away: the scrape still answers, without these
            log.warning("cannot read the inbound backlog for the metrics: %r", exc)
            return
        yield GaugeMetricFamily(
            "ocpp_bridge_inbound_lag_entries", "Inbound entries no bridge has read yet", value=backlog.waiting
        )
        yield GaugeMetricFamily(
            "ocpp_bridge_inbound_pending_entries",
            "Inbound entries read by a bridge and not acknowledged yet",
            value=backlog.pending,
        )
        yield GaugeMetricFamily(
            "ocpp_bridge_inbound_lag_seconds",
            "Age of the oldest inbound entry not handled yet (0: none waiting)",
            value=backlog.oldest_age_s,
        )
        yield GaugeMetricFamily(
            "ocpp_bridge_inbound_oldest_pending_seconds",
            "Age of the oldest inbound entry a bridge read and has not acknowledged (0: none)",
            value=backlog.oldest_pending_age_s,
        )


class BridgeMetrics:
    def __init__(self) -> None:
        dispatched = Counter(
            "ocpp_bridge_frames_dispatched_total",
            "Charger CALLs handed to the workers, by action",
            ["action"],
        )
        bad = Counter(
            "ocpp_bridge_bad_frames_total",
            "Charger frames the bridge answered itself: by the CALLERROR code it sent, or close_<code>"
            " when it closed the connection",
            ["code"],
        )
        self._dispatched = Children(dispatched)
        self._bad = Children(bad)

    def dispatched(self, action: str, count: int) -> None:
        self._dispatched(action_label(action)).inc(count)

    def bad_frame(self, code: str) -> None:
        self._bad(code).inc()  # a 1.6 code or close_<websocket close code>: both few


# -- workers --------------------------------------------------------------------


class WorkerMetrics:
    def __init__(self) -> None:
        latency = Histogram(
            "ocpp_worker_handler_duration_seconds",
            "Time to answer one charger CALL: validation, handler, reply validation, by action",
            ["action"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        errors = Counter(
            "ocpp_worker_call_errors_total",
            "CALLERRORs the workers answered, by action and code",
            ["action", "code"],
        )
        dead = Counter(
            "ocpp_worker_dead_letters_total",
            "CALLs moved to the dead letters (server:dead), by action",
            ["action"],
        )
        self._latency = Children(latency)
        self._errors = Children(errors)
        self._dead = Children(dead)

    def handled(self, action: str, seconds: float) -> None:
        self._latency(action_label(action)).observe(seconds)

    def call_error(self, action: str, code: str) -> None:
        self._errors(action_label(action), code_label(code)).inc()

    def dead_letter(self, action: str) -> None:
        self._dead(action_label(action)).inc()


# -- API ------------------------------------------------------------------------


class ApiMetrics:
    def __init__(self) -> None:
        requests = Histogram(
            "ocpp_api_request_duration_seconds",
            "REST API requests, by method, route (the URL rule; unmatched: none) and status",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        calls = Histogram(
            "ocpp_api_charger_call_duration_seconds",
            "CSMS-initiated calls, from the API's send to the charger's answer, by action and outcome"
            " (result; timeout = 408, rejected = 502, offline = 503; unknown_charger, invalid)",
            ["action", "outcome"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self._requests = Children(requests)
        self._calls = Children(calls)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._requests(method, route, str(status)).observe(seconds)  # routes: the app's rules

    def charger_call(self, action: str, outcome: str, seconds: float) -> None:
        self._calls(action_label(action), outcome).observe(seconds)  # outcomes: calls.OUTCOMES


@functools.cache
def gateway() -> GatewayMetrics:
    return GatewayMetrics()


@functools.cache
def bridge() -> BridgeMetrics:
    return BridgeMetrics()


@functools.cache
def worker() -> WorkerMetrics:
    return WorkerMetrics()


@functools.cache
def api() -> ApiMetrics:
    return ApiMetrics()
