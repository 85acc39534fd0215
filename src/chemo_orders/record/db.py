"""Engines and transactions for SQLite (embedded default) and PostgreSQL (several workstations).

Why the connection events: SQLite leaves foreign keys off unless every connection turns them
on, and WAL lets readers go on while one writer commits. Python's sqlite3 driver would begin
transactions lazily on its own, so it is told to stay out of the way and every transaction is
begun here: ``BEGIN IMMEDIATE`` for writes, which takes SQLite's single write lock up front.
That is what serialises two prepares for one patient on SQLite (PostgreSQL uses row locks,
see :func:`lock_patient`), and it avoids the deadlock of two readers that both upgrade.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVarTuple

from sqlalchemy import Engine, Row, Select, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import InputError

Columns = TypeVarTuple("Columns")
ENV_VAR = "CHEMO_ORDERS_DB"
AFTER_COMMIT = "after-commit"  # session.info key: {name: callable} run once the write commits
SQLITE_BUSY_TIMEOUT_S = 30  # how long a writer waits for SQLite's write lock before failing


def default_url() -> str:
    """An SQLite file in the user's data directory (created on first use)."""
    from platformdirs import user_data_path

    return f"sqlite:///{user_data_path('chemo-orders') / 'orders.sqlite3'}"


def resolve_url(explicit: str | None) -> URL:
    """``--db``, else ``$CHEMO_ORDERS_DB``, else the default; ``postgresql://`` gets psycopg 3."""
    text_url = explicit or os.environ.get(ENV_VAR) or default_url()
    try:
        url = make_url(text_url)
    except ArgumentError:
        raise InputError("--db", _masked(text_url), "not a database URL (sqlite:///PATH or postgresql://…)") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise InputError("--db", url.render_as_string(hide_password=True), "only sqlite and postgresql are supported")
    if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg":
        raise InputError("--db", url.render_as_string(hide_password=True), "PostgreSQL is reached through psycopg 3")
    return url


def _masked(text_url: str) -> str:
    """A URL as safe to print: never the password."""
    head, at, tail = text_url.rpartition("@")
    return f"{head.split(':', 2)[0]}:…@{tail}" if at else text_url


@dataclass(eq=False)
class Database:
    """One engine and its session factory; app processes hold no other state."""

    engine: Engine
    sessions: sessionmaker[Session]
    writers: sessionmaker[Session]

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read transaction; inside :meth:`snapshot`, the snapshot's own."""
        shared = _SNAPSHOT.get()
        if shared is not None and shared[0] is self:
            yield shared[1]
            return
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside runs in one transaction, one to pay for (on SQLite also one
        consistent view; PostgreSQL's default isolation lets each statement see what committed
        before it, as separate transactions did). The live preview reads the session, the
        patient, its prepared orders and its history on every change; each in a transaction
        of its own cost more than the queries. Read-only: a write inside would not be seen by
        the reads after it, so it is refused."""
        with self.read() as session:
            token = _SNAPSHOT.set((self, session))
            try:
                yield
            finally:
                _SNAPSHOT.reset(token)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction that commits on success and rolls back on any error (no half order).
        After the commit, the callables the transaction left in ``session.info[AFTER_COMMIT]``
        run (the audit chain's head file moves only once its event is durable)."""
        if _SNAPSHOT.get() is not None:
            raise RuntimeError("a write inside a read snapshot: the reads after it would not see it")
        with self.writers() as session:
            with session.begin():
                yield session
            for hook in session.info.pop(AFTER_COMMIT, {}).values():
                hook()

    def close(self) -> None:
        self.engine.dispose()


# The read transaction of the current request's snapshot (per thread and task, as contexts are).
_SNAPSHOT: ContextVar[tuple[Database, Session] | None] = ContextVar("chemo_orders_snapshot", default=None)


