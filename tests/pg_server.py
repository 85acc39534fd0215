"""A throwaway PostgreSQL server (Debian's ``postgresql`` package), for the tests and bench/.

``initdb`` into a temporary folder, ``pg_ctl start`` listening only on a unix socket in that
folder (no TCP), stopped and removed on exit. initdb refuses to run as root, so as root the
server runs as the ``postgres`` system user the package creates, in a folder chowned to it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PG_USER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    socket_dir: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql://{PG_USER}@/{database}?host={self.socket_dir}&port={self.port}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def temporary_postgres(fsync: bool = True) -> Iterator[PostgresServer]:
    binaries = bin_dir()
    if binaries is None:
        raise RuntimeError("PostgreSQL not found in /usr/lib/postgresql: run scripts/setup.sh")
    root = Path(tempfile.mkdtemp(prefix="chemo-orders-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, PG_USER, PG_USER)
        as_postgres = ["runuser", "-u", PG_USER, "--"]
    data, port = root / "data", _free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, timeout=120)

    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--locale=C")
        options = f"-p {port} -k {root} -c listen_addresses='' -c max_connections=50" + ("" if fsync else " -F")
        run(str(binaries / "pg_ctl"), "start", "-w", "-D", str(data), "-l", str(root / "log"), "-o", options)
        try:
            yield PostgresServer(root, port)
        finally:
            run(str(binaries / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)
