"""Tamper evidence, crashes and concurrent processes, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
import multiprocessing
import os
from typing import Any

import pytest
from record_fixtures import prepare_request
from sqlalchemy import func, select

import chemo_orders.orderset  # noqa: F401 - imported before forking, so the children start warm
from chemo_orders.cli import main
from chemo_orders.record import audit
from chemo_orders.record.db import Database
from chemo_orders.record.orders import BlockedPrepare, VerifyRequest, cancel, prepare, release, verify
from chemo_orders.record.schema import open_database
from chemo_orders.record.tables import AuditEvent, Order, PatientRow

FORK = multiprocessing.get_context("fork")


def url_of(record: Database) -> str:
    return record.engine.url.render_as_string(hide_password=False)


def audit_verify(record: Database, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "--verify", "--db", url_of(record)])
    return code, capsys.readouterr().out


# Users 1-5 (pam, phil, nina, priya, ada) are events 1-5; order 1 prepared is event 6, verified 7.
EDITS = {
    "an exposure that feeds the cumulative limit": ("UPDATE exposures SET mg_per_m2 = 1", "orders:1"),
    "a state": ("UPDATE orders SET state = 'released'", "orders:1"),
    "a dose in the calc record": ("UPDATE orders SET calc_json = replace(calc_json, '\"mg\"', '\"g\"')", "orders:1"),
    "the weight dosed on": ("UPDATE measurements SET weight_kg = 60", "orders:1"),
    "a role": ("UPDATE users SET role = 'pharmacist' WHERE name = 'nina'", "users:3"),
    "who verified": ("UPDATE verifications SET pharmacist_id = 1", "verifications:1"),
    "an added acknowledgement": (
        "INSERT INTO acknowledgements (order_id, rule, reason) VALUES (1, 'DOS002', 'added later')",
        "orders:1",
    ),
    "an audit event": ("UPDATE audit_events SET actor = 'phil' WHERE seq = 6", "audit event 6"),
    "a deleted audit event": ("DELETE FROM audit_events WHERE seq = 3", "audit event 4"),
}


@pytest.mark.parametrize("edit", EDITS)
def test_audit_verify_names_a_row_edited_by_hand(
    record: Database, capsys: pytest.CaptureFixture[str], edit: str
) -> None:
    order = prepare(record, prepare_request())
    verify(record, VerifyRequest(order.order_id, "phil"))
    assert audit_verify(record, capsys) == (0, "audit chain intact; every recorded row matches its last event\n")
    sql, named = EDITS[edit]
    with record.engine.begin() as connection:
        connection.exec_driver_sql(sql)
    code, out = audit_verify(record, capsys)
    assert code == 4
    assert out.splitlines()[0].startswith(f"audit chain broken: {named}: "), out


def test_every_state_change_is_an_event_with_who_and_why(record: Database) -> None:
    order = prepare(record, prepare_request())
    verify(record, VerifyRequest(order.order_id, "phil"))
    release(record, order.order_id, "phil")
    with record.read() as session:
        events = [(e.actor, e.action) for e in audit.events(session, order.order_id)]
        first = session.scalar(select(AuditEvent).order_by(AuditEvent.seq).limit(1))
    assert events == [("pam", "prepared"), ("phil", "verified"), ("phil", "released")]
    assert first is not None and first.prev_sha256 == audit.GENESIS


# A crash in the middle of a transaction.


def _prepare_then_die(url: str) -> None:
    """Dies (no clean-up, no rollback) after the order is written, before its audit event."""
    database = open_database(url)

    def die(*args: Any, **kwargs: Any) -> None:
        os._exit(9)

    audit.append = die  # type: ignore[assignment]  # this child process only
    prepare(database, prepare_request())


def test_a_crash_mid_transaction_leaves_no_half_order(record: Database, capsys: pytest.CaptureFixture[str]) -> None:
    record.engine.dispose()  # the child opens its own connections
    child = FORK.Process(target=_prepare_then_die, args=(url_of(record),))
    child.start()
    child.join(60)
    assert child.exitcode == 9
    with record.read() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0
        assert session.scalar(select(func.count()).select_from(PatientRow)) == 0
    assert audit_verify(record, capsys)[0] == 0
    assert prepare(record, prepare_request()).state == "prepared"  # the lock died with the process


# Concurrent processes.

WORKERS = 4


def _prepare_at_once(url: str, barrier: Any, results: Any, prior: str, cycle: int) -> None:
    database = open_database(url)
    barrier.wait(30)
    try:
        order = prepare(database, prepare_request(cycle=cycle, prior_cumulative={"doxorubicin": prior}))
        results.put(("prepared", order.order_id, order.basis["counted_orders"]))
    except BlockedPrepare as error:
        results.put((error.calc["status"], None, None))
    except Exception as error:  # reported, so that the test fails with the cause, not a timeout
        results.put((repr(error), None, None))
    finally:
        database.close()


def _race(record: Database, prior: str) -> list[tuple[str, int | None, list[int] | None]]:
    """WORKERS processes prepare for one patient at once. The patient's row exists already (an
    order prepared and cancelled), so the processes race for its lock, not to insert it."""
    cancel(record, prepare(record, prepare_request()).order_id, "pam", "set-up")
    record.engine.dispose()
    barrier, results = FORK.Barrier(WORKERS), FORK.Queue()
    workers = [
        # successive cycles (a duplicate cycle would be held by CYC001 before the race matters)
        FORK.Process(target=_prepare_at_once, args=(url_of(record), barrier, results, prior, n + 2))
        for n in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    return outcomes


def test_concurrent_prepares_for_one_patient_each_see_the_ones_before(record: Database) -> None:
    outcomes = _race(record, "0 mg/m**2")
    assert {status for status, _, _ in outcomes} == {"prepared"}
    seen = sorted((order_id, counted) for _, order_id, counted in outcomes)
    # Serialised per patient: every order counted exactly the orders committed before it.
    assert [counted for _, counted in seen] == [[order_id for order_id, _ in seen[:i]] for i in range(WORKERS)]


def test_concurrent_prepares_cannot_both_pass_a_limit_only_one_fits(
    record: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    # 460 + ~50.2 mg/m² fits under doxorubicin's 550 mg/m²; a second ~50.2 does not.
    outcomes = _race(record, "460 mg/m**2")
    assert sorted(status for status, _, _ in outcomes) == ["blocked"] * (WORKERS - 1) + ["prepared"]
    with record.read() as session:
        assert session.scalar(select(func.count()).select_from(Order).where(Order.state == "prepared")) == 1
        refused = [json.loads(e.detail_json) for e in audit.events(session) if e.action == "refused"]
    assert [r["findings"] for r in refused] == [["DOS002"]] * (WORKERS - 1)
    assert audit_verify(record, capsys)[0] == 0
