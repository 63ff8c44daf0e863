"""Process settings, read once from the environment, here and nowhere else.

Every process (gateway, bridge, worker, API) builds its `Settings` the same way, so
one set of environment variables configures a whole deployment. README.md lists them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

from ocpp_worker.protocol import identity


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _address(value: str) -> str:
    """``host:port`` from ``host[:port]`` or a ``redis://host:port[/db]`` URL."""
    parts = urlsplit(value if "//" in value else f"//{value}")
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"  # IPv6
    return f"{host}:{parts.port or 6379}"


REGISTRATION_POLICIES = ("open", "closed")


LOG_FORMATS = ("json", "text")


def _log_format(value: str | None) -> str | None:
    """LOG_FORMAT: json or text; unset: None (`logs` picks by whether stderr is a terminal)."""
    chosen = (value or "").strip().lower()
    if chosen and chosen not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be json or text, not {value!r}")
    return chosen or None


def _registration(value: str | None) -> str:
    policy = (value or "open").strip().lower()
    if policy not in REGISTRATION_POLICIES:
        raise ValueError(f"OCPP_REGISTRATION must be open or closed, not {value!r}")
    return policy


@dataclass(frozen=True)
class Settings:
    # Redis, shared by every process
    redis_addr: str = "localhost:6379"  # host:port ([v6]:port for IPv6)
    redis_username: str | None = None  # Redis 6 ACL user
    redis_password: str | None = None
    redis_db: int = 0
    redis_tls: bool = False
    key_prefix: str = "ocpp:"
    # gateway
    ws_host: str = "0.0.0.0"
    ws_port: int = 9000
    client_ttl: int = 30
    gateway_refresh_s: float = 10.0
    # bridge
    bridge_claim_idle_ms: int = 15_000
    # workers (celeryconfig.py)
    task_visibility_timeout: int = 10
    worker_prefetch: int = 4
    extra_imports: tuple[str, ...] = ()
    # API
    call_timeout: float = 10.0
    api_token: str | None = None
    api_max_body_bytes: int = 1024 * 1024
    # OCPP behaviour
    accept_unknown_idtags: bool = False
    allow_concurrent_tx: bool = False  # one idTag in several active transactions at once
    sync_config_on_boot: bool = True  # read a charger's configuration after its first boot
    # Charger security (docs/SECURITY.md): who may connect, and how they prove it.
    # "open": any valid id may connect (the quickstart); "closed": only registered,
    # enabled chargers (the recommended setting, docker-compose's).
    registration: str = "open"
    tls_cert: str | None = None  # PEM server certificate (chain): the gateway serves wss://
    tls_key: str | None = None  # its private key
    tls_ca: str | None = None  # CA bundle for charger client certificates (profile 3)
    ca_cert: str | None = None  # the CSMS CA that signs chargers' CSRs (SignCertificate)
    ca_key: str | None = None  # its private key
    # Limits on what one charger may send or make us keep (docs/RELIABILITY.md).
    max_frame_bytes: int = 128 * 1024
    charger_id_pattern: str = identity.DEFAULT_PATTERN
    boot_deadline_s: float = 60.0
    max_pending_calls: int = 5
    max_attempts: int = 3
    # The OCPP message log (state/message_log.py): per charger, the newest this many
    # frames younger than this many days; either 0 turns it off.
    message_log_max: int = 1000
    message_log_days: float = 7.0
    # Liveness (celery beat, ocpp_worker/maintenance.py): a charger silent for this many
    # HeartbeatIntervals is stale; the checks run this often.
    stale_factor: float = 2.0
    liveness_interval_s: float = 30.0
    log_level: str = "INFO"
    log_format: str | None = None  # json | text; None: json unless stderr is a terminal
    # Prometheus metrics (README "Metrics"): this process's own HTTP endpoint (gateway,
    # bridge, worker; 0 = none), its address, and whether the API's /metrics skips the token.
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    metrics_public: bool = False

    @property
    def redis_url(self) -> str:
        """The URL every client is built from (redis-py, kombu, Celery's backend), with
        user and password percent-encoded: a password such as ``p@ss/w:rd`` stays whole."""
        scheme = "rediss" if self.redis_tls else "redis"
        user = quote(self.redis_username or "", safe="")
        secret = f":{quote(self.redis_password, safe='')}" if self.redis_password else ""
        auth = f"{user}{secret}@" if user or secret else ""
        query = "?ssl_cert_reqs=required" if self.redis_tls else ""
        return f"{scheme}://{auth}{self.redis_addr}/{self.redis_db}{query}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        get = (env if env is not None else dict(os.environ)).get
        return cls(
            redis_addr=_address(get("REDIS_ADDR") or "localhost:6379"),
            redis_username=get("REDIS_USERNAME") or None,
            redis_password=get("REDIS_PASSWORD") or None,
            redis_db=int(get("REDIS_DB") or 0),
            redis_tls=_flag(get("REDIS_TLS")),
            key_prefix=get("OCPP_KEY_PREFIX", "ocpp:"),
            ws_host=get("OCPP_WS_HOST") or "0.0.0.0",
            ws_port=int(get("OCPP_WS_PORT") or 9000),
            gateway_refresh_s=float(get("OCPP_GATEWAY_REFRESH_S") or 10),
            bridge_claim_idle_ms=int(get("OCPP_BRIDGE_CLAIM_IDLE_MS") or 15_000),
            task_visibility_timeout=int(get("OCPP_TASK_VISIBILITY_TIMEOUT") or 10),
            worker_prefetch=int(get("OCPP_WORKER_PREFETCH") or 4),
            extra_imports=tuple(n.strip() for n in (get("OCPP_EXTRA_IMPORTS") or "").split(",") if n.strip()),
            call_timeout=float(get("OCPP_CALL_TIMEOUT") or 10),
            api_token=get("API_TOKEN") or None,
            api_max_body_bytes=int(get("API_MAX_BODY_BYTES") or 1024 * 1024),
            accept_unknown_idtags=_flag(get("OCPP_ACCEPT_UNKNOWN_IDTAGS")),
            allow_concurrent_tx=_flag(get("OCPP_ALLOW_CONCURRENT_TX")),
            sync_config_on_boot=_flag(get("OCPP_SYNC_CONFIG_ON_BOOT") or "1"),
            registration=_registration(get("OCPP_REGISTRATION")),
            tls_cert=get("OCPP_TLS_CERT") or None,
            tls_key=get("OCPP_TLS_KEY") or None,
            tls_ca=get("OCPP_TLS_CA") or None,
            ca_cert=get("OCPP_CA_CERT") or None,
            ca_key=get("OCPP_CA_KEY") or None,
            max_frame_bytes=int(get("OCPP_MAX_FRAME_BYTES") or 128 * 1024),
            charger_id_pattern=get("OCPP_CHARGER_ID_PATTERN") or identity.DEFAULT_PATTERN,
            boot_deadline_s=float(get("OCPP_BOOT_DEADLINE_S") or 60),
            max_pending_calls=int(get("OCPP_MAX_PENDING_CALLS") or 5),
            max_attempts=int(get("OCPP_MAX_ATTEMPTS") or 3),
            message_log_max=int(get("OCPP_MESSAGE_LOG_MAX") or 1000),
            message_log_days=float(get("OCPP_MESSAGE_LOG_DAYS") or 7),
            stale_factor=float(get("OCPP_STALE_FACTOR") or 2),
            liveness_interval_s=float(get("OCPP_LIVENESS_INTERVAL_S") or 30),
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
            log_format=_log_format(get("LOG_FORMAT")),
            metrics_port=int(get("OCPP_METRICS_PORT") or 0),
            metrics_host=get("OCPP_METRICS_HOST") or "127.0.0.1",
            metrics_public=_flag(get("OCPP_METRICS_PUBLIC")),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read on first use, then fixed)."""
    return Settings.from_env()
