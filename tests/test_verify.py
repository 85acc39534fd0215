"""Pharmacist verification: what must pass passes, and every classic error is caught."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from helpers import ROOT, make_patient, options, verify
from hypothesis import given, settings
from hypothesis import strategies as st

from chemo_orders.errors import InputError
from chemo_orders.models import validate
from chemo_orders.units import format_quantity
from chemo_orders.verify import Prescription, Verification, parse_tolerance

SAMPLES = ROOT / "samples"


def check(doses: list[dict[str, Any]], tolerance: float = 5, regimen: str = "r-ice", **patient: Any) -> Verification:
    prescription = validate(Prescription, {"regimen": regimen, "doses": doses}, "test")
    return verify(make_patient(**patient), prescription, options(), tolerance)


# make_patient(): 175 cm, 80 kg, BSA 1.972 m²: rituximab 739.5 mg, etoposide 197.2 mg, ifosfamide 9860 mg,
# carboplatin 571 mg (AUC 5, GFR 89.2 mL/min), mesna 9860 mg, filgrastim 400 mcg days 5-12.
FULL = [
    {"drug": "rituximab", "day": 1, "dose": "740 mg"},
    *[{"drug": "etoposide", "day": d, "dose": "197 mg"} for d in (1, 2, 3)],
    {"drug": "carboplatin", "day": 2, "dose": "571 mg"},
    {"drug": "ifosfamide", "day": 2, "dose": "9860 mg"},
    {"drug": "mesna", "day": 2, "dose": "9860 mg"},
    *[{"drug": "filgrastim", "day": d, "dose": "400 mcg"} for d in range(5, 13)],
]


def with_dose(drug: str, dose: str, day: int | None = None) -> list[dict[str, Any]]:
    return [
        {**line, "dose": dose} if line["drug"] == drug and (day is None or line["day"] == day) else line
        for line in FULL
    ]


def verdict(result: Verification, drug: str) -> str:
    return next(line.verdict for line in result.lines if line.drug == drug)


def test_matching_order_passes() -> None:
    result = check(FULL)
    assert result.passed and result.status == "ok"


def test_seven_percent_fails_at_5_and_passes_at_10() -> None:
    doses = with_dose("rituximab", f"{739.5 * 1.07:.1f} mg")
    assert verdict(check(doses, 5), "rituximab") == "outside tolerance"
    assert verdict(check(doses, 10), "rituximab") == "ok"


def test_ten_fold_error() -> None:
    result = check(with_dose("etoposide", "1972 mg", day=1))
    line = next(x for x in result.lines if x.drug == "etoposide" and x.day == 1)
    assert line.verdict == "outside tolerance" and "ten-fold" in line.detail


def test_mg_g_slip() -> None:
    result = check(with_dose("ifosfamide", "9860 g"))
    line = next(x for x in result.lines if x.drug == "ifosfamide")
    assert line.verdict == "outside tolerance" and "unit slip" in line.detail


def test_per_m2_dose_written_as_total() -> None:
    assert verdict(check(with_dose("rituximab", "375 mg")), "rituximab") == "outside tolerance"
    assert "per-m² dose written as the total" in next(
        x.detail for x in check(with_dose("rituximab", "375 mg")).lines if x.drug == "rituximab"
    )
    assert verdict(check(with_dose("rituximab", "375 mg/m**2")), "rituximab") == "wrong unit or dimension"


def test_missing_and_extra_drugs() -> None:
    doses = [line for line in FULL if line["drug"] != "mesna"] + [{"drug": "vincristine", "day": 1, "dose": "2 mg"}]
    result = check(doses)
    assert verdict(result, "mesna") == "missing from prescription"
    assert verdict(result, "vincristine") == "not in regimen"
    assert not result.passed


def test_wrong_day() -> None:
    doses = [line for line in FULL if line["drug"] != "carboplatin"] + [
        {"drug": "carboplatin", "day": 1, "dose": "571 mg"}
    ]
    assert verdict(check(doses), "carboplatin") == "wrong day"


def test_cap_exceeded_within_tolerance_still_fails() -> None:
    # Young patient whose carboplatin is at the FDA ceiling: 750 mg. 780 mg is +4% (within 5%) but above the cap.
    young = {"birth_date": None, "age": 25, "sex": "male", "weight": "95 kg", "serum_creatinine": "0.6 mg/dL"}
    result = check(with_dose("carboplatin", "780 mg"), 5, **young)
    line = next(x for x in result.lines if x.drug == "carboplatin")
    assert line.deviation_percent is not None and abs(line.deviation_percent) < 5
    assert line.verdict == "exceeds cap"


def test_blocked_regimen() -> None:
    result = check(FULL, diagnosis="b-all", disease_status="newly-diagnosed")
    assert result.blocked and result.status == "blocked"
    assert "IND002" in {f.rule for f in result.order_set.blocking}


def test_weight_change_reported() -> None:
    result = check(FULL, previous_weight="92 kg")
    assert "WGT001" in {f.rule for f in result.order_set.findings}


@pytest.mark.parametrize(("text", "value"), [("5%", 5.0), ("10", 10.0), ("2.5 %", 2.5)])
def test_tolerance_parsing(text: str, value: float) -> None:
    assert parse_tolerance(text) == value


@pytest.mark.parametrize("text", ["11%", "0", "-3", "five"])
def test_tolerance_refused(text: str) -> None:
    with pytest.raises(InputError, match="--tolerance"):
        parse_tolerance(text)


@settings(max_examples=80, deadline=None)
@given(st.floats(min_value=-20, max_value=20), st.sampled_from([2.0, 5.0, 10.0]))
def test_within_tolerance_passes_and_outside_fails(change: float, tolerance: float) -> None:
    if abs(abs(change) - tolerance) < 0.01:
        return  # the boundary itself is decided by float representation
    dose = 739.5 * (1 + change / 100)
    result = check(with_dose("rituximab", f"{dose} mg"), tolerance)
    assert (verdict(result, "rituximab") == "ok") == (abs(change) <= tolerance)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chemo_orders.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_exit_codes_and_json() -> None:
    patient = str(SAMPLES / "patients" / "relapsed-dlbcl.yaml")
    ok = run(
        "verify",
        patient,
        "--prescribed",
        str(SAMPLES / "prescriptions" / "r-ice-relapsed-dlbcl.yaml"),
        "--date",
        "2026-11-22",
        "--json",
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["status"] == "ok"
    bad = run(
        "verify",
        patient,
        "--prescribed",
        str(SAMPLES / "prescriptions" / "r-ice-relapsed-dlbcl-errors.yaml"),
        "--date",
        "2026-11-22",
        "--json",
    )
    assert bad.returncode == 4
    verdicts = {line["verdict"] for line in json.loads(bad.stdout)["lines"]}
    assert verdicts >= {
        "exceeds cap",
        "outside tolerance",
        "wrong unit or dimension",
        "not in regimen",
        "missing from prescription",
    }
    blocked = run(
        "verify",
        str(SAMPLES / "patients" / "adult-b-all-cd20-positive.yaml"),
        "--prescribed",
        str(SAMPLES / "prescriptions" / "r-ice-relapsed-dlbcl.yaml"),
        "--json",
    )
    assert blocked.returncode == 3


def test_batch_continues_past_a_bad_pair(tmp_path: Any) -> None:
    rows = [
        "patient,prescribed",
        f"{SAMPLES}/patients/relapsed-dlbcl.yaml,{SAMPLES}/prescriptions/r-ice-relapsed-dlbcl.yaml",
        f"{tmp_path}/missing.yaml,{SAMPLES}/prescriptions/r-ice-relapsed-dlbcl.yaml",
        f"{SAMPLES}/patients/relapsed-dlbcl.yaml,{SAMPLES}/prescriptions/r-ice-relapsed-dlbcl-errors.yaml",
    ]
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    report = tmp_path / "report.csv"
    result = run("verify", "--batch", str(tmp_path / "pairs.csv"), "--report", str(report), "--date", "2026-11-22")
    assert result.returncode == 2  # a bad pair outranks a discrepancy: the audit is incomplete (batch.py)
    assert "3 pair(s): discrepancy 1, error 1, ok 1" in result.stdout
    assert "file not found" in report.read_text()


def test_the_engines_own_whole_syringe_dose_is_not_a_discrepancy() -> None:
    """R-ICE filgrastim: 5 mcg/kg × 80 kg = 400 mcg (+20 % to a 480 mcg syringe), given as the nearest whole syringe the
    regimen's source asks for; prescribing the engine's own final dose is never flagged, while
    a dose away from both the arithmetic and the syringe still is."""
    order = next(o for o in check(FULL).order_set.orders if o.drug == "filgrastim")
    final = format_quantity(order.final)  # 480 mcg: 300 and 480 mcg syringes
    doses = [{"drug": "filgrastim", "day": day, "dose": final} for day in order.line.days]
    assert {verdict(check(doses), "filgrastim")} == {"ok"}
    wrong = [{"drug": "filgrastim", "day": day, "dose": "600 mcg"} for day in order.line.days]
    assert verdict(check(wrong), "filgrastim") == "outside tolerance"
