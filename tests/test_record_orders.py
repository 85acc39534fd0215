"""The order record's life cycle on SQLite and on a real PostgreSQL server (design §10.5)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT
from record_fixtures import me, patient_file, prepare_request, token_for
from sqlalchemy import func, select

from chemo_orders.cli import main
from chemo_orders.errors import InputError
from chemo_orders.record import Refused, audit
from chemo_orders.record.calculation import RecalculationMismatch
from chemo_orders.record.db import Database
from chemo_orders.record.orders import (
    BlockedPrepare,
    PrepareRequest,
    VerifyRequest,
    cancel,
    list_orders,
    prepare,
    release,
    show,
    verify,
)
from chemo_orders.record.tables import AuditEvent, Order, PatientRow, User
from chemo_orders.record.users import (
    Identity,
    NewUser,
    add_user,
    find_user,
    hash_password,
    operating_system_user,
)

DOX_PRIOR = "400 mg/m**2"  # with R-CHOP's 50 mg/m² the total reaches DOS002's warning (80 % of 550)


def finding(calc: dict[str, Any], rule: str, containing: str = "") -> str:
    messages = [f["message"] for f in calc["findings"] if f["rule"] == rule and containing in f["message"]]
    assert len(messages) == 1, calc["findings"]
    return messages[0]


def prior_in(message: str) -> float:
    """DOS002's per-drug message: "doxorubicin cumulative … (prior 450.2 mg/m² + 50.16 mg/m²); …"."""
    found = re.search(r"prior ([0-9.,]+) mg/m²", message)
    assert found, message
    return float(found.group(1).replace(",", ""))


def dox_per_m2(calc: dict[str, Any]) -> float:
    order = next(o for o in calc["orders"] if o["drug"] == "doxorubicin")
    assert order["final"]["unit"] == "mg"
    return float(order["final"]["value"]) / calc["patient"]["bsa_m2"]


def count(record: Database, table: Any) -> int:
    with record.read() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_released_order_feeds_the_next_calculation(record: Database) -> None:
    first = prepare(record, prepare_request(prior_cumulative={"doxorubicin": DOX_PRIOR}))
    assert first.state == "prepared" and first.basis["counted_orders"] == []
    assert prior_in(finding(first.calc, "DOS002", "doxorubicin cumulative")) == 400
    assert verify(record, VerifyRequest(first.order_id, me("phil"))).order.state == "verified"
    released = release(record, first.order_id, me("phil"))
    assert (released.state, released.released_by, released.verified_by) == ("released", "phil", "phil")

    second = prepare(record, prepare_request(cycle=2, prior_cumulative={"doxorubicin": DOX_PRIOR}, weight="78 kg"))
    assert second.basis["counted_orders"] == [first.order_id]
    given = dox_per_m2(first.calc)
    assert second.basis["prior_cumulative_mg_per_m2"]["doxorubicin"] == pytest.approx(given)
    assert prior_in(finding(second.calc, "DOS002", "doxorubicin cumulative")) == pytest.approx(400 + given, abs=0.01)
    # WGT001 compares with the weight the released order was dosed on (90 kg), not the file.
    assert second.basis["previous_weight_kg"] == 90.0
    assert "90 kg" in finding(second.calc, "WGT001")


def test_cancelled_orders_do_not_count(record: Database) -> None:
    first = prepare(record, prepare_request())
    cancelled = cancel(record, first.order_id, me("priya"), "wrong cycle")
    assert (cancelled.state, cancelled.cancel_reason) == ("cancelled", "wrong cycle")
    second = prepare(record, prepare_request())
    assert second.basis["counted_orders"] == [] and second.basis["prior_cumulative_mg_per_m2"] == {}
    with pytest.raises(Refused, match="release needs a verified order"):
        release(record, first.order_id, me("phil"))


def test_an_order_not_yet_released_counts_toward_the_limit(record: Database) -> None:
    first = prepare(record, prepare_request())
    second = prepare(record, prepare_request(cycle=2))
    assert second.basis["counted_orders"] == [first.order_id]
    assert second.basis["previous_weight_kg"] is None  # nothing released: no weight dosed on yet


