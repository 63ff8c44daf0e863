"""The gateway's TLS context: the whitepaper's suites, TLS 1.2+, optional client
certificates, and a clear error for every bad file at startup."""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from ocpp_worker.config import Settings
from ocpp_worker.gateway import tls
from tests.support import pki


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    ca = pki.Ca.create()
    key, cert = ca.issue("localhost", server=True)
    out = pki.Files(tmp_path)
    cert_path, key_path = out.cert_and_key("server", key, cert)
    return {"cert": cert_path, "key": key_path, "ca": out.write("ca.crt", pki.cert_pem(ca.cert))}


def settings(**values: str | None) -> Settings:
    return dataclasses.replace(Settings(), **values)


def test_no_tls_settings_serve_plain_ws():
    assert tls.server_context(Settings()) is None


def test_context_is_tls12_plus_with_the_whitepaper_suites(files):
    context = tls.server_context(settings(tls_cert=files["cert"], tls_key=files["key"]))
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE
    tls12 = {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert tls12 == set(tls.WHITEPAPER_TLS12_CIPHERS)
    assert any(c["protocol"] == "TLSv1.3" for c in context.get_ciphers())


def test_a_ca_makes_client_certificates_optional_but_verified(files):
    context = tls.server_context(settings(tls_cert=files["cert"], tls_key=files["key"], tls_ca=files["ca"]))
    assert context is not None
    assert context.verify_mode == ssl.CERT_OPTIONAL
    assert context.cert_store_stats()["x509_ca"] == 1


def test_bad_settings_are_one_clear_error(files, tmp_path: Path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    other_key = pki.Files(tmp_path).write("other.key", pki.key_pem(pki.ec_key()))
    encrypted = pki.Files(tmp_path).write(
        "encrypted.key",
        pki.ec_key().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        ),
    )
    cases = [
        ({"tls_cert": files["cert"]}, "OCPP_TLS_KEY is not set"),
        ({"tls_key": files["key"]}, "OCPP_TLS_CERT is not set"),
        ({"tls_ca": files["ca"]}, "OCPP_TLS_CA is set but"),
        ({"tls_cert": str(tmp_path / "missing.crt"), "tls_key": files["key"]}, "no such file"),
        ({"tls_cert": str(garbage), "tls_key": files["key"]}, "not a PEM certificate"),
        ({"tls_cert": files["cert"], "tls_key": other_key}, "not a PEM certificate and its private key"),
        ({"tls_cert": files["cert"], "tls_key": encrypted}, "OCPP_TLS_KEY is encrypted"),
        ({"tls_cert": files["cert"], "tls_key": files["key"], "tls_ca": str(garbage)}, "not a PEM CA bundle"),
    ]
    for values, message in cases:
        with pytest.raises(tls.TlsConfigError, match=message):
            tls.server_context(settings(**values))
