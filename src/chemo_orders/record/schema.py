"""The schema is made and changed only by Alembic migrations, run from code (no alembic.ini).

Opening the record checks the schema revision with one query and upgrades when it is behind,
so a new version of the app brings its migrations with it; ``chemo-orders db upgrade`` does
the same on demand. ``HEAD`` names the newest migration (a test checks it against Alembic), so
the common case imports nothing of Alembic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from .db import Database, connect, resolve_url

HEAD = "0003"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return _revision(connection)


def _revision(connection: Any) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if revision is None else str(revision)


def upgrade(database: Database) -> str:
    """Bring the schema to the newest revision; returns it."""
    from alembic import command

    # write=True: on SQLite the transaction begins IMMEDIATE, so a second process waits for the
    # first (PostgreSQL: the lock in migrations/env.py). The revision is read again once the
    # lock is held, in the same transaction the migrations then run in: a process that waited
    # finds the schema current and changes nothing (three processes opening a fresh record at
    # once under load once ran migration 0003 twice).
    with database.engine.execution_options(write=True).connect() as connection:
        if connection.dialect.name == "sqlite" and _revision(connection) == HEAD:
            connection.rollback()
            return HEAD
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
    return HEAD


def open_database(url: str | None) -> Database:
    """The record at ``url`` (``--db``, ``$CHEMO_ORDERS_DB`` or the default), schema current."""
    database = connect(resolve_url(url))
    if current_revision(database) != HEAD:
        upgrade(database)
    return database
