"""Alembic, driven from code: `ocpp-csms db upgrade` (which `make run` runs) brings the
archive's schema to the newest migration; `ocpp-csms db revision -m "…"` writes a new
one from the difference between `models` and the database."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from ocpp_worker.archive.db import database_url
from ocpp_worker.config import Settings


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", "ocpp_worker.archive:migrations")
    # ConfigParser interpolation: a "%" in a password must be doubled
    config.set_main_option("sqlalchemy.url", database_url(settings).replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def current(settings: Settings) -> None:
    command.current(alembic_config(settings), verbose=True)


def revision(settings: Settings, message: str) -> None:
    command.revision(alembic_config(settings), message=message, autogenerate=True)
