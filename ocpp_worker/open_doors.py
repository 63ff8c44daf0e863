"""``python -m ocpp_worker.open_doors``: one warning line for each way in that these
settings leave open (`make run` prints them before it starts anything).

`make run` defaults to an open laboratory so that the quickstart works in two
commands; these lines make sure nobody mistakes it for a deployment. docker-compose
closes every one of them (docs/SECURITY.md).
"""

from __future__ import annotations

import sys

from ocpp_worker.config import Settings, get_settings


def open_doors(settings: Settings) -> list[str]:
    """What an attacker who reaches the ports may do with these settings, one line each."""
    doors = []
    if not settings.api_token:
        doors.append("API_TOKEN is not set: anyone who reaches the REST API can drive every charger")
    if settings.registration == "open":
        doors.append(
            "OCPP_REGISTRATION=open: any charger id may connect and boot "
            "(register chargers through the API and set OCPP_REGISTRATION=closed)"
        )
    if not (settings.tls_cert and settings.tls_key):
        doors.append(
            "no TLS (OCPP_TLS_CERT/OCPP_TLS_KEY unset): chargers connect over plain ws://, "
            "their passwords and traffic readable on the network"
        )
    return doors


def main() -> None:
    try:
        settings = get_settings()
    except ValueError as exc:  # a setting that cannot be read: say so before starting anything
        print(f"ERROR: {exc}", file=sys.stderr)
        sys.exit(2)
    for door in open_doors(settings):
        print(f"WARNING: {door}", file=sys.stderr)


if __name__ == "__main__":
    main()
