"""The record's database: migrations from empty, URLs, backup, users, passwords and tokens."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from record_fixtures import SAMPLE as PATIENT
from record_fixtures import me, prepare_request
from sqlalchemy import select

from chemo_orders.cli import main
from chemo_orders.errors import InputError
from chemo_orders.record import audit
from chemo_orders.record.db import Database, connect, resolve_url
from chemo_orders.record.orders import list_orders, prepare
from chemo_orders.record.schema import HEAD, alembic_config, current_revision, open_database, upgrade
from chemo_orders.record.tables import ApiToken, Base, User
from chemo_orders.record.users import (
    NewUser,
    add_user,
    check_password,
    issue_token,
    operating_system_user,
    user_for_token,
)


def test_migrations_build_the_models_schema_from_an_empty_database(record_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    database = connect(resolve_url(record_url))
    assert current_revision(database) is None
    assert upgrade(database) == HEAD == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(database) == HEAD
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    upgrade(database)  # a second upgrade is a no-op
    assert current_revision(database) == HEAD
    database.close()


def _open(url: str, barrier: Any) -> None:
    barrier.wait(30)
    open_database(url).close()


def test_processes_opening_a_fresh_record_at_once_migrate_it_once(record_url: str) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(3)
    workers = [context.Process(target=_open, args=(record_url, barrier)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert current_revision(connect(resolve_url(record_url))) == HEAD


def test_the_command_line_knows_the_tables_roles_and_states() -> None:
    from chemo_orders.cli import record as record_cli
    from chemo_orders.record.tables import ROLES, STATES

    assert record_cli.ROLE_NAMES == ROLES and record_cli.STATE_NAMES == STATES


def test_urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = resolve_url("postgresql://clerk:s3cret@db.example/orders")
    assert url.drivername == "postgresql+psycopg"
    assert "s3cret" not in url.render_as_string(hide_password=True)
    monkeypatch.setenv("CHEMO_ORDERS_DB", "sqlite:////srv/orders.sqlite3")
    assert resolve_url(None).database == "/srv/orders.sqlite3"
    assert resolve_url("sqlite:///here.sqlite3").database == "here.sqlite3"  # --db wins
    monkeypatch.delenv("CHEMO_ORDERS_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert resolve_url(None).database == str(tmp_path / "chemo-orders" / "orders.sqlite3")
    with pytest.raises(InputError, match="only sqlite and postgresql"):
        resolve_url("mysql://clerk:s3cret@db.example/orders")
    with pytest.raises(InputError) as bad:
        resolve_url("not a url with a s3cret")
    assert "--db" in str(bad.value)


def test_backup_copies_a_live_sqlite_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    database = open_database(url)
    with database.write() as session:
        add_user(session, NewUser("pam", "pharmacist"))
    order = prepare(database, prepare_request())
    copy = tmp_path / "backups" / "copy.sqlite3"
    assert main(["db", "backup", str(copy), "--db", url]) == 0
    restored = open_database(f"sqlite:///{copy}")
    assert [r.order_id for r in list_orders(restored)] == [order.order_id]
    with restored.read() as session:
        assert audit.verify(session) == []
    assert not list(copy.parent.glob(".*tmp"))  # no temporary file left behind


@pytest.mark.parametrize("record_url", ["postgresql"], indirect=True)
def test_backup_of_postgresql_is_refused_with_a_pointer(record: Database, capsys: pytest.CaptureFixture[str]) -> None:
    url = record.engine.url.render_as_string(hide_password=False)
    assert main(["db", "backup", "copy.sqlite3", "--db", url]) == 2
    assert "pg_dump" in capsys.readouterr().err


def test_passwords_are_stored_as_argon2_hashes(record: Database) -> None:
    with record.write() as session:
        add_user(session, NewUser("rx", "pharmacist", "correct horse battery staple"))
    with record.read() as session:
        stored = session.scalar(select(User.password_hash).where(User.name == "rx"))
        assert stored is not None and stored.startswith("$argon2id$") and "horse" not in stored
        user = check_password(session, "rx", "correct horse battery staple")
        assert user is not None and user.name == "rx"
        assert check_password(session, "rx", "wrong") is None
        assert check_password(session, "nobody", "correct horse battery staple") is None
        assert check_password(session, "pam", "") is None  # a user without a password cannot sign in


def test_tokens_are_stored_hashed(record: Database) -> None:
    with record.write() as session:
        token = issue_token(session, me("pam"))
    with record.read() as session:
        stored = list(session.scalars(select(ApiToken.token_sha256)))
        assert len(stored) == 1 and token not in stored[0]
        found = user_for_token(session, token)
        assert found is not None and found.name == "pam"
        assert user_for_token(session, token + "x") is None


def test_user_names_and_roles_are_checked(record: Database) -> None:
    with pytest.raises(InputError, match="exists"), record.write() as session:
        add_user(session, NewUser("pam", "nurse"))
    with pytest.raises(InputError, match="ASCII letters, digits"), record.write() as session:
        add_user(session, NewUser("two words", "nurse"))
    with pytest.raises(InputError, match="one of"), record.write() as session:
        add_user(session, NewUser("mo", "surgeon"))  # type: ignore[arg-type]


def run(*args: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "chemo_orders.cli", *map(str, args)]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120)


def test_users_from_the_command_line(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'record.sqlite3'}"]
    added = run("users", "add", "pam", "--role", "pharmacist", "--password-stdin", *db, stdin="s3cret-pass\n")
    assert added.returncode == 0, added.stderr
    assert "s3cret" not in added.stdout + added.stderr
    assert run("users", "token", "pam", *db, stdin="wrong-pass\n").returncode == 3
    issued = run("users", "token", "pam", *db, stdin="s3cret-pass\n")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.splitlines()[-1]
    database = open_database(db[1])
    with database.read() as session:
        user = user_for_token(session, token)
        assert user is not None and user.name == "pam"
        assert check_password(session, "pam", "s3cret-pass") is not None
    assert run("users", "add", "nina", "--role", "surgeon", *db).returncode == 2
    assert run("users", "token", "nobody", *db, stdin="s3cret-pass\n").returncode == 3  # same as a wrong password
    assert run("users", "token", "p\u0430m", *db, stdin="s3cret-pass\n").returncode == 2  # Cyrillic a
    prepare_as = ["orders", "prepare", PATIENT, "--regimen", "r-chop", "--user", "pam", *db]
    assert run(*prepare_as, stdin="s3cret-pass\n").returncode == 3  # no token and no --password-stdin
    assert run(*prepare_as, "--password-stdin", stdin="s3cret-pass\n").returncode == 0
    with database.read() as session:
        added = next(e for e in audit.events(session) if e.action == "user-added")
        assert json.loads(added.detail_json)["os_user"] == operating_system_user()


def test_a_snapshot_reads_in_one_transaction_and_refuses_a_write(record: Database) -> None:
    """The live preview's reads share one transaction (``Database.snapshot``); a write inside
    one is refused, so that no read after it could miss what it wrote."""
    with record.snapshot():
        with record.read() as first, record.read() as second:
            assert first is second
        with pytest.raises(RuntimeError, match="inside a read snapshot"):
            prepare(record, prepare_request())
        assert list_orders(record) == []
    order = prepare(record, prepare_request())
    with record.snapshot():
        assert [o.order_id for o in list_orders(record)] == [order.order_id]
    with record.read() as first, record.read() as second:
        assert first is not second
