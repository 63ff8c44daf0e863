"""The session archive: completed charging sessions in SQL, their durable home.

Redis stays the hot store the pipeline reads and writes; a session leaves it once it
is archived (`archiver`), after `Settings.redis_retention_hours`. The API reads a
session from either place through `history`, and exports from SQL (`exports`).
SQLite by default (a file in `Settings.data_dir`), PostgreSQL in production
(`DATABASE_URL`); the schema is `models`, its migrations are Alembic's (`migrate`).
"""
