"""The CSMS CA: which CSRs it signs, what it signs them into, and the CA files it refuses."""

from __future__ import annotations

import base64
import dataclasses
import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocpp_worker import certificates
from ocpp_worker.config import Settings
from tests.support import pki

CP = "CP-cert-1"


@pytest.fixture(scope="module")
def ca() -> pki.Ca:
    return pki.Ca.create("CSMS CA")


@pytest.fixture
def authority(ca: pki.Ca, tmp_path: Path) -> certificates.Authority:
    cert, key = pki.Files(tmp_path).cert_and_key("ca", ca.key, ca.cert)
    loaded = certificates.authority(dataclasses.replace(Settings(), ca_cert=cert, ca_key=key))
    assert loaded is not None
    return loaded


def test_a_good_csr_is_signed_into_a_client_certificate_of_the_ca(ca, authority):
    now = datetime.datetime.now(datetime.UTC)
    csr = certificates.check_csr(pki.csr_pem(CP), CP)
    cert = certificates.sign(authority, csr, now)
    cert.verify_directly_issued_by(ca.cert)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CP
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_agreement and not usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc
    # one year, but never past the CA's own end (the test CA lives two days)
    assert cert.not_valid_after_utc == min(now + certificates.VALIDITY, ca.cert.not_valid_after_utc)
    chain = x509.load_pem_x509_certificates(certificates.chain(authority, cert).encode())
    assert chain == [cert, ca.cert]
    assert len(certificates.chain(authority, cert)) <= certificates.MAX_CHAIN_CHARS


def test_two_signatures_have_different_serials(authority):
    csr = certificates.check_csr(pki.csr_pem(CP), CP)
    now = datetime.datetime.now(datetime.UTC)
    assert (
        certificates.sign(authority, csr, now).serial_number
        != certificates.sign(authority, csr, now).serial_number
    )


def test_accepted_keys():
    for key in (rsa.generate_private_key(65537, 2048), ec.generate_private_key(ec.SECP384R1())):
        certificates.check_csr(pki.csr_pem(CP, key), CP)


def _tampered(pem: str) -> str:
    der = bytearray(x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0xFF  # inside the signature
    body = base64.encodebytes(bytes(der)).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


def _csr_with_names(*cns: str) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn) for cn in cns])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(pki.ec_key(), hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _ed25519_csr() -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CP)])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name)
        .sign(ed25519.Ed25519PrivateKey.generate(), None)
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: "not a csr", "not a PEM certificate signing request"),
        (lambda: pki.csr_pem(CP)[:200], "not a PEM certificate signing request"),
        (lambda: _tampered(pki.csr_pem(CP)), "signature does not verify"),
        (lambda: pki.csr_pem("CP-other"), "subject CN must be the charge point id"),
        (lambda: pki.csr_pem(CP.lower()), "subject CN must be the charge point id"),
        (lambda: _csr_with_names(CP, CP), "subject CN must be the charge point id"),
        (lambda: _csr_with_names(), "found none"),
        (lambda: pki.csr_pem(CP, rsa.generate_private_key(65537, 1024)), "RSA key of 1024 bits"),
        (lambda: pki.csr_pem(CP, ec.generate_private_key(ec.SECP521R1())), "secp521r1"),
        (lambda: _ed25519_csr(), "neither RSA nor EC"),
    ],
)
def test_refused_csrs(make, reason):
    with pytest.raises(certificates.CsrRejected, match=reason):
        certificates.check_csr(make(), CP)


def test_no_ca_configured_means_none():
    assert certificates.authority(Settings()) is None


def test_unusable_ca_settings_are_one_clear_error(ca: pki.Ca, tmp_path: Path):
    files = pki.Files(tmp_path)
    cert, key = files.cert_and_key("ca", ca.key, ca.cert)
    leaf_key, leaf = ca.issue("not-a-ca")
    leaf_cert, leaf_key_path = files.cert_and_key("leaf", leaf_key, leaf)
    encrypted = files.write(
        "encrypted.key",
        ca.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        ),
    )
    garbage = files.write("garbage.pem", b"garbage\n")
    cases = [
        ({"ca_cert": cert}, "OCPP_CA_KEY is not set"),
        ({"ca_key": key}, "OCPP_CA_CERT is not set"),
        ({"ca_cert": str(tmp_path / "missing"), "ca_key": key}, "cannot be read"),
        ({"ca_cert": garbage, "ca_key": key}, "not a PEM certificate"),
        ({"ca_cert": cert, "ca_key": garbage}, "not a PEM private key"),
        ({"ca_cert": cert, "ca_key": encrypted}, "encrypted"),
        ({"ca_cert": cert, "ca_key": leaf_key_path}, "is not the key of the first certificate"),
        ({"ca_cert": leaf_cert, "ca_key": leaf_key_path}, "not a CA certificate"),
    ]
    for values, message in cases:
        with pytest.raises(certificates.CaConfigError, match=message):
            certificates.authority(dataclasses.replace(Settings(), **values))
