"""The handshake decisions (gateway/admission.py) and the key-check cache
(gateway/key_checks.py), without a socket."""

from __future__ import annotations

import asyncio
import base64
import http
import json
import threading

import pytest
import redis.asyncio as aioredis

from ocpp_worker.gateway import admission, registry
from ocpp_worker.gateway.admission import (
    basic_password,
    certificate_refusal,
    registration_refusal,
    transport_refusal,
)
from ocpp_worker.gateway.key_checks import KeyChecks
from ocpp_worker.handlers import answer
from ocpp_worker.state import registrations
from ocpp_worker.state.registrations import Registration


def record(profile: int = 0, enabled: bool = True) -> Registration:
    return Registration("CP1", "", profile, enabled, "Accepted", "", "", False)


def header(raw: bytes | str) -> list[str]:
    data = raw.encode() if isinstance(raw, str) else raw
    return [f"Basic {base64.b64encode(data).decode()}"]


# -- registration and transport ------------------------------------------------------


def test_registration_policy():
    assert registration_refusal("closed", None).status == http.HTTPStatus.NOT_FOUND
    assert registration_refusal("closed", None).reason == "UnknownChargePoint"
    assert registration_refusal("open", None) is None
    for policy in ("open", "closed"):
        assert registration_refusal(policy, record(enabled=False)).status == http.HTTPStatus.FORBIDDEN
        assert registration_refusal(policy, record(enabled=True)) is None


@pytest.mark.parametrize(
    ("profile", "tls", "refused"),
    [
        (0, False, False),
        (1, False, False),
        (2, False, True),
        (3, False, True),
        (2, True, False),
        (3, True, False),
    ],
)
def test_profiles_2_and_3_need_tls(profile, tls, refused):
    refusal = transport_refusal(profile, tls)
    assert (refusal is not None) == refused
    if refusal:
        assert refusal.status == http.HTTPStatus.FORBIDDEN and refusal.reason == "PlainConnectionRefused"


# -- Basic credentials ----------------------------------------------------------------


def test_basic_password_of_the_charger():
    assert basic_password(header("CP1:secret-key-0123456"), "CP1") == "secret-key-0123456"
    assert basic_password([f"basic  {header('CP1:k:with:colons')[0][6:]}"], "CP1") == "k:with:colons"
    assert basic_password(header("CP:1:the-key"), "CP:1") == "the-key"  # an id with a colon


@pytest.mark.parametrize(
    ("authorizations", "reason"),
    [
        ([], "MissingBasicAuth"),
        (header("CP1:a") + header("CP1:b"), "InvalidBasicAuth"),
        (["Bearer abc"], "InvalidBasicAuth"),
        (["Basic"], "InvalidBasicAuth"),
        (["Basic !!!"], "InvalidBasicAuth"),
        (["Basic Q1AxOmtleQ"], "InvalidBasicAuth"),  # missing padding
        (["Basic Q1AxOmtle\u00e9Q=="], "InvalidBasicAuth"),  # a latin-1 byte in the header
        (header(b"CP1:\xff\xfe"), "InvalidBasicAuth"),  # not UTF-8
        (header("CP1"), "InvalidBasicAuth"),  # no colon
        (header("CP1:"), "InvalidBasicAuth"),  # empty password
        (header("CP2:key"), "InvalidBasicAuth"),  # another charger
        (header("CP10:key"), "InvalidBasicAuth"),  # a prefix of it is not the id
        (header("CP1:" + "k" * 1000), "InvalidBasicAuth"),  # oversize
        ([""], "InvalidBasicAuth"),
    ],
)
def test_bad_basic_credentials_are_401_never_an_exception(authorizations, reason):
    refusal = basic_password(authorizations, "CP1")
    assert isinstance(refusal, admission.Refusal)
    assert refusal.status == http.HTTPStatus.UNAUTHORIZED and refusal.reason == reason
    assert dict(refusal.headers)["WWW-Authenticate"] == 'Basic realm="OCPP", charset="UTF-8"'


# -- client certificates (getpeercert() dicts) --------------------------------------------


def peercert(*cns: str, issuer: str = "Test CA") -> dict:
    return {
        "subject": ((("organizationName", "Op"),), *(((("commonName", cn),)) for cn in cns)),
        "issuer": ((("commonName", issuer),),),
    }


def test_client_certificate_cn_must_be_the_charger_id():
    assert certificate_refusal(peercert("CP1"), "CP1") is None
    for cert in (peercert("CP2"), peercert("cp1"), peercert("CP1", "CP2"), peercert(issuer="CP1"), {}, None):
        refusal = certificate_refusal(cert, "CP1")
        assert refusal is not None and refusal.status == http.HTTPStatus.FORBIDDEN
        assert refusal.reason == "InvalidClientCertificate"
    assert "no client certificate" in certificate_refusal(None, "CP1").detail


