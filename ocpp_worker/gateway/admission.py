"""Who may open a WebSocket: the handshake checks of OCPP 1.6 security profiles 0-3
(OCPP 1.6 security whitepaper; docs/SECURITY.md).

`Gateway.process_request` asks `Admission.check` about every handshake whose path
holds a valid charger id, before any frame is read. In this order:

1. the registration record (`state.registrations`): with ``OCPP_REGISTRATION=closed``
   an unknown id gets 404; a registered but disabled charger gets 403 in either mode.
   In open mode an unknown id is admitted as profile 0 (the quickstart);
2. the transport: a charger registered for profile 2 or 3 on plain ``ws://`` gets 403;
3. profiles 1 and 2: ``Authorization: Basic`` with user = the charger id and password
   = its AuthorizationKey (or the key of a pending rotation), else 401 with
   ``WWW-Authenticate: Basic realm="OCPP", charset="UTF-8"``;
4. profile 3: the TLS client certificate (verified against ``OCPP_TLS_CA`` by the TLS
   layer, `gateway.tls`) must carry a subject CN equal to the charger id, else 403.

A refusal writes nothing but its security event on the charger (`registrations.
record_refusal_async`) and a counter by reason, and is logged: never with the
password or the Authorization header. A Redis error fails closed (503). The
decisions are the plain functions below; `Admission` only fetches what they need.
"""

from __future__ import annotations

import base64
import binascii
import http
import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from ocpp_worker import metrics
from ocpp_worker.gateway.key_checks import KeyChecks
from ocpp_worker.state import registrations
from ocpp_worker.state.keys import Keys
from ocpp_worker.state.registrations import GatewayEvent, Registration

log = logging.getLogger(__name__)

WWW_AUTHENTICATE = 'Basic realm="OCPP", charset="UTF-8"'
# An id of up to 48 characters and a key of up to 40, base64-encoded, fit in ~130
# bytes; anything much longer is not a charger's header.
MAX_AUTHORIZATION_CHARS = 512
RETRY_AFTER_S = 30
INVALID_ID = "InvalidChargePointId"  # a refusal reason without an event (no charger to file it under)
BUSY = "Busy"
UNAVAILABLE = "Unavailable"


@dataclass(frozen=True)
class Refusal:
    """An HTTP answer instead of the WebSocket: `reason` names the security event and
    the counter; `detail` is for the log and the event (never a secret); `body` is what
    the client reads."""

    status: http.HTTPStatus
    reason: str
    detail: str
    body: str
    headers: tuple[tuple[str, str], ...] = ()


def _unauthorized(reason: str, detail: str) -> Refusal:
    return Refusal(
        http.HTTPStatus.UNAUTHORIZED,
        reason,
        detail,
        "HTTP Basic authentication with the charge point id and its AuthorizationKey required\n",
        (("WWW-Authenticate", WWW_AUTHENTICATE),),
    )


WRONG_KEY = _unauthorized(GatewayEvent.INVALID_BASIC_AUTH, "wrong charge point id or AuthorizationKey")
NO_KEY_SET = _unauthorized(GatewayEvent.INVALID_BASIC_AUTH, "the charge point has no AuthorizationKey set")
TOO_BUSY = Refusal(
    http.HTTPStatus.SERVICE_UNAVAILABLE,
    BUSY,
    "too many AuthorizationKey checks waiting",
    "busy: retry later\n",
    (("Retry-After", str(RETRY_AFTER_S)),),
)
BAD_ID = Refusal(
    http.HTTPStatus.BAD_REQUEST,
    INVALID_ID,
    "not a valid charge point id",
    "a charge point id is 1-48 characters of a-z A-Z 0-9 * - _ = : + | @ .\n",
)
NO_STATE = Refusal(
    http.HTTPStatus.SERVICE_UNAVAILABLE,
    UNAVAILABLE,
    "the registration could not be read (Redis)",
    "temporarily unavailable: retry later\n",
    (("Retry-After", str(RETRY_AFTER_S)),),
)


def registration_refusal(policy: str, record: Registration | None) -> Refusal | None:
    """Step 1: unknown ids under closed registration (404), disabled chargers (403)."""
    if record is None:
        if policy == "closed":
            return Refusal(
                http.HTTPStatus.NOT_FOUND,
                GatewayEvent.UNKNOWN_CHARGE_POINT,
                "not a registered charge point (OCPP_REGISTRATION=closed)",
                "unknown charge point\n",
            )
        return None
    if not record.enabled:
        return Refusal(
            http.HTTPStatus.FORBIDDEN,
            GatewayEvent.DISABLED_CHARGE_POINT,
            "the charge point's registration is disabled",
            "charge point disabled\n",
        )
    return None


def transport_refusal(profile: int, over_tls: bool) -> Refusal | None:
    """Step 2: profiles 2 and 3 need TLS.

    403, not 426 Upgrade Required: 426 asks the client to switch protocols on this
    connection through an ``Upgrade`` header, and no charger (no WebSocket client) can
    start TLS inside an HTTP/1.1 connection; it must open a new one to ``wss://``. The
    charger is refused by policy, which is what 403 says. TLS terminated in front of the
    gateway counts as plain: the gateway trusts no forwarded header for it. The charger
    may have sent its key in clear by now, so the event says so.
    """
    if profile >= 2 and not over_tls:
        return Refusal(
            http.HTTPStatus.FORBIDDEN,
            GatewayEvent.PLAIN_CONNECTION_REFUSED,
            f"security profile {profile} requires TLS; the charge point connected on plain ws://"
            " (any AuthorizationKey it sent crossed the network in clear: consider rotating it)",
            "this charge point must connect with wss://\n",
        )
    return None


