"""Webhook delivery: signed POSTs of the domain events, in order, with retries
(docs/EVENTS.md "Webhooks").

Everything runs on the ``ocpp.webhooks`` queue (the Procfile's ``background``
worker), never on the OCPP queues, so a slow or dead receiver never slows a charger:

* ``ocpp.webhooks.kick`` (celery beat, every second; `kick`) finds the webhooks with
  events after their cursor whose next attempt is due, and queues one
  ``ocpp.webhooks.deliver`` for each (not a second while one is queued).
* ``ocpp.webhooks.deliver`` (`deliver`) takes the webhook's lock and sends its events
  one at a time in stream order, moving its cursor past each one delivered (2xx),
  not wanted (another type), or given up on. A failure (no answer, a timeout, any
  other status, a refused address) schedules the next attempt after
  ``OCPP_WEBHOOK_BACKOFF_S`` x 2^(attempts-1), capped at ``OCPP_WEBHOOK_BACKOFF_MAX_S``,
  and ends the run: the events behind it wait, so the order holds. An event still
  failing ``OCPP_WEBHOOK_RETRY_HOURS`` (24) after its first attempt is logged as
  failed and skipped; the webhook goes on with the next one.

Delivery is at least once: a worker killed between the receiver's 2xx and the cursor
write sends that event again (same ``X-OCPP-Event-Id``) once the lock expires.

The HTTP client is requests (already installed with the worker's dependencies, and
the most used Python client; its streaming body read lets us stop at a few KiB):
connect 5 s, 10 s in all, no redirects, no body beyond `RESPONSE_KEPT` bytes read.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import urllib3
from celery import shared_task
from urllib3.util import Timeout

from ocpp_worker import maintenance, timeutil
from ocpp_worker.config import Settings
from ocpp_worker.state import liveness
from ocpp_worker.state import webhooks as state
from ocpp_worker.state.store import Store

log = logging.getLogger(__name__)

QUEUE = "ocpp.webhooks"
KICK = "ocpp.webhooks.kick"
DELIVER = "ocpp.webhooks.deliver"
KICK_PERIOD_S = 1.0

SIGNATURE_HEADER = "X-OCPP-Signature"
EVENT_ID_HEADER = "X-OCPP-Event-Id"
EVENT_TYPE_HEADER = "X-OCPP-Event-Type"
USER_AGENT = "ocpp-csms-webhooks/1"
ALL_TYPES = "*"

MAX_URL_CHARS = 2048
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
TOTAL_TIMEOUT_S = 10.0  # connect, send, the answer's headers and what we read of its body
RESPONSE_KEPT = 4096  # bytes of an answer read (and dropped): never more
ERROR_CHARS = 300  # of an error's text kept in the delivery log
RUN_BUDGET_S = 8.0  # a run starts no send after this long (under the broker's visibility timeout)
BATCH = 100  # events read per round trip


# -- registration checks ------------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook's URL, or None: http(s) only, a host, no
    user:password@, at most MAX_URL_CHARS, no fragment. Addresses are checked when
    sending (`resolve`): a name may resolve differently later."""
    if len(url) > MAX_URL_CHARS:
        return f"at most {MAX_URL_CHARS} characters"
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        return "no spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    if not parts.hostname:
        return "a host is required"
    if "@" in parts.netloc:
        return "no user or password in the URL: the signature authenticates us"
    if parts.fragment:
        return "no #fragment"
    if port == 0:
        return "port 0 is not a port"
    return None


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global


def literal_address_problem(url: str, allow_private: bool) -> str | None:
    """At registration: a URL whose host is a non-public IP literal (or localhost)."""
    if allow_private:
        return None
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return "a private address (OCPP_WEBHOOKS_ALLOW_PRIVATE is off)"
    try:
        return "a private address (OCPP_WEBHOOKS_ALLOW_PRIVATE is off)" if _blocked(host) else None
    except ValueError:
        return None  # a name: checked when sending


def resolve(url: str, allow_private: bool) -> tuple[str | None, str | None]:
    """At sending: (the address to connect to, None), or (None, why we will not connect:
    the host does not resolve, or resolves to a private, loopback, link-local or
    otherwise non-public address). `post` connects to exactly this address, so a name
    that resolves differently a moment later (DNS rebinding) cannot reach past the check."""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, _port(parts.scheme, parts.port), proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        return None, f"cannot resolve {parts.hostname}: {exc}"
    if not infos:
        return None, f"cannot resolve {parts.hostname}"
    if not allow_private:
        for info in infos:
            if _blocked(str(info[4][0])):
                return None, f"{parts.hostname} resolves to {info[4][0]}, not a public address"
    return str(infos[0][4][0]), None


