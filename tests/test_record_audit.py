"""Tamper evidence, crashes and concurrent processes, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
from record_fixtures import me, prepare_request
from sqlalchemy import func, select

import chemo_orders.orderset  # noqa: F401 - imported before forking, so the children start warm
from chemo_orders.cli import main
from chemo_orders.errors import InputError
from chemo_orders.record import audit
from chemo_orders.record.db import Database
from chemo_orders.record.orders import BlockedPrepare, VerifyRequest, cancel, prepare, release, verify
from chemo_orders.record.schema import open_database
from chemo_orders.record.tables import AuditEvent, Order, PatientRow, User, WebSession

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
    verify(record, VerifyRequest(order.order_id, me("phil")))
    assert audit_verify(record, capsys) == (0, "audit chain intact; every recorded row matches its last event\n")
    sql, named = EDITS[edit]
    with record.engine.begin() as connection:
        connection.exec_driver_sql(sql)
    code, out = audit_verify(record, capsys)
    assert code == 4
    assert out.splitlines()[0].startswith(f"audit chain broken: {named}: "), out


# The keyed chain: someone who can write the database but has no key file (issue 19).


def _rechain_unkeyed(record: Database, start: int) -> None:
    """What an attacker without the key can do: recompute every link from ``start`` on."""
    with record.write() as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.seq >= start).order_by(AuditEvent.seq)))
        prev = session.scalar(select(AuditEvent.sha256).where(AuditEvent.seq == start - 1)) or audit.GENESIS
        for event in rows:
            event.prev_sha256 = prev
            event.sha256 = prev = audit._unkeyed_link(prev, event)


def test_a_rewritten_released_dose_with_recomputed_digests_is_named(
    record: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    order = prepare(record, prepare_request())
    verify(record, VerifyRequest(order.order_id, me("phil")))
    release(record, order.order_id, me("phil"))
    with record.read() as session:
        released = session.scalars(select(AuditEvent).where(AuditEvent.action == "released")).one().seq
    dose = next(o for o in order.calc["orders"] if o["drug"] == "rituximab")["final"]["value"]
    with record.write() as session:  # 481 -> 781 mg, say: the dose, then its row digest in the event
        row = session.get(Order, order.order_id)
        assert row is not None
        row.calc_json = row.calc_json.replace(f'"value":{dose}', f'"value":{dose + 300}')
        session.flush()
        event = session.get(AuditEvent, released)
        assert event is not None
        detail = json.loads(event.detail_json)
        detail["rows"][audit.row_key(row)] = audit.row_digest(row)
        event.detail_json = audit.canonical(detail)
    _rechain_unkeyed(record, released)
    code, out = audit_verify(record, capsys)
    assert code == 4
    assert out.splitlines()[0] == (
        f"audit chain broken: audit event {released}: its HMAC does not match its content (edited or inserted by hand)"
    )


def test_trimming_the_newest_events_is_named(record: Database, capsys: pytest.CaptureFixture[str]) -> None:
    order = prepare(record, prepare_request())
    verify(record, VerifyRequest(order.order_id, me("phil")))
    with record.read() as session:
        newest = session.scalar(select(func.max(AuditEvent.seq)))
    with record.engine.begin() as connection:  # the verification's event and its rows, gone
        connection.exec_driver_sql(f"DELETE FROM audit_events WHERE seq = {newest}")
        connection.exec_driver_sql("DELETE FROM verifications")
        connection.exec_driver_sql("UPDATE orders SET state = 'prepared'")
    code, out = audit_verify(record, capsys)
    assert code == 4
    assert out.splitlines()[0] == (
        f"audit chain broken: audit event {newest}: missing: the audit head file anchors it (newest events removed)"
    )
    with pytest.raises(audit.ChainBroken, match="nothing is written over it"):  # the evidence stays
        verify(record, VerifyRequest(order.order_id, me("phil")))


def test_a_wiped_record_is_named_and_not_written_over(record: Database, capsys: pytest.CaptureFixture[str]) -> None:
    prepare(record, prepare_request())
    with record.engine.begin() as connection:
        for table in ("audit_events", "acknowledgements", "exposures", "measurements", "orders", "patients"):
            connection.exec_driver_sql(f"DELETE FROM {table}")
    code, out = audit_verify(record, capsys)
    assert code == 4
    assert out.splitlines()[0] == (
        "audit chain broken: audit head file: anchors 6 events but the record has none (wiped or replaced)"
    )
    with pytest.raises(audit.ChainBroken):
        prepare(record, prepare_request())


def test_an_edited_web_session_is_named(record: Database, capsys: pytest.CaptureFixture[str]) -> None:
    from chemo_orders.web.security import end_session, session_user, start_session

    with record.read() as session:
        nina = session.scalars(select(User).where(User.name == "nina")).one()
    token = start_session(record, nina)
    signed_in = session_user(record, token)
    assert signed_in is not None and audit_verify(record, capsys)[0] == 0
    with record.read() as session:
        key = audit.row_key(session.scalars(select(WebSession)).one())
    with record.engine.begin() as connection:  # the nurse's session becomes pam's (a pharmacist)
        connection.exec_driver_sql("UPDATE web_sessions SET user_id = 1")
    code, out = audit_verify(record, capsys)
    assert code == 4
    assert out.splitlines()[0] == (
        f"audit chain broken: {key}: differs from what audit event 6 recorded (edited by hand)"
    )
    with record.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE web_sessions SET user_id = 3")
    end_session(record, token, signed_in)  # signing out deletes the row with an event
    assert audit_verify(record, capsys)[0] == 0
    with record.engine.begin() as connection:  # a session written in by hand
        connection.exec_driver_sql(
            "INSERT INTO web_sessions (token_sha256, user_id, csrf_token, created_at, expires_at) "
            f"VALUES ('{'a' * 64}', 1, 'x', '2026-01-01 00:00:00', '2099-01-01 00:00:00')"
        )
    code, out = audit_verify(record, capsys)
    assert (code, out.splitlines()[0]) == (
        4,
        f"audit chain broken: web_sessions:{'a' * 64}: no audit event created this row (inserted by hand)",
    )


def test_a_chain_made_with_another_key_fails(
    record: Database, capsys: pytest.CaptureFixture[str], audit_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHEMO_ORDERS_KEY_FILE", str(audit_key.parent / "other" / "audit.key"))
    code, out = audit_verify(record, capsys)  # the other key has no file yet: nothing to check with
    assert code == 4 and "audit key: no key file at" in out
    with pytest.raises(audit.ChainBroken, match=r"head file .* is missing but the chain is keyed"):
        prepare(record, prepare_request())  # the other key (made now) does not continue this chain
    code, out = audit_verify(record, capsys)
    assert code == 4 and out.splitlines()[0].startswith("audit chain broken: audit event 1: its HMAC does not match")


def test_the_key_file_is_private_and_refused_otherwise(
    record: Database, capsys: pytest.CaptureFixture[str], audit_key: Path
) -> None:
    assert audit_key.stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(audit_key.read_text())) == 32
    audit_key.chmod(0o640)
    assert main(["audit", "--verify", "--db", url_of(record)]) == 4
    assert "CHEMO_ORDERS_KEY_FILE" in capsys.readouterr().out
    with pytest.raises(InputError, match="CHEMO_ORDERS_KEY_FILE"):
        prepare(record, prepare_request())


def test_an_exported_checkpoint_is_signed_and_checked(
    record: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    order = prepare(record, prepare_request())
    checkpoint = tmp_path / "checkpoint.json"
    db = ["--db", url_of(record)]
    assert main(["audit", "--export", str(checkpoint), *db]) == 0
    saved = json.loads(checkpoint.read_text())
    assert (saved["seq"], saved["count"]) == (6, 6) and set(saved) == {"record", "seq", "count", "head", "at", "mac"}
    verify(record, VerifyRequest(order.order_id, me("phil")))
    capsys.readouterr()
    assert main(["audit", "--verify", "--checkpoint", str(checkpoint), *db]) == 0
    assert "contains checkpoint event 6" in capsys.readouterr().out
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**saved, "seq": 7}))
    assert main(["audit", "--verify", "--checkpoint", str(forged), *db]) == 4
    assert "audit checkpoint: its HMAC does not match" in capsys.readouterr().out
    key_head = Path(os.environ["CHEMO_ORDERS_KEY_FILE"] + ".head")
    key_head.unlink()  # and the record trimmed back to before the checkpoint
    with record.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM audit_events WHERE seq >= 6")
    assert main(["audit", "--verify", "--checkpoint", str(checkpoint), *db]) == 4
    assert "audit event 6: missing: the audit checkpoint anchors it" in capsys.readouterr().out


def test_every_state_change_is_an_event_with_who_and_why(record: Database) -> None:
    order = prepare(record, prepare_request())
    verify(record, VerifyRequest(order.order_id, me("phil")))
    release(record, order.order_id, me("phil"))
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
    cancel(record, prepare(record, prepare_request()).order_id, me("pam"), "set-up")
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
