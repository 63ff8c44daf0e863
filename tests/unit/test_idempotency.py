"""Idempotency keys: the Redis record (state/idempotency.py) and the HTTP rules
(api/idempotency.py) that need no app, against the real Redis."""

from __future__ import annotations

import time

import pytest
from flask import Response

from api import idempotency as rules
from ocpp_worker.config import Settings
from ocpp_worker.state import idempotency

ANSWER = idempotency.Answer(200, [("Content-Type", "application/json")], '{"success":true,"message":"é"}')


def test_first_claim_holds_the_key_and_a_retry_replays_the_stored_answer(fresh):
    held = idempotency.claim(fresh, "d1", "fp", 5_000)
    assert isinstance(held, idempotency.Claimed)
    assert isinstance(idempotency.claim(fresh, "d1", "fp", 5_000), idempotency.InFlight)
    assert idempotency.complete(fresh, held, "fp", ANSWER, 60)
    assert idempotency.claim(fresh, "d1", "fp", 5_000) == idempotency.Replay(ANSWER)
    assert 55 <= fresh.redis.ttl(fresh.keys.idempotency("d1")) <= 60  # type: ignore[attr-defined]


def test_in_flight_says_how_long_the_lease_has_left(fresh):
    idempotency.claim(fresh, "d1", "fp", 5_000)
    waiting = idempotency.claim(fresh, "d1", "fp", 5_000)
    assert isinstance(waiting, idempotency.InFlight) and 4_000 < waiting.lease_left_ms <= 5_000


def test_another_request_with_the_key_is_a_mismatch_while_running_and_after(fresh):
    held = idempotency.claim(fresh, "d1", "fp", 5_000)
    assert isinstance(held, idempotency.Claimed)
    assert idempotency.claim(fresh, "d1", "other", 5_000) == idempotency.Mismatch()
    idempotency.complete(fresh, held, "fp", ANSWER, 60)
    assert idempotency.claim(fresh, "d1", "other", 5_000) == idempotency.Mismatch()


def test_release_frees_the_key_for_a_retry(fresh):
    held = idempotency.claim(fresh, "d1", "fp", 5_000)
    assert isinstance(held, idempotency.Claimed)
    idempotency.release(fresh, held)
    again = idempotency.claim(fresh, "d1", "fp", 5_000)
    assert isinstance(again, idempotency.Claimed) and again.token != held.token


def test_a_lease_that_ran_out_frees_the_key_and_the_late_holder_overwrites_nothing(fresh):
    """An API process killed (or stuck) mid-request blocks its key only for the lease."""
    late = idempotency.claim(fresh, "d1", "fp", 100)
    assert isinstance(late, idempotency.Claimed)
    time.sleep(0.2)
    fresh_claim = idempotency.claim(fresh, "d1", "fp", 5_000)
    assert isinstance(fresh_claim, idempotency.Claimed)
    other = idempotency.Answer(503, [], "late")
    assert not idempotency.complete(fresh, late, "fp", other, 60)  # the key is someone else's now
    idempotency.release(fresh, late)  # neither does its release free it
    assert isinstance(idempotency.claim(fresh, "d1", "fp", 5_000), idempotency.InFlight)
    assert idempotency.complete(fresh, fresh_claim, "fp", ANSWER, 60)
    assert idempotency.claim(fresh, "d1", "fp", 5_000) == idempotency.Replay(ANSWER)


def test_a_late_holder_stores_its_answer_if_nobody_took_the_key_meanwhile(fresh):
    late = idempotency.claim(fresh, "d1", "fp", 100)
    assert isinstance(late, idempotency.Claimed)
    time.sleep(0.2)
    assert idempotency.complete(fresh, late, "fp", ANSWER, 60)
    assert idempotency.claim(fresh, "d1", "fp", 5_000) == idempotency.Replay(ANSWER)


def test_keys_are_named_under_the_prefix(fresh):
    assert fresh.keys.idempotency("ab" * 32) == f"{fresh.keys.prefix}api:idempotency:{'ab' * 32}"


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("a", True),
        ("x" * 255, True),
        ("with space and ~!@#$%^&*()", True),
        ("", False),
        ("x" * 256, False),
        ("tab\tinside", False),
        ("caf\u00e9", False),  # latin-1 as WSGI decodes a header: not ASCII
        ("\x7f", False),
        ("line\nbreak", False),
    ],
)
def test_key_rules(key, ok):
    assert (rules.key_problem(key) is None) is ok


def test_the_record_name_separates_callers_and_keys():
    assert rules.record_digest("Bearer A", "k") != rules.record_digest("Bearer B", "k")
    assert rules.record_digest(None, "k") != rules.record_digest("Bearer A", "k")
    assert rules.record_digest("Bearer A", "k") == rules.record_digest(" Bearer A ", "k")
    assert rules.record_digest("Bearer A", "k1") != rules.record_digest("Bearer A", "k2")


def test_the_fingerprint_covers_method_path_query_and_body():
    base = rules.fingerprint("POST", "/api/v1/x", b"a=1", b"{}")
    assert base == rules.fingerprint("POST", "/api/v1/x", b"a=1", b"{}")
    others = [
        rules.fingerprint("PUT", "/api/v1/x", b"a=1", b"{}"),
        rules.fingerprint("POST", "/api/v1/y", b"a=1", b"{}"),
        rules.fingerprint("POST", "/api/v1/x", b"a=2", b"{}"),
        rules.fingerprint("POST", "/api/v1/x", b"a=1", b"{ }"),
        rules.fingerprint("POST", "/api/v1/x", b"", b"a=1{}"),  # no two splits collide
    ]
    assert base not in others and len(set(others)) == len(others)


@pytest.mark.parametrize(
    ("status", "kept"),
    [
        *[(status, True) for status in (200, 201, 204, 400, 404, 422)],
        *[(status, False) for status in (408, 409, 429, 500, 502, 503)],
    ],
)
def test_which_statuses_are_kept(status, kept):
    assert rules.storable(Response(b'{"x":1}', status=status)) is kept


def test_large_and_streamed_answers_are_not_kept():
    assert rules.storable(Response(b"x" * rules.MAX_STORED_BODY))
    assert not rules.storable(Response(b"x" * (rules.MAX_STORED_BODY + 1)))
    assert not rules.storable(Response(iter([b"a", b"b"])))


def test_the_lease_outlasts_two_calls():
    assert rules.lease_ms(10) == 30_000
    assert rules.lease_ms(Settings().call_timeout) > 2 * Settings().call_timeout * 1000


def test_idempotency_hours_setting():
    assert Settings.from_env({}).idempotency_hours == 24
    assert Settings.from_env({"OCPP_IDEMPOTENCY_HOURS": "0.5"}).idempotency_hours == 0.5
    for bad in ("0", "-1", "inf", "nan"):
        with pytest.raises(ValueError, match="OCPP_IDEMPOTENCY_HOURS"):
            Settings.from_env({"OCPP_IDEMPOTENCY_HOURS": bad})
