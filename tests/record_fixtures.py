"""A real PostgreSQL server for the test session, and an empty record per test on each backend.

The server is Debian's ``postgresql`` package (installed by scripts/setup.sh): ``initdb`` into
a temporary folder, ``pg_ctl start`` listening only on a unix socket in that folder (no TCP),
stopped and removed at the end of the session. initdb refuses to run as root, so as root the
server runs as the ``postgres`` system user the package creates, in a folder chowned to it.
fsync is off: the tests check behaviour, not the disk.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from chemo_orders.record.db import Database
    from chemo_orders.record.orders import PrepareRequest
    from chemo_orders.record.tables import Role

PG_USER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    socket_dir: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql://{PG_USER}@/{database}?host={self.socket_dir}&port={self.port}"


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not found:
        pytest.fail("PostgreSQL not found in /usr/lib/postgresql: run scripts/setup.sh")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="chemo-orders-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, PG_USER, PG_USER)
        as_postgres = ["runuser", "-u", PG_USER, "--"]
    data, port = root / "data", _free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, timeout=120)

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--locale=C")
    options = f"-F -p {port} -k {root} -c listen_addresses='' -c max_connections=50"
    run(str(bin_dir / "pg_ctl"), "start", "-w", "-D", str(data), "-l", str(root / "log"), "-o", options)
    try:
        yield PostgresServer(root, port)
    finally:
        run(str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate")
        shutil.rmtree(root, ignore_errors=True)


_names = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def record_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no schema) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'record.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"record_{os.getpid()}_{next(_names)}"
    import psycopg

    with psycopg.connect(server.url("postgres"), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


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
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "patients" / "newly-diagnosed-dlbcl.yaml"


def patient_file(**changes: Any) -> bytes:
    """The R-CHOP sample patient (MRN-100007, 182 cm, 90 kg) with some fields changed."""
    data = {**yaml.safe_load(SAMPLE.read_text()), **changes}
    return yaml.safe_dump(data).encode("utf-8")


def prepare_request(user: str = "pam", **changes: Any) -> PrepareRequest:
    from chemo_orders.record.orders import PrepareRequest

    return PrepareRequest(patient_file(**changes), "test patient", "r-chop", user, on=dt.date(2026, 11, 22))