def connect(url: URL) -> Database:
    """An engine for ``url``; no schema work (see :func:`chemo_orders.record.schema.open_database`).
    ``hide_parameters``: an error message never carries a patient file or a password hash."""
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    writer = engine.execution_options(write=True)
    return Database(engine, sessionmaker(engine, expire_on_commit=False), sessionmaker(writer, expire_on_commit=False))


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver begins nothing; _sqlite_begin does
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    _switch_to_wal(cursor)
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Switch a database to WAL, retrying while another process holds it.

    Changing the journal mode needs an exclusive lock, and SQLite reports "database is
    locked" at once, without its busy handler, when processes open a fresh file together.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get("write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def rows(session: Session, statement: Select[*Columns], **params: Any) -> Sequence[Row[*Columns]]:
    """The rows of a query of columns, run on the session's own connection and transaction.

    For the reads every request makes (the session, the patient, the record's history): the
    ORM's work per statement (objects to track, identity map) is not needed for plain columns
    and took half the time of each query."""
    return session.connection().execute(statement, params).all()


def advisory_lock(session: Session, key: int) -> None:
    """PostgreSQL: a transaction-scoped lock on a number (SQLite holds its write lock already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def backup(database: Database, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while others keep reading and writing,
    written beside the target and renamed into place (no half file)."""
    import sqlite3
    import tempfile

    if not database.is_sqlite:
        raise InputError("--db", database.display_url, "db backup copies SQLite; back up PostgreSQL with pg_dump")
    _refuse_existing(target)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise InputError("FILE", str(target), f"cannot create the file ({error.__class__.__name__})") from None
    os.close(handle)
    raw = database.engine.raw_connection()
    try:
        copy = sqlite3.connect(temporary)
        try:
            raw.driver_connection.backup(copy)  # type: ignore[union-attr]
        finally:
            copy.close()
        try:
            os.link(temporary, target)  # unlike a rename, never replaces what appeared meanwhile
        except FileExistsError:
            raise InputError("FILE", str(target), "already exists: back up to a new file") from None
    finally:
        Path(temporary).unlink(missing_ok=True)
        raw.close()


def _refuse_existing(target: Path) -> None:
    """A backup goes to a new regular file only: it overwrote any path, a device file or a
    symbolic link to one included (issue 19)."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return
    except OSError as error:
        raise InputError("FILE", str(target), f"cannot check the path ({error.__class__.__name__})") from None
    kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a file" if stat.S_ISREG(info.st_mode) else "a special file"
    raise InputError("FILE", str(target), f"{kind} already exists there: back up to a new file")


# What a failing database says, read from the driver's message (never printed: SQLAlchemy's
# text of an error holds the statement and its parameters, a patient's data among them, and a
# PostgreSQL error's DETAIL quotes the row).
_DATABASE_PROBLEMS = (
    (("database or disk is full", "no space left on device", "could not extend file", "disk full"), "disk full?"),
    (("disk i/o error", "input/output error"), "disk I/O error"),
    (("readonly database", "read-only", "read only"), "the record is read-only"),
    (("database is locked", "lock timeout", "deadlock"), "the record is busy (locked by another process): try again"),
    (
        ("unable to open database file", "permission denied"),
        "the record's file cannot be opened (missing folder or permissions?)",
    ),
    (("malformed", "file is not a database", "not a database"), "the record's file is damaged or not a database"),
    (
        ("no such table", "no such column", 'relation "', 'column "'),
        "the record's schema is missing or old: run chemo-orders db upgrade",
    ),
    (('database "',), "the database named by --db does not exist"),
    (
        (
            "connection refused",
            "could not connect",
            "connection failed",
            "server closed the connection",
            "timeout expired",
        ),
        "the database server cannot be reached",
    ),
    (("password authentication failed", "authentication failed"), "the database refused the credentials"),
)


def database_problem(error: BaseException) -> str | None:
    """One line naming what went wrong with the record, or None when ``error`` is not a
    database error. It names the problem ("disk full?"), never the SQL, its parameters or the
    driver's full message, so it is safe to print and to log."""
    kinds = [cls.__module__.split(".")[0] for cls in type(error).__mro__]
    if not any(kind in ("sqlalchemy", "sqlite3", "_sqlite3", "psycopg", "psycopg2") for kind in kinds):
        return None
    original = getattr(error, "orig", None) or error
    said = (str(getattr(original, "args", ("",))[0]) if getattr(original, "args", None) else "").lower()
    for needles, problem in _DATABASE_PROBLEMS:
        if any(needle in said for needle in needles):
            verb = "written" if problem == "disk full?" else "read or written"
            return f"the record could not be {verb}: {problem}"
    return f"the record could not be read or written ({type(original).__name__})"
