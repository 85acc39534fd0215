"""Order record benchmark (issue 13): prepare + verify throughput and latency, SQLite and PostgreSQL.

Run:  .venv/bin/python bench/record.py [--orders 200] [--workers 2] [--pg URL]
Without --pg a throwaway PostgreSQL server is started (Debian's package, fsync on, as a real
server would run). Each order is one R-CHOP prepare by one pharmacist and its verification by
another, spread over patients so that no lifetime limit is reached. Figures: orders/s over
the whole run, p50/p95 of each prepare and each verify, sequentially and with several
processes at once (the record's locks serialise per patient and for the audit chain).
Speed is measured, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # pg_server.py: the throwaway server the tests use too
SAMPLE = yaml.safe_load((ROOT / "samples" / "patients" / "newly-diagnosed-dlbcl.yaml").read_text())
ORDERS_PER_PATIENT = 4  # 4 x 50 mg/m² doxorubicin stays below DOS002's warning


def patient_file(index: int) -> bytes:
    patient = index // ORDERS_PER_PATIENT
    data = {**SAMPLE, "id": f"MRN-B{patient:05d}", "name": f"Bench, Patient {patient}"}
    return yaml.safe_dump(data).encode("utf-8")


def work(url: str, indexes: list[int]) -> tuple[list[float], list[float]]:
    """Prepare and verify one order per index; the latency of each step."""
    from chemo_orders.record.orders import PrepareRequest, VerifyRequest, prepare, verify
    from chemo_orders.record.schema import open_database
    from chemo_orders.record.users import Identity

    pam, phil = Identity(1, "pam"), Identity(2, "phil")  # as set_up added them
    database = open_database(url)
    prepares, verifies = [], []
    for index in indexes:
        request = PrepareRequest(patient_file(index), "bench", "r-chop", pam, on=dt.date(2026, 11, 22))
        start = time.perf_counter()
        order = prepare(database, request)
        middle = time.perf_counter()
        verify(database, VerifyRequest(order.order_id, phil))
        prepares.append(middle - start)
        verifies.append(time.perf_counter() - middle)
    database.close()
    return prepares, verifies


def _work_star(args: tuple[str, list[int]]) -> tuple[list[float], list[float]]:
    return work(*args)


def set_up(url: str) -> None:
    from chemo_orders.record.schema import open_database
    from chemo_orders.record.users import NewUser, add_user

    database = open_database(url)
    with database.write() as session:
        add_user(session, NewUser("pam", "pharmacist"))
        add_user(session, NewUser("phil", "pharmacist"))
    work(url, [10**6])  # warm: imports, caches, the first patient row
    database.close()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def run(url: str, orders: int, workers: int) -> dict[str, float]:
    set_up(url)
    # Whole patients per worker, so that workers contend only for the audit chain.
    count = orders // ORDERS_PER_PATIENT
    patients = [list(range(p * ORDERS_PER_PATIENT, (p + 1) * ORDERS_PER_PATIENT)) for p in range(count)]
    shares = [[i for chunk in patients[w::workers] for i in chunk] for w in range(workers)]
    start = time.perf_counter()
    if workers == 1:
        results = [work(url, shares[0])]
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_work_star, [(url, share) for share in shares])
    elapsed = time.perf_counter() - start
    prepares = [t for r in results for t in r[0]]
    verifies = [t for r in results for t in r[1]]
    return {
        "orders/s": len(prepares) / elapsed,
        "prepare p50 ms": statistics.median(prepares) * 1000,
        "prepare p95 ms": p95(prepares) * 1000,
        "verify p50 ms": statistics.median(verifies) * 1000,
        "verify p95 ms": p95(verifies) * 1000,
    }


def create_database(server_url: str, name: str) -> str:
    """A new database on the server of ``server_url`` (whose user may create databases)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


@contextmanager
def postgres(server_url: str | None) -> Iterator[str]:
    if server_url is not None:
        yield server_url
        return
    from pg_server import temporary_postgres

    with temporary_postgres(fsync=True) as server:
        yield server.url("postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="processes for the concurrent run")
    parser.add_argument(
        "--pg", help="a PostgreSQL server URL whose user may create databases (default: a throwaway one)"
    )
    args = parser.parse_args()
    import chemo_orders.orderset  # noqa: F401 - loaded before forking

    rows = []
    stamp = time.strftime("%Y%m%d%H%M%S")
    with tempfile.TemporaryDirectory(prefix="chemo-orders-bench-") as folder, postgres(args.pg) as server:
        for backend in ("sqlite", "postgresql"):
            for workers in sorted({1, args.workers}):
                name = f"bench_{stamp}_{workers}"
                url = f"sqlite:///{folder}/{name}.sqlite3" if backend == "sqlite" else create_database(server, name)
                os.environ["CHEMO_ORDERS_KEY_FILE"] = f"{folder}/{name}-{backend}.key"  # one key per record
                rows.append((backend, workers, run(url, args.orders, workers)))
    columns = list(rows[0][2])
    print(f"{args.orders} orders (prepare + verify each); {multiprocessing.cpu_count()} cores")
    print(f"{'backend':<11}{'processes':>10}" + "".join(f"{c:>16}" for c in columns))
    for backend, workers, figures in rows:
        print(f"{backend:<11}{workers:>10}" + "".join(f"{figures[c]:>16.1f}" for c in columns))


if __name__ == "__main__":
    main()
