"""The gateway's TLS: the server side of OCPP 1.6 security profiles 2 and 3.

With ``OCPP_TLS_CERT`` and ``OCPP_TLS_KEY`` the gateway serves ``wss://`` only; with
``OCPP_TLS_CA`` as well it also asks every charger for a client certificate. The
settings follow the OCPP 1.6 Security Whitepaper (edition 3, "TLS"): TLS 1.2 or
later, and for TLS 1.2 only the four cipher suites the whitepaper makes a Central
System support (a charger supports the ECDSA pair or the RSA pair), so no charger
and no scanner can talk us down to CBC, SHA-1 or export suites. TLS 1.3 keeps
OpenSSL's suites (all AEAD, all with forward secrecy): the whitepaper allows later
versions, and a charger that offers 1.3 gets it. Note that the whitepaper's RSA
suites have no forward secrecy under TLS 1.2: an ECDSA (P-256) server certificate
gives every 1.2 charger ECDHE.

Every file is read here, once, at startup: a missing or unreadable file, a key that
is not the certificate's, or an encrypted key makes `TlsConfigError` with the
variable and the reason, rather than a traceback when the first charger connects
(or a gateway waiting on a passphrase prompt).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from ocpp_worker.config import Settings

# OCPP 1.6 Security Whitepaper: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
# TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_RSA_WITH_AES_128_GCM_SHA256,
# TLS_RSA_WITH_AES_256_GCM_SHA384, in OpenSSL's names (ECDHE first: we prefer them).
WHITEPAPER_TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
)


class TlsConfigError(ValueError):
    """The TLS settings cannot make a working server context; the message says which
    variable and why."""


def enabled(settings: Settings) -> bool:
    return bool(settings.tls_cert or settings.tls_key)


def _readable(variable: str, path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise TlsConfigError(f"{variable}={path}: no such file")
    try:
        with file.open("rb"):
            pass
    except OSError as exc:
        raise TlsConfigError(f"{variable}={path}: cannot be read ({exc.strerror})") from None
    return path


def _no_passphrase() -> str:
    raise TlsConfigError("OCPP_TLS_KEY is encrypted: give the gateway an unencrypted key file")


def server_context(settings: Settings) -> ssl.SSLContext | None:
    """The context `serve(ssl=...)` takes, or None to serve plain ``ws://``.

    With ``OCPP_TLS_CA`` the client certificate is requested and verified against that
    CA bundle, but with ``CERT_OPTIONAL``, not ``CERT_REQUIRED``: profile-2 chargers
    (TLS with Basic auth) have no certificate and share the port with profile-3 ones,
    so the TLS layer refuses only a certificate that does not verify (unknown CA,
    expired, not a client certificate); whether a charger needed one, and whether its
    subject CN is its id, is decided per charger when the WebSocket handshake comes
    (`gateway.admission`).
    """
    if not enabled(settings):
        if settings.tls_ca:
            raise TlsConfigError("OCPP_TLS_CA is set but OCPP_TLS_CERT / OCPP_TLS_KEY are not")
        return None
    if not (settings.tls_cert and settings.tls_key):
        missing = "OCPP_TLS_KEY" if settings.tls_cert else "OCPP_TLS_CERT"
        raise TlsConfigError(f"OCPP_TLS_CERT and OCPP_TLS_KEY go together: {missing} is not set")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(":".join(WHITEPAPER_TLS12_CIPHERS))
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    cert = _readable("OCPP_TLS_CERT", settings.tls_cert)
    key = _readable("OCPP_TLS_KEY", settings.tls_key)
    try:
        context.load_cert_chain(cert, key, password=_no_passphrase)
    except ssl.SSLError as exc:
        raise TlsConfigError(
            f"OCPP_TLS_CERT={cert} / OCPP_TLS_KEY={key}: not a PEM certificate and its private key "
            f"({exc.reason or exc})"
        ) from None
    if settings.tls_ca:
        ca = _readable("OCPP_TLS_CA", settings.tls_ca)
        try:
            context.load_verify_locations(cafile=ca)
        except ssl.SSLError as exc:
            raise TlsConfigError(f"OCPP_TLS_CA={ca}: not a PEM CA bundle ({exc.reason or exc})") from None
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
