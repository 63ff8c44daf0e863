"""The archive's database: one SQLAlchemy engine per process and URL.

Unset `DATABASE_URL` means SQLite in `Settings.data_dir` (created on first use), so
`make run` needs nothing new. SQLite runs in WAL mode with a long busy timeout: the
API reads while an archiver writes, and two archivers wait for each other instead of
failing. Engines are made on first use, after Celery or gunicorn forked.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from ocpp_worker.config import Settings

SQLITE_BUSY_TIMEOUT_S = 30


def database_url(settings: Settings) -> str:
    """`DATABASE_URL`, or the SQLite file of the embedded default."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{Path(settings.data_dir).resolve() / 'archive.sqlite3'}"


def engine_for(settings: Settings) -> Engine:
    return engine_for_url(database_url(settings))


@functools.cache
def engine_for_url(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed session survives a power cut
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