def _port(scheme: str, port: int | None) -> int:
    return port or (443 if scheme == "https" else 80)


def types_problem(types: list[str], known: tuple[str, ...]) -> str | None:
    if not types:
        return "at least one event type, or *"
    if ALL_TYPES in types and len(types) > 1:
        return "* stands alone: it means every type"
    unknown = sorted(set(types) - {*known, ALL_TYPES})
    return f"unknown event types: {', '.join(unknown)}" if unknown else None


def wants(types: list[str], event_type: str) -> bool:
    return ALL_TYPES in types or event_type in types


# -- signing --------------------------------------------------------------------------


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`` (Stripe's scheme)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: float = 300) -> bool:
    """What a receiver does (docs/EVENTS.md has it standalone): the timestamp is recent
    and one v1 matches, compared in constant time."""
    parts = [item.partition("=") for item in header.split(",")]
    stamps = [value for key, _, value in parts if key == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(now - int(stamps[0])) > tolerance_s:
        return False
    expected = signature(secret, int(stamps[0]), body).rpartition("v1=")[2]
    return any(key == "v1" and hmac.compare_digest(value, expected) for key, _, value in parts)


# -- one attempt --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None  # the receiver's HTTP status, None when it gave none
    error: str | None


def post(url: str, secret: str, event: dict[str, Any], allow_private: bool, now: float) -> Outcome:
    """POST one event, signed, to the address `resolve` checked (the URL's host in the
    Host header and, for https, in SNI and the certificate check); 2xx is delivered,
    anything else a failure. No redirect is followed, no retry made here."""
    address, refused = resolve(url, allow_private)
    if address is None:
        return Outcome(False, None, f"refused: {refused}")
    parts = urlsplit(url)
    body = body_of(event)
    headers = {
        "Host": parts.netloc,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(secret, int(now), body),
        EVENT_ID_HEADER: str(event["id"]),
        EVENT_TYPE_HEADER: str(event["type"]),
    }
    started = time.monotonic()
    # `total` bounds connect + send + the answer's headers; `_drain` bounds the body read
    # by the same deadline
    timeout = Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S, total=TOTAL_TIMEOUT_S)
    port = _port(parts.scheme, parts.port)
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        response = pool.urlopen(
            "POST", path, body=body, headers=headers, redirect=False, retries=False, preload_content=False
        )
        try:
            _drain(response, started + TOTAL_TIMEOUT_S)
        finally:
            response.release_conn()
        if 200 <= response.status < 300:
            return Outcome(True, response.status, None)
        return Outcome(False, response.status, f"HTTP {response.status}")
    except urllib3.exceptions.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
    finally:
        pool.close()


def _drain(response: urllib3.BaseHTTPResponse, deadline: float) -> None:
    """Read at most RESPONSE_KEPT bytes of the answer, until `deadline` (monotonic)."""
    read = 0
    for chunk in response.stream(1024):
        read += len(chunk)
        if read >= RESPONSE_KEPT or time.monotonic() > deadline:
            break


def backoff_s(settings: Settings, attempts: int) -> float:
    """The wait after the `attempts`-th failed attempt of one event."""
    exponent = min(max(attempts - 1, 0), 60)
    return float(min(settings.webhook_backoff_s * 2**exponent, settings.webhook_backoff_max_s))


# -- a delivery run ------------------------------------------------------------------------

Sender = Callable[[str, str, dict[str, Any], bool, float], Outcome]


def _iso(epoch: float) -> str:
    return timeutil.iso(datetime.fromtimestamp(epoch, UTC))


def deliver(
    store: Store,
    webhook_id: str,
    send: Sender = post,
    clock: Callable[[], float] = time.time,
    budget_s: float = RUN_BUDGET_S,
) -> int:
    """One delivery run for a webhook: its due events, in order, until one fails, the
    budget is spent or none is left. Returns how many were delivered. Does nothing if
    another run holds the webhook."""
    token = uuid.uuid4().hex
    if not state.lock(store, webhook_id, token):
        return 0
    delivered = 0
    try:
        started = clock()
        while clock() - started < budget_s:
            hook = state.get(store, webhook_id)
            if hook is None or float(hook.get("nextAttemptAt") or 0) > clock():
                break
            batch = state.next_events(store, hook["cursor"], BATCH)
            if not batch:
                break
            sent, stop = _run_batch(store, hook, batch, token, send, clock, started + budget_s)
            delivered += sent
            if stop:
                break
    finally:
        state.unlock(store, webhook_id, token)
    return delivered


def _run_batch(
    store: Store,
    hook: dict[str, Any],
    batch: list[dict[str, Any]],
    token: str,
    send: Sender,
    clock: Callable[[], float],
    deadline: float,
) -> tuple[int, bool]:
    """Send the wanted events of `batch`; (delivered, whether the run must stop)."""
    webhook_id = hook["id"]
    settings = store.settings
    cursor = hook["cursor"]
    delivered = 0
    stop = False
    for event in batch:
        if not wants(hook["types"], event["type"]):
            cursor = event["id"]
            continue
        if clock() > deadline or not state.renew(store, webhook_id, token):
            stop = True
            break
        retrying = hook.get("pendingEvent") == event["id"]
        attempts = (int(hook.get("attempts") or 0) if retrying else 0) + 1
        now = clock()
        first = (float(hook.get("firstAttemptAt") or 0) if retrying else 0.0) or now
        outcome = send(hook["url"], hook["secret"], event, settings.webhooks_allow_private, now)
        entry: dict[str, Any] = {
            "eventId": event["id"],
            "eventType": event["type"],
            "attempts": attempts,
            "statusCode": outcome.status,
            "lastError": outcome.error,
            "firstAttemptAt": _iso(first),
            "lastAttemptAt": _iso(now),
            "nextAttemptAt": None,
        }
        if outcome.ok or now - first >= settings.webhook_retry_hours * 3600:
            entry["status"] = "delivered" if outcome.ok else "failed"
            if not outcome.ok:
                log.warning(
                    "webhook %s: gave up on event %s after %d attempts", webhook_id, event["id"], attempts
                )
            done = {
                "cursor": event["id"],
                "pendingEvent": "",
                "attempts": 0,
                "firstAttemptAt": 0,
                "nextAttemptAt": 0,
            }
            if not state.update(store, webhook_id, done, entry, new_entry=not retrying):
                return delivered, True  # deleted meanwhile
            delivered += int(outcome.ok)
            cursor = event["id"]
            continue
        next_at = now + backoff_s(settings, attempts)
        entry.update(status="retrying", nextAttemptAt=_iso(next_at))
        progress = {
            "cursor": cursor,
            "pendingEvent": event["id"],
            "attempts": attempts,
            "firstAttemptAt": first,
            "nextAttemptAt": next_at,
        }
        state.update(store, webhook_id, progress, entry, new_entry=not retrying)
        return delivered, True
    if cursor != hook["cursor"]:  # unwanted events passed since the last write
        state.update(store, webhook_id, {"cursor": cursor})
    return delivered, stop


def kick(store: Store, queue_delivery: Callable[[str], None], now: float | None = None) -> list[str]:
    """Queue a delivery run for every webhook with due events (one queued at a time per
    webhook). Returns the ids queued."""
    queued = []
    for webhook_id in state.pending(store, time.time() if now is None else now):
        if state.mark_queued(store, webhook_id):
            queue_delivery(webhook_id)
            queued.append(webhook_id)
    return queued


# -- Celery ---------------------------------------------------------------------------------


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return maintenance.every(KICK, KICK_PERIOD_S, queue=QUEUE)


@shared_task(name=KICK, ignore_result=True)
def kick_task() -> None:
    store = maintenance.task_store()
    if liveness.once_per(store, KICK, KICK_PERIOD_S):
        kick(store, _queue_delivery)


def _queue_delivery(webhook_id: str) -> None:
    deliver_task.apply_async(args=(webhook_id,), queue=QUEUE)


@shared_task(name=DELIVER, ignore_result=True)
def deliver_task(webhook_id: str) -> None:
    store = maintenance.task_store()
    try:
        deliver(store, webhook_id)
    finally:
        state.clear_queued(store, webhook_id)
