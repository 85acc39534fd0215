"""Alembic environment: run programmatically by ``schema.upgrade`` on a given connection.

There is no alembic.ini: the caller passes the connection in ``config.attributes``. The
PostgreSQL advisory lock makes two processes that start on a fresh database at once take
turns (SQLite's write transaction does the same); the second then finds the schema current.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from chemo_orders.record.tables import Base

MIGRATION_LOCK = 0x63686D6F6D696772  # "chmomigr": pg_advisory_xact_lock key for schema changes

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.run_migrations()