def basic_password(authorizations: Sequence[str], cp_id: str) -> str | Refusal:
    """Step 3, parsing: the password of the one ``Authorization: Basic`` header whose
    user is `cp_id`, or the 401. Defensive: several headers, another scheme, an
    oversize value, bad base64, non-UTF-8, no colon, another user, an empty password
    are all a 401, never an exception.

    The user is matched as the prefix ``{cp_id}:``, not split at the first colon,
    because a charger id may itself hold a colon (RFC 7617 forbids it in a user-id; the
    id is known from the path, so there is no ambiguity)."""
    if not authorizations:
        return _unauthorized(GatewayEvent.MISSING_BASIC_AUTH, "no Authorization header")
    if len(authorizations) > 1:
        return _unauthorized(GatewayEvent.INVALID_BASIC_AUTH, "several Authorization headers")
    value = authorizations[0].strip()
    if len(value) > MAX_AUTHORIZATION_CHARS:
        return _unauthorized(GatewayEvent.INVALID_BASIC_AUTH, "oversize Authorization header")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return _unauthorized(GatewayEvent.INVALID_BASIC_AUTH, "Authorization is not Basic")
    try:
        credentials = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        return _unauthorized(GatewayEvent.INVALID_BASIC_AUTH, "malformed Basic credentials")
    user = f"{cp_id}:"
    if not credentials.startswith(user):
        return _unauthorized(GatewayEvent.INVALID_BASIC_AUTH, "Basic user is not the charge point id")
    password = credentials[len(user) :]
    if not password:
        return _unauthorized(GatewayEvent.INVALID_BASIC_AUTH, "empty password")
    return password


def common_names(peercert: Mapping[str, Any] | None) -> list[str]:
    """The subject CNs of a certificate as `ssl.SSLSocket.getpeercert()` gives it."""
    subject = (peercert or {}).get("subject") or ()
    return [value for rdn in subject for name, value in rdn if name == "commonName"]


def certificate_refusal(peercert: Mapping[str, Any] | None, cp_id: str) -> Refusal | None:
    """Step 4: exactly one subject CN, equal to the charger id. (An empty `peercert`:
    no certificate was sent, or none was requested because OCPP_TLS_CA is not set.)"""
    names = common_names(peercert)
    if names == [cp_id]:
        return None
    if not peercert:
        detail = "no client certificate (security profile 3; is OCPP_TLS_CA set?)"
    else:
        shown = ", ".join(repr(name[:64]) for name in names[:3]) or "none"
        detail = f"client certificate subject CN {shown} is not the charge point id"
    return Refusal(http.HTTPStatus.FORBIDDEN, GatewayEvent.INVALID_CLIENT_CERTIFICATE, detail, "forbidden\n")


def peer_certificate(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> dict[str, Any] | None:
    if ssl_object is None:
        return None
    return dict(ssl_object.getpeercert() or {})


class Admission:
    """Step by step, for one gateway: reads the record (its asyncio Redis client),
    checks keys through `key_checks`, records refusals."""

    def __init__(self, redis: Any, keys: Keys, policy: str, key_checks: KeyChecks) -> None:
        self.redis = redis
        self.keys = keys
        self.policy = policy
        self.key_checks = key_checks

    async def check(
        self, cp_id: str, authorizations: Sequence[str], ssl_object: Any, remote: str
    ) -> Refusal | None:
        """None to admit the charger, else the refusal (already logged and recorded)."""
        try:
            record = await registrations.get_async(self.redis, self.keys, cp_id)
        except RedisError:
            return await self.refuse(NO_STATE, cp_id, remote, record=None)
        refusal = await self._decide(cp_id, record, authorizations, ssl_object)
        return None if refusal is None else await self.refuse(refusal, cp_id, remote, record)

    async def _decide(
        self, cp_id: str, record: Registration | None, authorizations: Sequence[str], ssl_object: Any
    ) -> Refusal | None:
        refused = registration_refusal(self.policy, record)
        if refused is not None or record is None:
            return refused
        profile = record.security_profile
        refused = transport_refusal(profile, ssl_object is not None)
        if refused is not None or profile == 0:
            return refused
        if profile == 3:
            return certificate_refusal(peer_certificate(ssl_object), cp_id)
        password = basic_password(authorizations, cp_id)
        if isinstance(password, Refusal):
            return password
        if not record.has_key:
            return NO_KEY_SET
        try:
            ok = await self.key_checks.check(cp_id, record.key_version, password)
        except RedisError:
            return NO_STATE
        if ok is None:
            return TOO_BUSY
        return None if ok else WRONG_KEY

    async def refuse(
        self, refusal: Refusal, cp_id: str, remote: str, record: Registration | None, *, valid_id: bool = True
    ) -> Refusal:
        """Log and record a refusal: counted by reason (in Redis and in the metrics), and
        an event of the charger when its id is valid (an invalid one is only logged,
        escaped and cut)."""
        log.warning(
            "refused the handshake of %r from %s: %d %s: %s",
            cp_id[:64],
            remote,
            refusal.status,
            refusal.reason,
            refusal.detail,
            extra={"charger_id": cp_id[:64], "outcome": "refused", "reason": refusal.reason},
        )
        metrics.gateway().refused(refusal.reason)
        if refusal.reason == UNAVAILABLE:
            return refusal  # Redis is what failed
        filed_under = cp_id if valid_id and refusal.reason != BUSY else None
        try:
            await registrations.record_refusal_async(
                self.redis,
                self.keys,
                refusal.reason,
                filed_under,
                f"{refusal.detail} (from {remote})",
                registered=record is not None,
            )
        except RedisError:
            log.warning("could not record the refusal of %r (Redis)", cp_id[:64])
        return refusal
