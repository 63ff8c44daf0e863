"""Session archives for tests: a SQLite file, or a PostgreSQL database of its own on the
server DATABASE_TEST_URL names (default: the local one, trust auth), created for the
test and dropped after it. Without a reachable PostgreSQL those tests skip, saying why,
unless REQUIRE_POSTGRES=1 (.ci/run sets it): then they fail."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from ocpp_worker.archive import migrate
from ocpp_worker.archive.db import engine_for_url
from ocpp_worker.config import Settings

POSTGRES_SERVER = (
    os.environ.get("DATABASE_TEST_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    server = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    name = f"ocpptest_{uuid.uuid4().hex[:10]}"
    try:
        with server.connect() as sql:
            sql.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        server.dispose()
        message = f"no PostgreSQL at {make_url(POSTGRES_SERVER).render_as_string()}: {exc}"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    url = make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        engine_for_url(url).dispose()
        with server.connect() as sql:
            sql.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@contextlib.contextmanager
def archive_engine(kind: str, directory: Path) -> Iterator[Engine]:
    """A migrated, empty archive: kind "sqlite" (a file in `directory`) or "postgresql"."""
    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            url = f"sqlite:///{directory}/archive-{uuid.uuid4().hex[:8]}.sqlite3"
        else:
            url = stack.enter_context(postgres_database())
        migrate.upgrade(Settings(database_url=url))
        yield engine_for_url(url)
