"""Alembic's environment: migrations run on the archive's own engine
(`db.engine_for_url`, with its SQLite settings), online only."""

from __future__ import annotations

from alembic import context

from ocpp_worker.archive.db import engine_for_url
from ocpp_worker.archive.models import Base

url = context.config.get_main_option("sqlalchemy.url")
assert url, "alembic_config sets sqlalchemy.url"
with engine_for_url(url).connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE as SQLite can
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