def test_the_preparer_cannot_verify_their_own_order(record: Database) -> None:
    order = prepare(record, prepare_request(user="pam"))
    with pytest.raises(Refused, match="second pharmacist"):
        verify(record, VerifyRequest(order.order_id, me("pam")))
    assert show(record, order.order_id).state == "prepared"


@pytest.mark.parametrize("who", ["nina", "priya", "ada"])
def test_only_a_pharmacist_verifies(record: Database, who: str) -> None:
    order = prepare(record, prepare_request())
    with pytest.raises(Refused, match="verification needs a pharmacist"):
        verify(record, VerifyRequest(order.order_id, me(who)))
    assert show(record, order.order_id).state == "prepared"


def test_a_nurse_cannot_prepare(record: Database) -> None:
    with pytest.raises(Refused, match="nurse"):
        prepare(record, prepare_request(user="nina"))
    assert count(record, Order) == 0


def test_transitions_out_of_order_are_refused(record: Database) -> None:
    order = prepare(record, prepare_request())
    with pytest.raises(Refused, match="release needs a verified order"):
        release(record, order.order_id, me("phil"))
    verify(record, VerifyRequest(order.order_id, me("phil")))
    with pytest.raises(Refused, match="verification needs a prepared order"):
        verify(record, VerifyRequest(order.order_id, me("phil")))
    release(record, order.order_id, me("pam"))
    with pytest.raises(Refused, match="only prepared or verified"):
        cancel(record, order.order_id, me("pam"), "too late")
    with pytest.raises(InputError, match="no such order"):
        release(record, 999, me("pam"))
    with pytest.raises(Refused, match="nobody is not a user of this record"):
        verify(record, VerifyRequest(order.order_id, Identity(99, "nobody")))
    refusals = [e.action for e in _events(record) if e.action == "refused"]
    assert len(refusals) == 4  # every refusal is audited, with who and why


def test_a_blocked_prepare_records_only_the_audit_event(record: Database) -> None:
    with pytest.raises(BlockedPrepare) as raised:
        prepare(record, prepare_request(prior_cumulative={"doxorubicin": "540 mg/m**2"}))
    assert raised.value.calc["status"] == "blocked"
    assert count(record, Order) == 0 and count(record, PatientRow) == 0
    event = _events(record)[-1]
    detail = json.loads(event.detail_json)
    assert (event.action, event.actor, detail["findings"], detail["rows"]) == ("refused", "pam", ["DOS002"], {})


def test_a_held_prepare_goes_ahead_only_with_an_acknowledgement(record: Database) -> None:
    seventeen = {"id": "MRN-17", "name": "Young, Adult", "birth_date": dt.date(2009, 6, 1), "weight": "70 kg"}
    with pytest.raises(BlockedPrepare) as raised:
        prepare(record, prepare_request(**seventeen))  # R-CHOP is an adult regimen: AGE001 holds
    assert raised.value.calc["status"] == "held" and count(record, Order) == 0
    assert json.loads(_events(record)[-1].detail_json)["findings"] == ["AGE001"]
    request = prepare_request(**seventeen)
    acknowledged = PrepareRequest(**{**request.__dict__, "acknowledgements": (("AGE001", "tumour board 2026-11-20"),)})
    order = prepare(record, acknowledged)
    assert order.state == "prepared" and order.acknowledgements == (("AGE001", "tumour board 2026-11-20"),)


def test_acknowledgements_are_stored_and_shown(record: Database) -> None:
    request = prepare_request(prior_cumulative={"doxorubicin": DOX_PRIOR})
    acknowledged = PrepareRequest(**{**request.__dict__, "acknowledgements": (("dos002", "cardio-oncology ok"),)})
    order = prepare(record, acknowledged)
    assert show(record, order.order_id).as_json()["acknowledgements"] == [
        {"rule": "DOS002", "reason": "cardio-oncology ok"}
    ]
    assert order.calc["acknowledgements"] == [{"rule": "DOS002", "reason": "cardio-oncology ok"}]


def test_the_same_id_for_another_patient_is_refused(record: Database) -> None:
    prepare(record, prepare_request())
    with pytest.raises(InputError, match="wrong patient file"):
        prepare(record, prepare_request(name="Someone, Else"))


