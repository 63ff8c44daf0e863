"""Security profiles 2 and 3 end to end: a gateway serving wss:// with a server
certificate and a charger CA made here (`tests.support.pki`), on the session's key
prefix (its bridge and worker answer), with closed registration. The chargers are the
`ocpp` package's ChargePoint over websockets with ``ssl=`` (and the auth header).

* profile 2: TLS + Basic auth served; wrong key 401; refused on plain ws://;
* profile 3: a client certificate from the charger CA whose CN is the id is served;
  wrong CN and no certificate are refused (403); a certificate from another CA fails
  the TLS handshake itself;
* the TLS layer: 1.2+ only, and for 1.2 the whitepaper's suites only;
* the simulator connects with --cafile/--cert/--key and with --password.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from ocpp_worker.gateway.tls import WHITEPAPER_TLS12_CIPHERS
from ocpp_worker.state import chargepoints, registrations
from ocpp_worker.state.store import Store
from tests.support import pki
from tests.support.chargers import basic, plain_charger
from tests.support.stack import ROOT, Stack

KEY = "tls-key-0123456789abcdef"


@dataclass
class Pki:
    ca_file: str
    files: pki.Files
    ca: pki.Ca
    stranger: pki.Ca  # a CA the gateway does not trust

    def client(self, cn: str, ca: pki.Ca | None = None) -> tuple[str, str]:
        """A client certificate and key file for CN `cn`, from the charger CA (or `ca`)."""
        key, cert = (ca or self.ca).issue(cn)
        return self.files.cert_and_key(f"client-{uuid.uuid4().hex[:8]}", key, cert)


@pytest.fixture(scope="module")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    files = pki.Files(tmp_path_factory.mktemp("pki"))
    ca = pki.Ca.create("Test charger and server CA")
    return Pki(files.write("ca.crt", pki.cert_pem(ca.cert)), files, ca, pki.Ca.create("Stranger CA"))


@pytest.fixture(scope="module")
def tls_gateway(stack: Stack, test_pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    server_cert, server_key = test_pki.files.cert_and_key(
        "server", *test_pki.ca.issue("localhost", server=True)
    )
    env = {
        "OCPP_TLS_CERT": server_cert,
        "OCPP_TLS_KEY": server_key,
        "OCPP_TLS_CA": test_pki.ca_file,
        "OCPP_REGISTRATION": "closed",
    }
    gateway = Stack(
        stack.prefix,
        Path(tmp_path_factory.mktemp("tls-gateway")),
        extra_env=env,
        tls_client=ssl.create_default_context(cafile=test_pki.ca_file),
    )
    try:
        gateway.start_gateway()
        yield gateway
    finally:
        gateway.stop()


def client_context(test_pki: Pki, cert: tuple[str, str] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=test_pki.ca_file)
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


async def served(
    url: str, cp_id: str, context: ssl.SSLContext | None, headers: dict[str, str] | None = None
) -> None:
    async with plain_charger(url, cp_id, headers, context) as cp:
        boot = await cp.call(call.BootNotification(charge_point_vendor="Test", charge_point_model="TLS"))
        assert boot.status == "Accepted"
        await cp.call(call.Heartbeat())


async def refused(
    url: str, cp_id: str, context: ssl.SSLContext | None, headers: dict[str, str] | None = None
) -> int:
    with pytest.raises(InvalidStatus) as caught:
        async with plain_charger(url, cp_id, headers, context):
            pass
    return caught.value.response.status_code


def register(store: Store, cp_id: str, profile: int, key: str | None = None) -> None:
    registrations.put(store, store.keys, cp_id, security_profile=profile)
    if key is not None:
        registrations.set_key(store, store.keys, cp_id, key)


def kinds(store: Store, cp_id: str) -> list[str]:
    return [event.kind for event in registrations.events_page(store, store.keys, cp_id, 50)]


def never_connected(store: Store, cp_id: str) -> bool:
    return chargepoints.get(store, cp_id) is None and chargepoints.registration(store, cp_id) is None


# -- profile 2: TLS + Basic auth --------------------------------------------------------


async def test_profile_2_is_served_over_wss_with_its_key(tls_gateway, test_pki, store, cp_id):
    register(store, cp_id, 2, KEY)
    await served(tls_gateway.ws_url, cp_id, client_context(test_pki), basic(cp_id, KEY))
    assert chargepoints.get(store, cp_id)["registrationStatus"] == "Accepted"


async def test_profile_2_with_a_wrong_key_gets_401(tls_gateway, test_pki, store, cp_id):
    register(store, cp_id, 2, KEY)
    status = await refused(tls_gateway.ws_url, cp_id, client_context(test_pki), basic(cp_id, KEY[::-1]))
    assert status == 401
    assert never_connected(store, cp_id)


async def test_profile_2_is_refused_on_plain_ws(stack, store, cp_id):
    register(store, cp_id, 2, KEY)
    assert await refused(stack.ws_url, cp_id, None, basic(cp_id, KEY)) == 403
    assert kinds(store, cp_id) == ["PlainConnectionRefused"]


# -- profile 3: client certificates -----------------------------------------------------


async def test_profile_3_with_a_certificate_in_its_name_is_served(tls_gateway, test_pki, store, cp_id):
    register(store, cp_id, 3)
    await served(tls_gateway.ws_url, cp_id, client_context(test_pki, test_pki.client(cp_id)))


async def test_profile_3_with_another_chargers_certificate_is_refused(tls_gateway, test_pki, store, cp_id):
    register(store, cp_id, 3)
    context = client_context(test_pki, test_pki.client(f"{cp_id}-other"))
    assert await refused(tls_gateway.ws_url, cp_id, context) == 403
    assert kinds(store, cp_id) == ["InvalidClientCertificate"]
    assert never_connected(store, cp_id)


async def test_profile_3_without_a_certificate_is_refused(tls_gateway, test_pki, store, cp_id):
    register(store, cp_id, 3)
    assert await refused(tls_gateway.ws_url, cp_id, client_context(test_pki)) == 403
    # nor does its key (were it to have one) stand in for the certificate
    registrations.set_key(store, store.keys, cp_id, KEY)
    assert await refused(tls_gateway.ws_url, cp_id, client_context(test_pki), basic(cp_id, KEY)) == 403
    assert never_connected(store, cp_id)


async def test_a_certificate_from_an_unknown_ca_fails_the_tls_handshake(tls_gateway, test_pki, store, cp_id):
    register(store, cp_id, 3)
    context = client_context(test_pki, test_pki.client(cp_id, ca=test_pki.stranger))
    with pytest.raises((ssl.SSLError, OSError, websockets.exceptions.InvalidMessage)) as caught:
        async with plain_charger(tls_gateway.ws_url, cp_id, context=context):
            pass
    assert not isinstance(caught.value, InvalidStatus)  # no HTTP answer: TLS itself refused
    assert never_connected(store, cp_id)


# -- the TLS layer ------------------------------------------------------------------------


async def _handshake(port: int, context: ssl.SSLContext) -> tuple[str, str]:
    _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, ssl=context), 10)
    try:
        tls = writer.get_extra_info("ssl_object")
        return tls.version(), tls.cipher()[0]
    finally:
        writer.close()


async def test_tls_1_2_offers_the_whitepaper_suites_only(tls_gateway, test_pki):
    context = client_context(test_pki)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = await _handshake(tls_gateway.ws_port, context)
    assert version == "TLSv1.2" and cipher in WHITEPAPER_TLS12_CIPHERS
    # a client that offers only suites outside the whitepaper's is refused
    context.set_ciphers("ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:AES128-SHA256")
    with pytest.raises((ssl.SSLError, OSError)):
        await _handshake(tls_gateway.ws_port, context)


async def test_tls_below_1_2_is_refused_and_1_3_is_served(tls_gateway, test_pki):
    old = client_context(test_pki)
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, OSError)):
        await _handshake(tls_gateway.ws_port, old)
    assert (await _handshake(tls_gateway.ws_port, client_context(test_pki)))[0] == "TLSv1.3"


# -- the simulator ------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_the_simulator_connects_with_a_client_certificate_and_with_a_password(
    tls_gateway, test_pki, store, cp_id
):
    cert, key = test_pki.client(cp_id)
    register(store, cp_id, 3)
    password_id = f"{cp_id}-pw"
    register(store, password_id, 2, KEY)
    for cp, options in [
        (cp_id, ["--cert", cert, "--key", key]),
        (password_id, ["--password", KEY]),
    ]:
        args = ["--id", cp, "--url", tls_gateway.ws_url, "--cafile", test_pki.ca_file, "--exit", *options]
        result = subprocess.run(
            [sys.executable, "-m", "ocpp_worker.simulate", *args],
            cwd=ROOT,
            env=tls_gateway.env,
            capture_output=True,
            text=True,
            timeout=45,
        )
        assert result.returncode == 0, result.stderr
        assert f"{cp}: BootNotification Accepted" in result.stdout
    # without --cafile the test CA is unknown to the simulator: it refuses the gateway
    result = subprocess.run(
        [sys.executable, "-m", "ocpp_worker.simulate", "--id", cp_id, "--url", tls_gateway.ws_url, "--exit"],
        cwd=ROOT,
        env=tls_gateway.env,
        capture_output=True,
        text=True,
        timeout=45,
    )
    assert result.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in result.stderr
