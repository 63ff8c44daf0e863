"""The simulator's connection options for each security profile."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest

from ocpp_worker import simulate
from tests.support import pki


def test_plain_without_credentials():
    assert simulate.connect_options("ws://h/ocpp/CP1", "CP1") == {"subprotocols": ["ocpp1.6"]}


def test_password_is_basic_auth_with_the_charger_id():
    options = simulate.connect_options("ws://h/ocpp/CP1", "CP1", password="0123456789abcdef:x")
    scheme, token = options["additional_headers"]["Authorization"].split()
    assert scheme == "Basic"
    assert base64.b64decode(token).decode() == "CP1:0123456789abcdef:x"


def test_wss_verifies_the_gateway_and_presents_a_client_certificate(tmp_path: Path):
    ca = pki.Ca.create()
    files = pki.Files(tmp_path)
    cafile = files.write("ca.crt", pki.cert_pem(ca.cert))
    cert, key = files.cert_and_key("cp", *ca.issue("CP1"))
    options = simulate.connect_options("wss://h/ocpp/CP1", "CP1", cafile=cafile, cert=cert, key=key)
    context = options["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(
    ("url", "kwargs", "message"),
    [
        ("ws://h/ocpp/CP1", {"cafile": "ca.crt"}, "need a wss:// URL"),
        ("wss://h/ocpp/CP1", {"cert": "cp.crt"}, "go together"),
    ],
)
def test_inconsistent_options(url, kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate.connect_options(url, "CP1", **kwargs)
