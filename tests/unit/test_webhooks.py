"""Webhook delivery (`ocpp_worker.webhooks.deliver`) against the real Redis and a real
HTTP receiver: signatures, order, retries with backoff, giving up, type filters,
refused addresses, the delivery log and the lock."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from ocpp_worker import webhooks
from ocpp_worker.state import events as stream
from ocpp_worker.state import webhooks as state
from ocpp_worker.state.store import Store
from tests.support.pki import Ca, cert_pem, key_pem
from tests.support.receiver import receiver


@pytest.fixture
def hooks(fresh: Store) -> Store:
    """The unit store with private addresses allowed (the receiver is on 127.0.0.1)
    and a 0.2 s backoff base."""
    settings = dataclasses.replace(fresh.settings, webhooks_allow_private=True, webhook_backoff_s=0.2)
    return Store(fresh.redis, settings)


def publish(store: Store, n: int, event_type: str = "security_event") -> None:
    for i in range(n):
        stream.publish(store, event_type, "CP", {"type": f"e{i}", "techInfo": None, "timestamp": "t"})


def register(store: Store, url: str, types: list[str] | None = None, secret: str = "s" * 20) -> str:
    return str(state.create(store, url, types or ["*"], secret, None, "2026-06-01T12:00:00.000Z")["id"])


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_signed_events_in_order_from_the_registration_on(hooks):
    publish(hooks, 2)  # before the webhook: not for it
    with receiver() as r:
        hook = register(hooks, r.url)
        publish(hooks, 3)
        assert webhooks.deliver(hooks, hook) == 3
    assert [e["data"]["type"] for e in r.events()] == ["e0", "e1", "e2"]
    for got in r.received:
        assert webhooks.verify("s" * 20, got.headers["X-OCPP-Signature"], got.body, time.time())
        assert not webhooks.verify("t" * 20, got.headers["X-OCPP-Signature"], got.body, time.time())
        assert got.headers["X-OCPP-Event-Id"] == got.event["id"]
        assert got.headers["X-OCPP-Event-Type"] == "security_event"
        assert got.headers["Content-Type"] == "application/json"
    assert state.get(hooks, hook)["cursor"] == r.events()[-1]["id"]
    log = state.deliveries(hooks, hook, 10)
    assert [(d["status"], d["attempts"], d["statusCode"]) for d in log] == [("delivered", 1, 200)] * 3
    assert webhooks.deliver(hooks, hook) == 0  # nothing new


def test_signature_scheme_matches_the_documented_one():
    header = webhooks.signature("whsec_test", 1700000000, b'{"a":1}')
    mac = hmac.new(b"whsec_test", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={mac}"
    assert webhooks.verify("whsec_test", header, b'{"a":1}', 1700000100)
    assert not webhooks.verify("whsec_test", header, b'{"a":2}', 1700000100)
    assert not webhooks.verify("whsec_test", header, b'{"a":1}', 1700000000 + 301)  # too old
    assert not webhooks.verify("whsec_test", "garbage", b'{"a":1}', 1700000100)


def test_a_500_twice_is_delivered_on_the_third_attempt_and_holds_the_events_behind(hooks):
    clock = Clock()
    with receiver() as r:
        hook = register(hooks, r.url)
        publish(hooks, 2)
        r.statuses = [500, 500]
        assert webhooks.deliver(hooks, hook, clock=clock) == 0
        [retrying] = state.deliveries(hooks, hook, 10)
        assert (retrying["status"], retrying["attempts"], retrying["statusCode"]) == ("retrying", 1, 500)
        assert retrying["lastError"] == "HTTP 500"
        assert webhooks.deliver(hooks, hook, clock=clock) == 0  # not due yet: nothing sent
        assert len(r.received) == 1
        clock.now += 0.2  # the first backoff
        assert webhooks.deliver(hooks, hook, clock=clock) == 0
        assert state.get(hooks, hook)["nextAttemptAt"] == pytest.approx(clock.now + 0.4)  # doubled
        clock.now += 0.4
        assert webhooks.deliver(hooks, hook, clock=clock) == 2
    ids = [e["id"] for e in r.events()]
    assert ids[0] == ids[1] == ids[2] != ids[3]  # the first event three times, then the second
    log = state.deliveries(hooks, hook, 10)
    assert [(d["status"], d["attempts"], d["statusCode"]) for d in log] == [
        ("delivered", 1, 200),
        ("delivered", 3, 200),
    ]
    assert log[1]["lastAttemptAt"] > log[1]["firstAttemptAt"]


def test_an_event_failing_past_the_retry_horizon_is_marked_failed_and_skipped(hooks):
    clock = Clock()
    short = Store(hooks.redis, dataclasses.replace(hooks.settings, webhook_retry_hours=1 / 3600))  # 1 s
    with receiver() as r:
        hook = register(short, r.url)
        publish(short, 2)
        r.statuses = [503, 503]
        webhooks.deliver(short, hook, clock=clock)
        clock.now += 1.0
        assert webhooks.deliver(short, hook, clock=clock) == 1  # gave up on the first, sent the second
    log = state.deliveries(short, hook, 10)
    assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 1), ("failed", 2)]


def test_backoff_doubles_up_to_its_cap(hooks):
    settings = dataclasses.replace(hooks.settings, webhook_backoff_s=10, webhook_backoff_max_s=3600)
    assert [webhooks.backoff_s(settings, n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert webhooks.backoff_s(settings, 9) == 2560
    assert webhooks.backoff_s(settings, 10) == webhooks.backoff_s(settings, 10_000) == 3600


def test_only_the_wanted_types_are_sent(hooks):
    with receiver() as r:
        hook = register(hooks, r.url, ["transaction.started"])
        publish(hooks, 2)
        stream.publish(hooks, "transaction.started", "CP", {"transactionId": 1})
        publish(hooks, 2)
        assert webhooks.deliver(hooks, hook) == 1
    assert [e["type"] for e in r.events()] == ["transaction.started"]
    assert state.get(hooks, hook)["cursor"] == stream.last_id(hooks)  # the unwanted ones passed too


def test_a_redirect_is_a_failure_not_followed(hooks):
    with receiver() as r:
        hook = register(hooks, r.url)
        publish(hooks, 1)
        r.statuses = [302]
        webhooks.deliver(hooks, hook)
    assert [g.path for g in r.received] == ["/hook"]
    assert state.deliveries(hooks, hook, 1)[0]["statusCode"] == 302


def test_private_addresses_are_refused_unless_allowed(fresh):
    with receiver() as r:
        hook = register(fresh, r.url)  # fresh: OCPP_WEBHOOKS_ALLOW_PRIVATE off
        publish(fresh, 1)
        webhooks.deliver(fresh, hook)
        assert r.received == []
    [entry] = state.deliveries(fresh, hook, 1)
    assert entry["status"] == "retrying" and entry["statusCode"] is None
    assert "not a public address" in entry["lastError"]
    assert webhooks.literal_address_problem("http://10.1.2.3/x", False)
    assert webhooks.literal_address_problem("http://[::ffff:127.0.0.1]/x", False)
    assert webhooks.literal_address_problem("http://localhost:8080/x", False)
    assert webhooks.literal_address_problem("http://169.254.169.254/latest", False)
    assert webhooks.literal_address_problem("http://8.8.8.8/x", False) is None
    assert webhooks.literal_address_problem("http://10.1.2.3/x", True) is None


def test_nothing_answers(hooks):
    hook = register(hooks, "http://127.0.0.1:9/closed")  # discard port: nothing listens
    publish(hooks, 1)
    assert webhooks.deliver(hooks, hook) == 0
    [entry] = state.deliveries(hooks, hook, 1)
    assert entry["statusCode"] is None and entry["lastError"].startswith("NewConnectionError")


def test_the_address_checked_is_the_address_connected_to(hooks, monkeypatch):
    """A name is resolved once: the check and the connection use the same address (a
    name that resolves to a public address for the check and to a private one for the
    connection, DNS rebinding, cannot pass), and the request still names the host."""
    with receiver() as r:
        port = r.server.server_address[1]
        hook = register(hooks, f"http://webhooks.example:{port}/hook?x=1")
        lookups: list[str] = []
        real = socket.getaddrinfo

        def getaddrinfo(host, *args, **kwargs):  # the name only this test's DNS knows
            if host != "webhooks.example":
                return real(host, *args, **kwargs)
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        publish(hooks, 1)
        assert webhooks.deliver(hooks, hook) == 1
    assert lookups == ["webhooks.example"]  # once: the connection went to that address
    [got] = r.received
    assert got.path == "/hook?x=1" and got.headers["Host"] == f"webhooks.example:{port}"
    private = dataclasses.replace(hooks.settings, webhooks_allow_private=False)
    monkeypatch.setattr(webhooks.socket, "getaddrinfo", lambda *a, **kw: [(2, 1, 6, "", ("10.0.0.7", 80))])
    assert webhooks.resolve("http://webhooks.example/x", private.webhooks_allow_private) == (
        None,
        "webhooks.example resolves to 10.0.0.7, not a public address",
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "http://user:pw@example.com/x",
        "http://@example.com/x",
        "http:///x",
        "http://example.com:99999/x",
        "http://example.com/x#frag",
        "http://exa mple.com/x",
        "https://example.com/" + "x" * 2048,
        "javascript:alert(1)",
    ],
)
def test_bad_urls(url):
    assert webhooks.url_problem(url)


def test_a_run_holding_the_lock_keeps_others_out_and_a_deleted_webhook_gets_nothing(hooks):
    with receiver() as r:
        hook = register(hooks, r.url)
        publish(hooks, 1)
        assert state.lock(hooks, hook, "someone")
        assert webhooks.deliver(hooks, hook) == 0
        state.unlock(hooks, hook, "someone")

        def delete_then_answer(*args: Any) -> webhooks.Outcome:
            state.delete(hooks, hook)
            return webhooks.Outcome(True, 200, None)

        assert webhooks.deliver(hooks, hook, send=delete_then_answer) == 0
        assert state.get(hooks, hook) is None
        assert hooks.redis.exists(hooks.keys.webhook(hook), hooks.keys.webhook_deliveries(hook)) == 0


def test_kick_queues_one_delivery_per_webhook_with_due_events(hooks):
    with receiver() as r:
        idle = register(hooks, r.url)
        publish(hooks, 1)
        busy = register(hooks, r.url)
        queued: list[str] = []
        assert webhooks.kick(hooks, queued.append) == [idle]
        assert webhooks.kick(hooks, queued.append) == []  # one queued already
        state.clear_queued(hooks, idle)
        publish(hooks, 1)
        assert sorted(webhooks.kick(hooks, queued.append)) == sorted([idle, busy])
    assert len(queued) == 3


def test_at_most_max_webhooks(hooks, monkeypatch):
    monkeypatch.setattr(state, "MAX_WEBHOOKS", 2)
    register(hooks, "http://a.example/x")
    register(hooks, "http://b.example/x")
    with pytest.raises(state.TooMany):
        register(hooks, "http://c.example/x")


def test_the_verification_snippet_in_the_docs_works():
    """docs/EVENTS.md's receiver code, run as written against our signatures."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "EVENTS.md").read_text()
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(compile(snippet, "EVENTS.md", "exec"), scope)  # our own documentation
    body = b'{"id":"1-0"}'
    header = webhooks.signature("whsec_x", int(time.time()), body)
    assert scope["verify"]("whsec_x", header, body)
    assert not scope["verify"]("whsec_y", header, body)
    assert not scope["verify"]("whsec_x", header, body + b" ")
    assert not scope["verify"]("whsec_x", webhooks.signature("whsec_x", int(time.time()) - 400, body), body)