RELAPSED = ROOT / "samples" / "patients" / "relapsed-dlbcl.yaml"
PRESCRIPTIONS = ROOT / "samples" / "prescriptions"


def _r_ice(record: Database) -> int:
    request = PrepareRequest(RELAPSED.read_bytes(), str(RELAPSED), "r-ice", me("pam"), on=prepare_request().on)
    return prepare(record, request).order_id


def test_verify_with_an_independent_prescription(record: Database) -> None:
    order_id = _r_ice(record)
    wrong = (PRESCRIPTIONS / "r-ice-relapsed-dlbcl-errors.yaml").read_bytes()
    outcome = verify(record, VerifyRequest(order_id, me("phil"), wrong))
    assert not outcome.passed and outcome.order.state == "prepared"
    assert _events(record)[-1].action == "verify-discrepancy"
    right = (PRESCRIPTIONS / "r-ice-relapsed-dlbcl.yaml").read_bytes()
    outcome = verify(record, VerifyRequest(order_id, me("phil"), right))
    assert outcome.passed and outcome.order.state == "verified"
    assert outcome.order.verification is not None and outcome.order.verification["status"] == "ok"


def test_a_prescription_for_another_regimen_is_bad_input(record: Database) -> None:
    order = prepare(record, prepare_request())
    right = (PRESCRIPTIONS / "r-ice-relapsed-dlbcl.yaml").read_bytes()
    with pytest.raises(InputError, match="not for order"):
        verify(record, VerifyRequest(order.order_id, me("phil"), right))


