"""Alembic environment: runs on the connection the application hands over (see app/db/migrate.py)."""

from __future__ import annotations

from alembic import context

from app.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `python -m app migrate` (app/db/migrate.py)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