def test_the_lock_of_a_dead_run_expires_and_delivery_goes_on(hooks):
    with receiver() as r:
        hook = register(hooks, r.url)
        publish(hooks, 1)
        hooks.redis.set(hooks.keys.webhook_lock(hook), "a-killed-run", px=200)
        assert webhooks.deliver(hooks, hook) == 0 and r.received == []
        time.sleep(0.25)
        assert webhooks.deliver(hooks, hook) == 1
    assert hooks.redis.exists(hooks.keys.webhook_lock(hook)) == 0  # released after the run


def test_a_receiver_slower_than_the_total_timeout_is_a_failed_attempt(hooks, monkeypatch):
    monkeypatch.setattr(webhooks, "TOTAL_TIMEOUT_S", 0.3)  # 10 s in production
    with receiver() as r:
        r.delay_s = 1.0
        hook = register(hooks, r.url)
        publish(hooks, 1)
        started = time.monotonic()
        assert webhooks.deliver(hooks, hook) == 0
        assert time.monotonic() - started < 0.9
    [entry] = state.deliveries(hooks, hook, 1)
    assert (entry["status"], entry["statusCode"]) == ("retrying", None)
    assert "Timeout" in entry["lastError"]


def test_https_checks_the_certificate_for_the_urls_host_not_the_address(hooks, monkeypatch, tmp_path):
    """An https receiver whose certificate names only webhooks.example, reached at
    127.0.0.1: refused while its CA is unknown, delivered once it is trusted (the
    certificate is checked for the URL's host, although the connection is to the IP)."""
    ca = Ca.create()
    key, cert = ca.issue("webhooks.example", server=True, hosts=("webhooks.example",))
    (tmp_path / "server.pem").write_bytes(cert_pem(cert) + key_pem(key))
    (tmp_path / "ca.pem").write_bytes(cert_pem(ca.cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "server.pem")
    real = socket.getaddrinfo
    with receiver() as r:
        r.server.socket = context.wrap_socket(r.server.socket, server_side=True)
        port = r.server.server_address[1]

        def getaddrinfo(host, *args, **kwargs):
            if host != "webhooks.example":
                return real(host, *args, **kwargs)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        hook = register(hooks, f"https://webhooks.example:{port}/hook")
        publish(hooks, 1)
        assert webhooks.deliver(hooks, hook) == 0
        assert "CERTIFICATE_VERIFY_FAILED" in state.deliveries(hooks, hook, 1)[0]["lastError"]
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        time.sleep(0.25)  # the hooks fixture's 0.2 s backoff
        assert webhooks.deliver(hooks, hook) == 1
    assert [g.headers["Host"] for g in r.received] == [f"webhooks.example:{port}"]
