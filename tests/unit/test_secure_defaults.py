"""Secure defaults: `make run` names every open door it runs with; docker-compose and
the image close them (read from the files, as compose and docker would)."""

from __future__ import annotations

import dataclasses
import re

import yaml

from ocpp_worker.config import Settings
from ocpp_worker.open_doors import open_doors
from tests.support.stack import ROOT


def test_make_run_defaults_leave_three_doors_open():
    doors = open_doors(Settings())
    assert len(doors) == 3
    assert [d.split()[0] for d in doors] == ["API_TOKEN", "OCPP_REGISTRATION=open:", "no"]


def test_closed_settings_leave_none():
    closed = dataclasses.replace(
        Settings(), api_token="t", registration="closed", tls_cert="server.crt", tls_key="server.key"
    )
    assert open_doors(closed) == []


def test_compose_requires_its_secrets_and_closes_the_doors():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    app_env = services["gateway"]["environment"]
    assert app_env["API_TOKEN"].startswith("${API_TOKEN:?")
    assert app_env["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert app_env["OCPP_REGISTRATION"] == "${OCPP_REGISTRATION:-closed}"
    assert services["gateway"]["env_file"] == ".env"
    redis = services["redis"]
    assert "--requirepass" in " ".join(redis["command"]) and "--appendonly yes" in " ".join(redis["command"])
    assert "ports" not in redis and redis["volumes"] == ["redis-data:/data"]
    assert redis["environment"]["REDIS_APPENDFSYNC"] == "${REDIS_APPENDFSYNC:-everysec}"
    # the archive: PostgreSQL with a password and a volume, not published; migrated first
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert "ports" not in postgres and postgres["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert app_env["DATABASE_URL"].startswith("postgresql+psycopg://ocpp:${POSTGRES_PASSWORD:?")
    assert services["migrate"]["command"] == ["ocpp-csms", "db", "upgrade"]
    for name in ("gateway", "bridge", "worker", "background", "beat", "api"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "ocpp.archive" in " ".join(services["background"]["command"])
    flower = services["flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"])
    example = (ROOT / ".env.example").read_text()
    for name in ("API_TOKEN", "REDIS_PASSWORD", "POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH"):
        assert re.search(rf"^{name}=$", example, re.MULTILINE), name


def test_the_image_runs_as_a_user_not_root():
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
