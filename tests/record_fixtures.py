"""Fixtures of the order record: a real PostgreSQL server for the test session, an empty
record per test on each backend (SQLite and PostgreSQL), and an audit key per test (never the
user's own key file).

The server (pg_server.py) runs with fsync off: the tests check behaviour, not the disk.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from pg_server import PostgresServer, bin_dir, temporary_postgres

if TYPE_CHECKING:
    from chemo_orders.record.db import Database
    from chemo_orders.record.orders import PrepareRequest
    from chemo_orders.record.tables import Role
    from chemo_orders.record.users import Identity


@pytest.fixture(autouse=True)
def audit_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test keys its audit chains in its own folder (the file is made on first use)."""
    path = tmp_path / "keys" / "audit.key"
    monkeypatch.setenv("CHEMO_ORDERS_KEY_FILE", str(path))
    monkeypatch.delenv("CHEMO_ORDERS_TOKEN", raising=False)
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if bin_dir() is None:
        pytest.fail("PostgreSQL not found in /usr/lib/postgresql: run scripts/setup.sh")
    with temporary_postgres(fsync=False) as server:
        yield server


_names = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def record_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no schema) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'record.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"record_{os.getpid()}_{next(_names)}")


@pytest.fixture
def record(record_url: str) -> Iterator[Database]:
    """A migrated record with pharmacists pam and phil, nurse nina, prescriber priya, admin ada."""
    from chemo_orders.record.schema import open_database
    from chemo_orders.record.users import NewUser, add_user

    database = open_database(record_url)
    with database.write() as session:
        for name, role in STAFF.items():
            add_user(session, NewUser(name, role))
    yield database
    database.close()


STAFF: dict[str, Role] = {
    "pam": "pharmacist",
    "phil": "pharmacist",
    "nina": "nurse",
    "priya": "prescriber",
    "ada": "admin",
}


def me(name: str) -> Identity:
    """A member of STAFF as the record's fixture added them (ids in STAFF's order), standing in
    for one who signed in: the tests of the record's rules need no password round trip."""
    from chemo_orders.record.users import Identity

    return Identity(list(STAFF).index(name) + 1, name)


def token_for(record: Database, name: str) -> str:
    """An API token for a member of STAFF (what `users token NAME` prints for their password)."""
    from chemo_orders.record.users import issue_token

    with record.write() as session:
        return issue_token(session, me(name))


SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "patients" / "newly-diagnosed-dlbcl.yaml"


def patient_file(**changes: Any) -> bytes:
    """The R-CHOP sample patient (MRN-100007, 182 cm, 90 kg) with some fields changed."""
    data = {**yaml.safe_load(SAMPLE.read_text()), **changes}
    return yaml.safe_dump(data).encode("utf-8")


def prepare_request(user: str = "pam", cycle: int = 1, **changes: Any) -> PrepareRequest:
    """R-CHOP for the test patient; cycle N is prepared on its due date (21-day cycles from
    2026-11-22), so successive prepares are successive cycles, not the duplicates CYC001 holds."""
    from chemo_orders.record.orders import PrepareRequest

    on = dt.date(2026, 11, 22) + dt.timedelta(days=21 * (cycle - 1))
    return PrepareRequest(patient_file(**changes), "test patient", "r-chop", me(user), cycle=cycle, on=on)