# -- the key-check cache -------------------------------------------------------------------


class CountingVerify:
    """A stand-in for registrations.verify_key: `good` is the right password."""

    def __init__(self, good: str = "right-password-123", gate: threading.Event | None = None) -> None:
        self.good = good
        self.gate = gate
        self.calls: list[tuple[str, str]] = []

    def __call__(self, cp_id: str, password: str) -> bool:
        self.calls.append((cp_id, password))
        if self.gate is not None:
            assert self.gate.wait(5)
        return password == self.good


async def test_outcomes_are_remembered_per_key_version():
    verify = CountingVerify()
    checks = KeyChecks(verify, threads=1)
    try:
        assert await checks.check("CP1", "v1", "right-password-123") is True
        assert await checks.check("CP1", "v1", "right-password-123") is True
        assert await checks.check("CP1", "v1", "wrong-password-123") is False
        assert await checks.check("CP1", "v1", "wrong-password-123") is False
        assert len(verify.calls) == 2  # the repeats cost no verification
        assert await checks.check("CP1", "v2", "right-password-123") is True  # the key changed
        assert await checks.check("CP2", "v1", "right-password-123") is True  # another charger
        assert len(verify.calls) == 4
    finally:
        checks.close()


async def test_identical_checks_in_flight_are_shared_and_the_wait_is_bounded():
    gate = threading.Event()
    verify = CountingVerify(gate=gate)
    checks = KeyChecks(verify, threads=1, max_waiting=2)
    try:
        first = asyncio.ensure_future(checks.check("CP1", "v", "right-password-123"))
        again = asyncio.ensure_future(checks.check("CP1", "v", "right-password-123"))
        other = asyncio.ensure_future(checks.check("CP2", "v", "right-password-123"))
        await asyncio.sleep(0.05)
        assert await checks.check("CP3", "v", "right-password-123") is None  # two waiting already
        gate.set()
        assert await asyncio.wait_for(asyncio.gather(first, again, other), 5) == [True, True, True]
        assert sorted(cp for cp, _ in verify.calls) == ["CP1", "CP2"]
        assert await checks.check("CP3", "v", "right-password-123") is True  # room again
    finally:
        gate.set()
        checks.close()


async def test_a_handshake_giving_up_does_not_cancel_the_shared_check():
    gate = threading.Event()
    checks = KeyChecks(CountingVerify(gate=gate), threads=1)
    try:
        impatient = asyncio.ensure_future(checks.check("CP1", "v", "right-password-123"))
        await asyncio.sleep(0.05)
        impatient.cancel()
        patient = asyncio.ensure_future(checks.check("CP1", "v", "right-password-123"))
        gate.set()
        assert await asyncio.wait_for(patient, 5) is True
    finally:
        gate.set()
        checks.close()


async def test_verification_errors_reach_the_caller_and_are_not_remembered():
    attempts = []

    def flaky(cp_id: str, password: str) -> bool:
        attempts.append(cp_id)
        if len(attempts) == 1:
            raise ConnectionError("redis went away")
        return True

    checks = KeyChecks(flaky, threads=1)
    try:
        with pytest.raises(ConnectionError):
            await checks.check("CP1", "v", "right-password-123")
        assert await checks.check("CP1", "v", "right-password-123") is True
    finally:
        checks.close()


def test_passwords_are_not_kept_in_memory():
    checks = KeyChecks(CountingVerify(), threads=1)
    try:
        asyncio.run(checks.check("CP1", "v", "right-password-123"))
        assert all(b"right-password-123" not in key[2] for key in checks.accepted._entries)
    finally:
        checks.close()


# -- BootNotification for a Pending registration ---------------------------------------


BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


async def test_pending_registration_boots_pending_and_not_booted(fresh):
    registrations.put(fresh, fresh.keys, "CP1", boot_status="Pending")
    reply = json.loads(answer(fresh, "CP1", "b1", "BootNotification", BOOT))[2]
    assert (reply["status"], reply["interval"]) == ("Pending", 30)
    r = aioredis.Redis.from_url(fresh.settings.redis_url, decode_responses=True)
    try:
        assert not await registry.has_booted(r, fresh.keys, "CP1")
        registrations.put(fresh, fresh.keys, "CP1", boot_status="Accepted")
        reply = json.loads(answer(fresh, "CP1", "b2", "BootNotification", BOOT))[2]
        assert reply["status"] == "Accepted" and reply["interval"] == 300
        assert await registry.has_booted(r, fresh.keys, "CP1")
    finally:
        await r.aclose()
    # an unregistered charger (open registration) is Accepted as before
    assert json.loads(answer(fresh, "CP2", "b3", "BootNotification", BOOT))[2]["status"] == "Accepted"
