"""Verification under hostile or unusual input (issue 10, item 7; design §10.3).

A malformed dose or an unknown drug is bad input (exit 2), never a verdict; a duplicated
line is a ``duplicate line``; a forbidden route is a ``wrong route`` and exit 3; the stricter
of ``--tolerance`` and a policy wins and the report says which; the CSV report never hands a
spreadsheet a formula; one bad prescription never stops a batch.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, make_patient, options, verify
from hypothesis import given
from hypothesis import strategies as st

from chemo_orders.cli import main
from chemo_orders.errors import InputError
from chemo_orders.models import validate
from chemo_orders.rounding import RoundingPolicy
from chemo_orders.verify import Prescription, Verification
from chemo_orders.verify_report import FORMULA_START, csv_report, spreadsheet_safe

SAMPLES = ROOT / "samples"
PATIENT = SAMPLES / "patients" / "relapsed-dlbcl.yaml"
CLEAN = SAMPLES / "prescriptions" / "r-ice-relapsed-dlbcl.yaml"
DATE = ["--date", "2026-11-22"]

# make_patient(): BSA 1.972 m², rituximab 739.5 mg on day 1 of R-ICE (see test_verify.py).
RITUXIMAB = {"drug": "rituximab", "day": 1, "dose": "740 mg"}


def check(doses: list[dict[str, Any]], tolerance: float = 5, policy: RoundingPolicy | None = None) -> Verification:
    prescription = validate(Prescription, {"regimen": "r-ice", "doses": doses}, "test")
    return verify(make_patient(), prescription, options(policy=policy), tolerance)


def line(result: Verification, drug: str) -> Any:
    return next(x for x in result.lines if x.drug == drug)


def write_prescription(tmp_path: Path, doses: list[dict[str, Any]], name: str = "rx.yaml", **extra: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"regimen": "r-ice", "cycle": 1, "doses": doses, **extra}, allow_unicode=True))
    return path


# --- malformed doses and unknown drugs are bad input -----------------------------------------


@pytest.mark.parametrize("dose", ["-700 mg", "−700 mg", "0 mg", "0.0 mg", "mg", "seven hundred mg", "700", "7,00 mg"])
def test_a_malformed_dose_is_exit_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dose: str
) -> None:
    rx = write_prescription(tmp_path, [{**RITUXIMAB, "dose": dose}])
    assert main(["verify", str(PATIENT), "--prescribed", str(rx), *DATE]) == 2
    assert "doses.0.dose" in capsys.readouterr().err


@pytest.mark.parametrize("drug", ["=cmd|' /C calc'!A0", "rituxan-ish", "", "   "])
def test_an_unknown_drug_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], drug: str) -> None:
    rx = write_prescription(tmp_path, [{**RITUXIMAB, "drug": drug}])
    assert main(["verify", str(PATIENT), "--prescribed", str(rx), *DATE]) == 2
    assert "doses.0.drug" in capsys.readouterr().err


@pytest.mark.parametrize("spelling", ["riTUXimab", "RITUXIMAB", "  rituximab "])
def test_a_drug_written_as_the_pdf_prints_it_is_the_same_drug(spelling: str) -> None:
    result = check([{**RITUXIMAB, "drug": spelling}])
    assert line(result, "rituximab").verdict == "ok"


# --- duplicated lines and forbidden routes ----------------------------------------------------


def test_a_duplicated_line_is_a_duplicate_not_a_wrong_day() -> None:
    result = check([RITUXIMAB, RITUXIMAB])
    verdicts = [x.verdict for x in result.lines if x.drug == "rituximab"]
    assert verdicts == ["ok", "duplicate line"]
    assert not result.passed and result.status == "discrepancy"


@pytest.mark.parametrize(
    ("drug", "route", "why"),
    [
        ("vincristine", "intrathecal", "vinca alkaloids are IV only"),
        ("vincristine", "IM", "vinca alkaloids are IV only"),
        ("etoposide", "IT", "not a drug given intrathecally"),
        ("rituximab", "intrathecal", "not a drug given intrathecally"),
    ],
)
def test_a_forbidden_route_is_a_wrong_route_and_refused(drug: str, route: str, why: str) -> None:
    result = check([{"drug": drug, "day": 1, "dose": "2 mg", "route": route}])
    found = line(result, drug)
    assert found.verdict == "wrong route" and why in found.detail
    assert result.refused and result.status == "blocked" and not result.passed


def test_an_intrathecal_drug_intrathecally_is_not_a_wrong_route() -> None:
    result = check([{"drug": "methotrexate", "day": 1, "dose": "12 mg", "route": "intrathecal"}])
    assert line(result, "methotrexate").verdict == "not in regimen" and not result.refused


def test_wrong_route_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doses = yaml.safe_load(CLEAN.read_text())["doses"] + [
        {"drug": "vinCRIStine", "day": 1, "dose": "2 mg", "route": "IT"}
    ]
    rx = write_prescription(tmp_path, doses)
    assert main(["verify", str(PATIENT), "--prescribed", str(rx), "--json", *DATE]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "blocked"
    assert [x["verdict"] for x in data["lines"] if x["drug"] == "vincristine"] == ["wrong route"]


# --- the stricter tolerance wins, and the report says which -----------------------------------


def policy(percent: float, **drugs: Any) -> RoundingPolicy:
    data = {"name": "Ward policy", "source": "test", "max_deviation_percent": percent, "drugs": drugs}
    return validate(RoundingPolicy, data, "test")


def rituximab_off_by(percent: float) -> list[dict[str, Any]]:
    return [{**RITUXIMAB, "dose": f"{739.5 * (1 + percent / 100):.1f} mg"}]


def test_a_stricter_policy_overrides_a_looser_tolerance() -> None:
    result = check(rituximab_off_by(7), tolerance=10, policy=policy(5))
    found = line(result, "rituximab")
    assert found.verdict == "outside tolerance"
    assert found.tolerance.percent == 5 and "max_deviation_percent of policy 'Ward policy'" in found.tolerance.applied
    assert result.tolerance_percent == 5 and "policy" in result.tolerance.applied


def test_a_stricter_tolerance_overrides_a_looser_policy() -> None:
    # Before: the policy's drug limit silently replaced --tolerance, so 4 % passed at --tolerance 2.
    result = check(rituximab_off_by(4), tolerance=2, policy=policy(8, rituximab={"increment": "100 mg"}))
    found = line(result, "rituximab")
    assert found.verdict == "outside tolerance" and found.tolerance.applied == "option --tolerance"


def test_a_drug_limit_of_the_policy_applies_to_that_drug_only() -> None:
    rule = {"increment": "100 mg", "max_deviation_percent": 1}
    result = check(
        [*rituximab_off_by(3), {"drug": "etoposide", "day": 1, "dose": "203 mg"}], 5, policy(5, rituximab=rule)
    )
    assert line(result, "rituximab").verdict == "outside tolerance"
    assert "drugs.rituximab.max_deviation_percent" in line(result, "rituximab").tolerance.applied
    assert line(result, "etoposide").verdict == "ok"  # +2.9 % against 5 %


def test_the_reports_say_which_tolerance_applied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rule_file = tmp_path / "policy.yaml"
    rule_file.write_text(yaml.safe_dump({"name": "Ward policy", "source": "test", "max_deviation_percent": 3}))
    argv = ["verify", str(PATIENT), "--prescribed", str(CLEAN), "--tolerance", "10%", "--policy", str(rule_file)]
    main([*argv, "--json", *DATE])
    data = json.loads(capsys.readouterr().out)
    assert data["tolerance_percent"] == 3 and "Ward policy" in data["tolerance_applied"]
    assert {x["tolerance_percent"] for x in data["lines"] if x["verdict"] == "ok"} == {3}
    main([*argv, *DATE])
    assert "tolerance 3% (max_deviation_percent of policy 'Ward policy')" in " ".join(capsys.readouterr().out.split())


# --- the CSV report never hands a spreadsheet a formula ---------------------------------------


@given(st.text(max_size=20))
def test_no_text_cell_starts_a_formula(text: str) -> None:
    cell = spreadsheet_safe(text)
    assert isinstance(cell, str) and not cell.startswith(FORMULA_START)
    assert cell in (text, "'" + text)


def test_the_csv_report_neutralises_every_text_cell_and_keeps_numbers() -> None:
    rows: list[dict[str, object]] = [
        {"row": "=1+1", "patient": "+p.yaml", "prescription": "@rx.yaml", "drug": "-x", "detail": "\tq"},
        {"row": "r", "drug": '=HYPERLINK("http://x")', "verdict": "\rok", "deviation_percent": -3.2},
    ]
    read = list(csv.DictReader(io.StringIO(csv_report(rows).decode())))
    for row in read:
        texts = [value for key, value in row.items() if key != "deviation_percent"]
        assert not any(value.startswith(FORMULA_START) for value in texts)
    assert read[0]["drug"] == "'-x" and read[1]["drug"].startswith("'=HYPERLINK")
    assert read[1]["deviation_percent"] == "-3.2"  # a number we wrote stays a number


# --- verify --batch: one bad prescription never stops the others ------------------------------


def test_a_bad_prescription_does_not_stop_the_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = yaml.safe_load(CLEAN.read_text())
    write_prescription(tmp_path, clean["doses"], "a-clean.yaml", patient=str(PATIENT))
    write_prescription(tmp_path, [{**RITUXIMAB, "dose": "0 mg"}], "b-zero.yaml", patient=str(PATIENT))
    write_prescription(tmp_path, [{**RITUXIMAB, "drug": "=cmd"}], "c-drug.yaml", patient=str(PATIENT))
    write_prescription(tmp_path, clean["doses"], "d-dev-zero.yaml", patient="/dev/zero")
    (tmp_path / "e-garbage.yaml").write_bytes(b"\xff\xfe not yaml")
    report = tmp_path / "report.csv"
    code = main(["verify", "--batch", str(tmp_path), "--report", str(report), *DATE])
    out = capsys.readouterr().out
    assert code == 2, out
    assert "5 pair(s): error 4, ok 1" in out
    for name, problem in [
        ("b-zero.yaml", "a dose must be above zero"),
        ("c-drug.yaml", "unknown drug name"),
        ("d-dev-zero.yaml", "not a regular file"),
        ("e-garbage.yaml", "not UTF-8"),
    ]:
        assert any(x.startswith(f"error: {name}: ") and problem in x for x in out.splitlines()), name
    statuses = Counter(row["status"] for row in csv.DictReader(io.StringIO(report.read_text())))
    assert statuses["error"] == 4 and statuses["ok"] > 1


def test_a_batch_csv_with_bom_and_crlf_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "pairs.csv"
    source.write_bytes(b"\xef\xbb\xbfpatient,prescribed\r\n" + f"{PATIENT},{CLEAN}\r\n".encode())
    assert main(["verify", "--batch", str(source), *DATE]) == 0
    assert "1 pair(s): ok 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ("patient,prescribed\nonly-one-cell\n", "pairs.csv row 2: expected 2 cells"),
        ("patient,prescribed\n,rx.yaml\n", "pairs.csv row 2: patient: empty"),
        ("patient,prescribed\n/dev/zero,rx.yaml\n", "pairs.csv row 2: "),
    ],
)
def test_a_bad_batch_row_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: str, problem: str) -> None:
    source = tmp_path / "pairs.csv"
    source.write_text(rows)
    assert main(["verify", "--batch", str(source), *DATE]) == 2
    assert problem in capsys.readouterr().out


def test_the_report_may_not_overwrite_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "pairs.csv"
    source.write_text(f"patient,prescribed\n{PATIENT},{CLEAN}\n")
    before = source.read_bytes()
    assert main(["verify", "--batch", str(source), "--report", str(source), *DATE]) == 2
    assert "is the same file as --batch" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_a_batch_with_a_discrepancy_and_a_block_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "pairs.csv"
    errors = SAMPLES / "prescriptions" / "r-ice-relapsed-dlbcl-errors.yaml"
    blocked = SAMPLES / "patients" / "adult-b-all-cd20-positive.yaml"
    source.write_text(f"patient,prescribed\n{PATIENT},{errors}\n{blocked},{CLEAN}\n")
    assert main(["verify", "--batch", str(source), *DATE]) == 3
    assert "blocked 1, discrepancy 1" in capsys.readouterr().out


def test_malformed_prescription_fields_are_input_errors() -> None:
    with pytest.raises(InputError, match=r"doses\.0\.dose"):
        validate(Prescription, {"regimen": "r-ice", "doses": [{**RITUXIMAB, "dose": "0 mg"}]}, "test")
