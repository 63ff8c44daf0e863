"""Process settings, read once from the environment.

Every process (gateway, bridge, worker, API) builds its `Settings` the same way, so
one set of environment variables configures a whole deployment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from ocpp_worker.protocol import identity


def _flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    redis_addr: str = "localhost:6379"
    redis_password: str | None = None
    redis_db: int = 0
    key_prefix: str = "ocpp:"
    ws_host: str = "0.0.0.0"
    ws_port: int = 9000
    call_timeout: float = 10.0
    accept_unknown_idtags: bool = False
    # Limits on what one charger may send or make us keep (docs/RELIABILITY.md).
    max_frame_bytes: int = 128 * 1024
    charger_id_pattern: str = identity.DEFAULT_PATTERN
    boot_deadline_s: float = 60.0
    max_pending_calls: int = 5
    max_attempts: int = 3
    client_ttl: int = 30

    @property
    def redis_url(self) -> str:
        auth = f":{self.redis_password}@" if self.redis_password else ""
        return f"redis://{auth}{self.redis_addr}/{self.redis_db}"

    @classmethod
    def from_env(cls) -> Settings:
        addr = os.environ.get("REDIS_ADDR", "localhost:6379")
        if addr.startswith("redis://"):
            addr = addr.removeprefix("redis://").rstrip("/")
        return cls(
            redis_addr=addr,
            redis_password=os.environ.get("REDIS_PASSWORD") or None,
            redis_db=int(os.environ.get("REDIS_DB", "0")),
            key_prefix=os.environ.get("OCPP_KEY_PREFIX", "ocpp:"),
            ws_host=os.environ.get("OCPP_WS_HOST", "0.0.0.0"),
            ws_port=int(os.environ.get("OCPP_WS_PORT", "9000")),
            call_timeout=float(os.environ.get("OCPP_CALL_TIMEOUT", "10")),
            accept_unknown_idtags=_flag("OCPP_ACCEPT_UNKNOWN_IDTAGS"),
            max_frame_bytes=int(os.environ.get("OCPP_MAX_FRAME_BYTES", str(128 * 1024))),
            charger_id_pattern=os.environ.get("OCPP_CHARGER_ID_PATTERN") or identity.DEFAULT_PATTERN,
            boot_deadline_s=float(os.environ.get("OCPP_BOOT_DEADLINE_S", "60")),
            max_pending_calls=int(os.environ.get("OCPP_MAX_PENDING_CALLS", "5")),
            max_attempts=int(os.environ.get("OCPP_MAX_ATTEMPTS", "3")),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read on first use, then fixed)."""
    return Settings.from_env()
