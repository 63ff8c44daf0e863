"""The CSMS certificate authority: checks a charger's certificate signing request and
signs it (OCPP 1.6 security extension, SignCertificate → CertificateSigned).

A charger on security profile 3 proves who it is with a client certificate whose
subject CN is its id. When the operator gives the central system a CA
(``OCPP_CA_CERT`` / ``OCPP_CA_KEY``), a charger can renew that certificate by itself:
it sends a CSR, we check that it asks for nothing but a certificate in its own name
with a key worth certifying, and sign it for client authentication only. What we
sign is the charger's login to every gateway that trusts this CA (``OCPP_TLS_CA``),
so a CSR is refused, not repaired, when anything is off. Pure functions, no I/O but
reading the CA files once per process.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocpp_worker.config import Settings

VALIDITY = datetime.timedelta(days=365)
BACKDATE = datetime.timedelta(minutes=5)  # chargers' clocks run a little behind
MIN_RSA_BITS = 2048
CURVES = ("secp256r1", "secp384r1")  # P-256, P-384
# CertificateSigned.req's certificateChain holds at most 10,000 characters: the CA's
# chain must leave room for the charger's certificate (~1,000 with an RSA-4096 key).
MAX_CHAIN_CHARS = 10_000
LEAF_ROOM_CHARS = 2_500

CaKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class CsrRejected(ValueError):
    """The CSR is not one we sign; the message says why (kept with the security event)."""


class CaConfigError(ValueError):
    """``OCPP_CA_CERT`` / ``OCPP_CA_KEY`` cannot sign; the message says which and why."""


@dataclass(frozen=True)
class Authority:
    """The signing CA: its certificate and key, and the PEM chain sent with every
    certificate (the CA certificate and any intermediates in ``OCPP_CA_CERT``)."""

    cert: x509.Certificate
    key: CaKey
    chain_pem: str


def configured(settings: Settings) -> bool:
    return bool(settings.ca_cert or settings.ca_key)


def authority(settings: Settings) -> Authority | None:
    """The CA of these settings (None: CSRs wait for the operator), loaded once per
    process; `CaConfigError` when it is set but unusable."""
    if not configured(settings):
        return None
    if not (settings.ca_cert and settings.ca_key):
        missing = "OCPP_CA_KEY" if settings.ca_cert else "OCPP_CA_CERT"
        raise CaConfigError(f"OCPP_CA_CERT and OCPP_CA_KEY go together: {missing} is not set")
    return _load(settings.ca_cert, settings.ca_key)


def _read(variable: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CaConfigError(f"{variable}={path}: cannot be read ({exc.strerror})") from None


@lru_cache(maxsize=4)
def _load(cert_path: str, key_path: str) -> Authority:
    cert_pem, key_pem = _read("OCPP_CA_CERT", cert_path), _read("OCPP_CA_KEY", key_path)
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise CaConfigError(f"OCPP_CA_CERT={cert_path}: not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise CaConfigError(
            f"OCPP_CA_KEY={key_path}: encrypted; give the workers an unencrypted key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise CaConfigError(f"OCPP_CA_KEY={key_path}: not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CaConfigError(f"OCPP_CA_KEY={key_path}: an RSA or EC key is needed")
    cert = chain[0]
    if cert.public_key() != key.public_key():
        raise CaConfigError(f"OCPP_CA_KEY={key_path} is not the key of the first certificate in {cert_path}")
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise CaConfigError(f"OCPP_CA_CERT={cert_path}: not a CA certificate (basicConstraints CA:TRUE)")
    chain_pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)
    if len(chain_pem) > MAX_CHAIN_CHARS - LEAF_ROOM_CHARS:
        raise CaConfigError(
            f"OCPP_CA_CERT={cert_path}: a {len(chain_pem)}-character chain leaves no room for the "
            f"charger's certificate in CertificateSigned ({MAX_CHAIN_CHARS} characters)"
        )
    return Authority(cert, key, chain_pem)


def check_csr(pem: str, cp_id: str) -> x509.CertificateSigningRequest:
    """The CSR, if it is one we sign for charger `cp_id`: well-formed PEM, signed by its
    own key (the charger holds it), subject CN exactly the charger id, and an RSA key of
    at least 2048 bits or an EC key on P-256 or P-384."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError:
        raise CsrRejected("not a PEM certificate signing request") from None
    try:
        signed = csr.is_signature_valid
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise CsrRejected("its public key or signature cannot be read") from None
    if not signed:
        raise CsrRejected("its signature does not verify")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or names[0].value != cp_id:
        found = ", ".join(repr(n.value) for n in names) or "none"
        raise CsrRejected(f"its subject CN must be the charge point id {cp_id!r} (found {found})"[:300])
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CsrRejected(f"an RSA key of {key.key_size} bits (at least {MIN_RSA_BITS})")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in CURVES:
            raise CsrRejected(f"an EC key on {key.curve.name} (P-256 or P-384 only)")
    else:
        raise CsrRejected("its key is neither RSA nor EC")
    return csr


def sign(ca: Authority, csr: x509.CertificateSigningRequest, now: datetime.datetime) -> x509.Certificate:
    """A client certificate for a checked CSR: its subject and key, a random serial,
    valid for `VALIDITY` (never past the CA's own end), not a CA, usable for TLS client
    authentication only."""
    not_after = min(now + VALIDITY, ca.cert.not_valid_after_utc)
    key_usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=True,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    public_key = csr.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )


def chain(ca: Authority, cert: x509.Certificate) -> str:
    """CertificateSigned's certificateChain: the charger's certificate, then the CA's chain."""
    return cert.public_bytes(serialization.Encoding.PEM).decode() + ca.chain_pem
