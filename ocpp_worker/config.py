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


def _above_zero(name: str, value: str, kind: type[int] | type[float] = float) -> float:
    """A setting that must be a finite number above 0 (a stream capped at -1 entries
    would make every write that publishes an event fail)."""
    number = kind(value)
    if not 0 < number < float("inf"):
        raise ValueError(f"{name} must be above 0, not {value!r}")
    return number


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
    # Domain events (docs/EVENTS.md): the {p}events stream keeps about this many events,
    # none older than this many hours; MeterValues become events only if asked for.
    events_enabled: bool = True  # OCPP_EVENTS=0: publish none (webhooks then get nothing)
    events_max: int = 100_000
    events_hours: float = 48.0
    events_meter_values: bool = False
    # Webhooks (docs/EVENTS.md): may a webhook's URL reach private, loopback and
    # link-local addresses (an internal receiver; off: only public addresses); the first
    # retry waits this long, each next one twice as long up to the cap, and an event
    # not delivered this long after its first attempt is marked failed and skipped.
    webhooks_allow_private: bool = False
    webhook_backoff_s: float = 10.0
    webhook_backoff_max_s: float = 3600.0
    webhook_retry_hours: float = 24.0
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
    # Idempotency-Key (api/idempotency.py): how long a key's first answer is kept.
    idempotency_hours: float = 24.0
    # The session archive (ocpp_worker/archive, docs/ARCHITECTURE.md "Archive"): a SQL
    # database (SQLAlchemy URL); unset: SQLite in `data_dir`/archive.sqlite3. A completed
    # session's Redis records expire this many hours after it is archived; the sweep
    # archives any session the stop's task missed, this often.
    database_url: str | None = None
    data_dir: str = "data"
    redis_retention_hours: float = 24.0
    archive_sweep_s: float = 60.0
    archive_lease_s: float = 120.0  # an archiver's hold on the sessions it took; then the sweep's
    # Who we are in the OCPI CDRs of the export (`format=ocpi-cdr`), and their currency.
    ocpi_country_code: str = "ZZ"
    ocpi_party_id: str = "CSM"
    ocpi_currency: str = "EUR"
    # Commands (docs/API.md "Queued commands"): a call queued for an offline charger
    # expires after this many hours unless the request says otherwise; at most this many
    # wait per charger; the sweep (expiry, unanswered, delivery) runs this often.
    command_ttl_hours: float = 24.0
    command_max_queued: int = 100
    command_sweep_s: float = 10.0

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
            events_enabled=_flag(get("OCPP_EVENTS") or "1"),
            events_max=int(_above_zero("OCPP_EVENTS_MAX", get("OCPP_EVENTS_MAX") or "100000", int)),
            events_hours=_above_zero("OCPP_EVENTS_HOURS", get("OCPP_EVENTS_HOURS") or "48"),
            events_meter_values=_flag(get("OCPP_EVENTS_METER_VALUES")),
            webhooks_allow_private=_flag(get("OCPP_WEBHOOKS_ALLOW_PRIVATE")),
            webhook_backoff_s=_above_zero("OCPP_WEBHOOK_BACKOFF_S", get("OCPP_WEBHOOK_BACKOFF_S") or "10"),
            webhook_backoff_max_s=_above_zero(
                "OCPP_WEBHOOK_BACKOFF_MAX_S", get("OCPP_WEBHOOK_BACKOFF_MAX_S") or "3600"
            ),
            webhook_retry_hours=_above_zero(
                "OCPP_WEBHOOK_RETRY_HOURS", get("OCPP_WEBHOOK_RETRY_HOURS") or "24"
            ),
            stale_factor=float(get("OCPP_STALE_FACTOR") or 2),
            liveness_interval_s=float(get("OCPP_LIVENESS_INTERVAL_S") or 30),
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
            log_format=_log_format(get("LOG_FORMAT")),
            metrics_port=int(get("OCPP_METRICS_PORT") or 0),
            metrics_host=get("OCPP_METRICS_HOST") or "127.0.0.1",
            metrics_public=_flag(get("OCPP_METRICS_PUBLIC")),
            idempotency_hours=_above_zero("OCPP_IDEMPOTENCY_HOURS", get("OCPP_IDEMPOTENCY_HOURS") or "24"),
            database_url=get("DATABASE_URL") or None,
            data_dir=get("OCPP_DATA_DIR") or "data",
            redis_retention_hours=float(get("OCPP_REDIS_RETENTION_HOURS") or 24),
            archive_sweep_s=_above_zero("OCPP_ARCHIVE_SWEEP_S", get("OCPP_ARCHIVE_SWEEP_S") or "60"),
            archive_lease_s=_above_zero("OCPP_ARCHIVE_LEASE_S", get("OCPP_ARCHIVE_LEASE_S") or "120"),
            ocpi_country_code=(get("OCPI_COUNTRY_CODE") or "ZZ").upper(),
            ocpi_party_id=(get("OCPI_PARTY_ID") or "CSM").upper(),
            ocpi_currency=(get("OCPI_CURRENCY") or "EUR").upper(),
            command_ttl_hours=_above_zero("OCPP_COMMAND_TTL_HOURS", get("OCPP_COMMAND_TTL_HOURS") or "24"),
            command_max_queued=int(
                _above_zero("OCPP_COMMAND_MAX_QUEUED", get("OCPP_COMMAND_MAX_QUEUED") or "100")
            ),
            command_sweep_s=_above_zero("OCPP_COMMAND_SWEEP_S", get("OCPP_COMMAND_SWEEP_S") or "10"),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read on first use, then fixed)."""
    return Settings.from_env()