def test_pdf_re_renders_the_same_bytes_with_the_regimen_pinned(
    record: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pypdf import PdfReader

    from chemo_orders.record.orders import pdf

    order = prepare(record, prepare_request())
    first = pdf(record, order.order_id)
    # The library's regimen changes after the order was prepared: the stored order does not.
    library = ROOT / "regimens" / "r-chop.yaml"
    changed = tmp_path / "r-chop.yaml"
    changed.write_text(library.read_text().replace("dose: 50 mg/m**2", "dose: 40 mg/m**2"))
    monkeypatch.setattr("chemo_orders.regimen.regimen_paths", lambda: {"r-chop": changed})
    # So does a later version of the engine that calculates the same.
    monkeypatch.setattr("chemo_orders.orderset.__version__", "9.9.9")
    monkeypatch.setattr("chemo_orders.render.__version__", "9.9.9")
    again = pdf(record, order.order_id)
    assert again == first
    attached = PdfReader(__import__("io").BytesIO(again)).attachments["calculation.json"][0]
    assert json.loads(attached) == order.calc
    # Verifying against a prescription needs today's library to be the pinned version.
    right = (PRESCRIPTIONS / "r-ice-relapsed-dlbcl.yaml").read_text().replace("r-ice", "r-chop")
    with pytest.raises(Refused, match="changed since order"):
        verify(record, VerifyRequest(order.order_id, me("phil"), right.encode()))
    # A stored record the engine does not reproduce is not rendered as if it were the order.
    with record.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE orders SET calc_json = replace(calc_json, '\"mg\"', '\"g\"')")
    with pytest.raises(RecalculationMismatch, match="orders"):
        pdf(record, order.order_id)


def test_list_filters_by_patient_and_state(record: Database) -> None:
    a = prepare(record, prepare_request())
    b = prepare(record, prepare_request(id="MRN-2", name="Other, Patient"))
    verify(record, VerifyRequest(b.order_id, me("phil")))
    assert [r.order_id for r in list_orders(record)] == [a.order_id, b.order_id]
    assert [r.order_id for r in list_orders(record, patient_id="MRN-2")] == [b.order_id]
    assert [r.order_id for r in list_orders(record, state="prepared")] == [a.order_id]


def _events(record: Database) -> list[AuditEvent]:
    with record.read() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


# The command line (in process: the exit codes and JSON of the contract).


ORDER_KEYS = {"order_id", "state", "patient_id", "regimen", "cycle", "calc"}


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_command_line_contract(
    record: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ["--db", record.engine.url.render_as_string(hide_password=False)]
    tokens = {name: token_for(record, name) for name in ("pam", "phil", "nina")}

    def as_(name: str, *args: str | Path) -> tuple[int, str, str]:
        monkeypatch.setenv("CHEMO_ORDERS_TOKEN", tokens[name])
        return cli(capsys, *args, "--user", name, *db)

    patient = tmp_path / "patient.yaml"
    patient.write_bytes(patient_file())
    base = ["orders", "prepare", patient, "--regimen", "r-chop", "--date", "2026-11-22"]
    code, out, _ = as_("pam", *base, "--json")
    prepared = json.loads(out)
    assert code == 0 and set(prepared) >= ORDER_KEYS and prepared["state"] == "prepared"
    assert prepared["calc"]["status"] == "ok" and prepared["regimen"] == "r-chop" and prepared["cycle"] == 1
    order_id = str(prepared["order_id"])
    assert as_("pam", "orders", "verify", order_id)[0] == 3
    assert as_("nina", "orders", "verify", order_id)[0] == 3
    assert as_("phil", "orders", "release", order_id)[0] == 3
    assert as_("phil", "orders", "verify", order_id)[0] == 0
    assert as_("phil", "orders", "release", order_id)[0] == 0
    code, out, _ = cli(capsys, "orders", "show", order_id, "--json", *db)
    assert code == 0 and json.loads(out)["state"] == "released" and set(json.loads(out)) >= ORDER_KEYS
    code, out, _ = cli(capsys, "orders", "list", "--patient", "MRN-100007", "--json", *db)
    assert code == 0 and [o["state"] for o in json.loads(out)["orders"]] == ["released"]
    assert set(json.loads(out)["orders"][0]) >= ORDER_KEYS
    code, _, err = cli(capsys, "orders", "show", "999", *db)
    assert code == 2 and "no such order" in err
    assert cli(capsys, "orders", "show", "abc", *db)[0] == 2
    code, out, err = as_("pam", *base, "--acknowledge", "DOS002")
    assert code == 2 and "--reason" in err  # an acknowledgement without its reason
    blocked = tmp_path / "blocked.yaml"
    blocked.write_bytes(patient_file(prior_cumulative={"doxorubicin": "540 mg/m**2"}))
    code, out, err = as_("pam", "orders", "prepare", blocked, "--regimen", "r-chop", "--json")
    assert code == 3 and json.loads(out)["status"] == "blocked" and "nothing recorded" in err
    code, out, _ = cli(capsys, "audit", "--verify", *db)
    assert code == 0 and "intact" in out
    pdf = tmp_path / "order.pdf"
    assert cli(capsys, "orders", "pdf", order_id, "-o", pdf, *db)[0] == 0
    assert pdf.read_bytes().startswith(b"%PDF")


def test_release_holds_an_order_prepared_without_its_criteria_labs(record: Database) -> None:
    """LAB001 (design §11.2): labs not given at prepare are a warning; release needs the values."""
    order = prepare(record, prepare_request(labs={"bilirubin": "0.6 mg/dL", "lvef_percent": 58}))
    assert {f["severity"] for f in order.calc["findings"] if f["rule"] == "LAB001"} == {"warn"}
    verify(record, VerifyRequest(order.order_id, me("phil")))
    with pytest.raises(Refused, match="anc, platelets"):
        release(record, order.order_id, me("phil"))
    assert show(record, order.order_id).state == "verified"
    released = release(record, order.order_id, me("phil"), labs_checked="ANC 2.4, platelets 210 (ward, 08:10)")
    assert released.state == "released"
    with record.read() as session:
        detail = [json.loads(e.detail_json) for e in audit.events(session) if e.action == "released"][-1]
    assert detail["labs_checked"] == "ANC 2.4, platelets 210 (ward, 08:10)"
    assert detail["criteria_labs"] == ["anc", "platelets"]


# People prove who they are (design §11.6, issue 19).


def test_record_commands_act_only_for_a_proven_person(
    record: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ["--db", record.engine.url.render_as_string(hide_password=False)]
    patient = tmp_path / "patient.yaml"
    patient.write_bytes(patient_file())
    prepare_as = ["orders", "prepare", patient, "--regimen", "r-chop", "--date", "2026-11-22", *db]
    code, out, err = cli(capsys, *prepare_as, "--user", "pam")  # no token, no password
    assert (code, out) == (3, "") and err.count("\n") == 1 and "CHEMO_ORDERS_TOKEN" in err
    monkeypatch.setenv("CHEMO_ORDERS_TOKEN", token_for(record, "phil"))
    code, _, err = cli(capsys, *prepare_as, "--user", "pam")  # phil's token does not make him pam
    assert code == 3 and err == "chemo-orders: refused: pam: wrong user name or token\n"
    code, out, _ = cli(capsys, *prepare_as, "--user", "PHIL", "--json")  # names are case-insensitive
    assert code == 0 and json.loads(out)["prepared_by"] == "phil"
    with record.write() as session:  # pam sets a password (an administrator's act in this test)
        session.scalars(select(User).where(User.name == "pam")).one().password_hash = hash_password("pam-pass-1")
    monkeypatch.delenv("CHEMO_ORDERS_TOKEN")
    order_id = str(json.loads(out)["order_id"])
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong-pass\n"))
    assert cli(capsys, "orders", "verify", order_id, "--user", "pam", "--password-stdin", *db)[0] == 3
    monkeypatch.setattr("sys.stdin", io.StringIO("pam-pass-1\n"))
    code, out, _ = cli(capsys, "orders", "verify", order_id, "--user", "pam", "--password-stdin", "--json", *db)
    assert code == 0 and json.loads(out)["verified_by"] == "pam"
    failed = [json.loads(e.detail_json) for e in _events(record) if e.action == "authentication-failed"]
    assert [(f["user"], f["by"]) for f in failed] == [("pam", "token"), ("pam", "password")]
    assert all(f["os_user"] for f in failed)


@pytest.mark.parametrize(
    "name", ["p\u0430m", "pa\u200bm", "\u202epam", "pam\u2066", "two words", "o'brien", "", "x" * 65]
)
def test_look_alike_user_names_are_refused_naming_the_field(
    record: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    db = ["--db", record.engine.url.render_as_string(hide_password=False)]
    code, _, err = cli(capsys, "users", "add", name, "--role", "pharmacist", *db)
    assert code == 2 and err.startswith("chemo-orders: error: NAME: a user name is 1-64 ASCII letters"), err
    patient = tmp_path / "patient.yaml"
    patient.write_bytes(patient_file())
    code, _, err = cli(capsys, "orders", "prepare", patient, "--regimen", "r-chop", "--user", name, *db)
    assert code == 2 and err.startswith("chemo-orders: error: --user: a user name"), err


def test_user_names_are_one_spelling(record: Database) -> None:
    with pytest.raises(InputError, match="exists"), record.write() as session:
        add_user(session, NewUser("PAM", "nurse"))
    with pytest.raises(InputError, match="exists"), record.write() as session:
        add_user(session, NewUser("\uff50\uff41\uff4d", "nurse"))  # fullwidth: NFKC makes it pam
    with record.write() as session:
        assert add_user(session, NewUser("Dr.Rx_2-b", "pharmacist")).name == "dr.rx_2-b"
    with record.read() as session:
        assert find_user(session, "DR.RX_2-B").name == "dr.rx_2-b"


def test_a_legacy_mixed_case_name_keeps_working(record: Database) -> None:
    with record.engine.begin() as connection:  # stored before names had one spelling
        connection.exec_driver_sql("UPDATE users SET name = 'Pam' WHERE name = 'pam'")
    with record.read() as session:
        assert find_user(session, "pam").name == "Pam"
    order = prepare(record, prepare_request(user="phil"))
    assert verify(record, VerifyRequest(order.order_id, Identity(1, "Pam"))).order.verified_by == "Pam"


def test_users_add_is_audited_with_the_operating_system_user(record: Database) -> None:
    added = [json.loads(e.detail_json) for e in _events(record) if e.action == "user-added"]
    assert [a["user"] for a in added] == ["pam", "phil", "nina", "priya", "ada"]
    assert {a["os_user"] for a in added} == {operating_system_user()} and operating_system_user()


def test_a_prescriber_does_not_acknowledge_a_hold(record: Database) -> None:
    seventeen = {"id": "MRN-17", "name": "Young, Adult", "birth_date": dt.date(2009, 6, 1), "weight": "70 kg"}
    request = prepare_request(user="priya", **seventeen)
    acknowledged = PrepareRequest(**{**request.__dict__, "acknowledgements": (("AGE001", "tumour board"),)})
    with pytest.raises(Refused, match="priya is a prescriber; acknowledging the hold AGE001 needs a pharmacist"):
        prepare(record, acknowledged)
    assert count(record, Order) == 0 and _events(record)[-1].action == "refused"
    warned = prepare_request(user="priya", prior_cumulative={"doxorubicin": DOX_PRIOR})
    order = prepare(record, PrepareRequest(**{**warned.__dict__, "acknowledgements": (("DOS002", "cardiology"),)}))
    assert order.prepared_by == "priya"  # a warning is the preparer's to acknowledge


def test_a_role_changed_since_signing_in_counts_at_once(record: Database) -> None:
    order = prepare(record, prepare_request())
    with record.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE users SET role = 'nurse' WHERE name = 'phil'")
    with pytest.raises(Refused, match="phil is a nurse"):
        verify(record, VerifyRequest(order.order_id, me("phil")))


def test_the_record_knows_the_plan_and_holds_a_course_before_it_is_due(record: Database) -> None:
    """Issue 20: a course prepared with its plan; the record says which course is next and when,
    and refuses (CYC001, exit 3 on the CLI) a course ordered sooner than it is due."""
    from chemo_orders.record.orders import next_course

    all_patient = patient_file(
        diagnosis="b-all",
        disease_status="newly-diagnosed",
        markers={"philadelphia": "negative"},
        labs={"anc": "2 x10^9/L", "platelets": "150 x10^9/L", "bilirubin": "0.6 mg/dL", "lvef_percent": 58},
    )
    start = dt.date(2026, 11, 2)
    first = PrepareRequest(all_patient, "test", "hyper-cvad-a", me("pam"), cycle=1, on=start, plan="hyper-cvad")
    prepare(record, first)
    found = next_course(record, "MRN-100007")
    assert (found.plan, found.course, found.regimen, found.cycle) == ("hyper-cvad", 2, "hyper-cvad-b", 2)
    assert found.due == start + dt.timedelta(days=21)
    early = PrepareRequest(
        all_patient, "test", "hyper-cvad-b", me("pam"), cycle=2, on=start + dt.timedelta(days=4), plan="hyper-cvad"
    )
    with pytest.raises(BlockedPrepare) as refused:
        prepare(record, early)
    assert "CYC001" in {f["rule"] for f in refused.value.calc["findings"]}
    with pytest.raises(InputError, match="not a course of this plan"):
        prepare(record, PrepareRequest(all_patient, "test", "r-chop", me("pam"), cycle=1, on=start, plan="hyper-cvad"))


def test_the_paper_says_what_it_is(record: Database) -> None:
    """Design §11.5: a recorded order prints its number and state on every page, a DRAFT mark
    until verified, and who prepared, verified and released it once released."""
    import io

    from pypdf import PdfReader

    from chemo_orders.record.orders import pdf

    def pages(order_id: int) -> list[str]:
        return [p.extract_text() for p in PdfReader(io.BytesIO(pdf(record, order_id))).pages]

    order = prepare(record, prepare_request())
    prepared = pages(order.order_id)
    assert all(f"Order {order.order_id} · prepared" in text for text in prepared)
    assert all("DRAFT — NOT VERIFIED" in text for text in prepared)
    verify(record, VerifyRequest(order.order_id, me("phil"), reason="checked by hand against the protocol"))
    verified = pages(order.order_id)
    assert all(f"Order {order.order_id} · verified" in text for text in verified)
    assert not any("DRAFT — NOT VERIFIED" in text for text in verified)
    assert "Verification reason: checked by hand" in " ".join(verified)
    release(record, order.order_id, me("phil"))
    released = " ".join(" ".join(pages(order.order_id)).split())
    for role, name in (("Prepared by", "pam"), ("Verified by", "phil"), ("Released by", "phil")):
        assert f"{role} {name}, " in released, role
