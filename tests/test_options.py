"""``options``: the guideline's treatment approach for the patients the issue names (issue 12).

Each scenario states what the guideline says (guidance.yaml cites it) and checks that the
library's answer agrees: the preferred regimen first, the ones a rule excludes marked with
that rule, reference regimens listed as not orderable.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from helpers import ROOT, make_patient

from chemo_orders.cli import main
from chemo_orders.options import Approach, treatment_options

ON = dt.date(2026, 11, 22)
LABS = {"anc": "2 x10^9/L", "platelets": "150 x10^9/L", "bilirubin": "0.6 mg/dL", "lvef_percent": 60}


def approach(**patient: Any) -> Approach:
    return treatment_options(make_patient(labs=LABS, **patient), ON)


def by_id(result: Approach) -> dict[str, Any]:
    return {c.regimen.id: c for c in result.choices}


def preferred(result: Approach) -> list[str]:
    return [c.regimen.id for c in result.choices if c.preferred]


def test_adult_under_65_cd20_positive_gets_rituximab_hyper_cvad() -> None:
    result = approach(
        diagnosis="b-all", disease_status="newly-diagnosed", markers={"cd20_percent": 40, "philadelphia": "negative"}
    )
    assert result.choices[0].regimen.id == "r-hyper-cvad-a" and result.choices[0].preferred
    choices = by_id(result)
    assert not choices["r-ice"].fits and choices["r-ice"].rules == ("IND002",)
    assert choices["hyper-cvad-a"].fits and not choices["hyper-cvad-a"].preferred


def test_cd20_negative_adult_is_not_offered_rituximab() -> None:
    choices = by_id(
        approach(
            diagnosis="b-all", disease_status="newly-diagnosed", markers={"cd20_percent": 5, "philadelphia": "negative"}
        )
    )
    assert not choices["r-hyper-cvad-a"].fits and "MRK001" in choices["r-hyper-cvad-a"].rules
    assert choices["hyper-cvad-a"].fits


def test_adult_65_and_over_gets_lower_intensity() -> None:
    result = approach(
        diagnosis="b-all",
        disease_status="newly-diagnosed",
        birth_date=None,
        age=70,
        ecog=1,
        markers={"cd20_percent": 5, "cd22_percent": 90, "philadelphia": "negative"},
    )
    choices = by_id(result)
    assert "mini-hyper-cvd-ino" in preferred(result) and choices["mini-hyper-cvd-ino"].fits
    assert not choices["hyper-cvad-a"].fits and "AGE001" in choices["hyper-cvad-a"].rules


def test_mrd_positive_prefers_blinatumomab_with_inotuzumab_an_alternative() -> None:
    result = approach(
        diagnosis="b-all",
        disease_status="mrd-positive",
        markers={"mrd_percent": 0.5, "cd22_percent": 80, "philadelphia": "negative"},
    )
    assert result.choices[0].regimen.id == "blinatumomab" and result.choices[0].preferred
    assert by_id(result)["inotuzumab-mrd"].fits
    assert any("blinatumomab" in text.lower() for text, _ in result.statements)


def test_mrd_below_threshold_is_not_a_blinatumomab_patient() -> None:
    choices = by_id(
        approach(
            diagnosis="b-all", disease_status="mrd-positive", markers={"mrd_percent": 0.01, "philadelphia": "negative"}
        )
    )
    assert not choices["blinatumomab"].fits and "MRK005" in choices["blinatumomab"].rules


def test_relapsed_t_all_gets_nelarabine() -> None:
    result = approach(diagnosis="t-all", disease_status="relapsed")
    assert result.choices[0].regimen.id == "nelarabine" and result.choices[0].preferred
    assert not by_id(result)["r-ice"].fits


CHILD = {
    "diagnosis": "b-all",
    "disease_status": "newly-diagnosed",
    "birth_date": None,
    "serum_creatinine": None,
    "markers": {"philadelphia": "negative"},
}


def test_child_standard_risk_gets_the_3_drug_induction() -> None:
    result = treatment_options(
        make_patient(**CHILD, age=6, height="116 cm", weight="21 kg", labs={"wbc_at_diagnosis": "12 x10^9/L"}), ON
    )
    assert result.choices[0].regimen.id == "pediatric-3-drug-induction" and result.choices[0].preferred
    assert not by_id(result)["hyper-cvad-a"].fits  # an adult regimen for a child


@pytest.mark.parametrize(("age", "wbc"), [(12, "10 x10^9/L"), (6, "62 x10^9/L")])
def test_child_high_risk_gets_the_4_drug_induction(age: int, wbc: str) -> None:
    size = {"height": "150 cm", "weight": "40 kg"} if age > 10 else {"height": "116 cm", "weight": "21 kg"}
    result = treatment_options(make_patient(**CHILD, age=age, labs={"wbc_at_diagnosis": wbc}, **size), ON)
    assert result.choices[0].regimen.id == "pediatric-4-drug-induction" and result.choices[0].preferred
    three = by_id(result)["pediatric-3-drug-induction"]
    assert not three.fits and "RSK001" in three.rules


def test_relapsed_dlbcl_gets_salvage_and_never_an_all_regimen() -> None:
    result = approach(diagnosis="dlbcl", disease_status="relapsed")
    assert {"r-ice", "r-dhap"} <= set(preferred(result))
    choices = by_id(result)
    assert not choices["hyper-cvad-a"].fits


def test_reference_regimens_are_listed_not_orderable() -> None:
    choices = by_id(approach(diagnosis="b-all", disease_status="newly-diagnosed", markers={"philadelphia": "negative"}))
    assert choices["calgb-8811-induction"].fits and not choices["calgb-8811-induction"].orderable


def test_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "samples" / "patients" / "older-adult-b-all.yaml"
    assert main(["options", str(path), "--date", "2026-11-30", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"patient", "options", "guidance"}
    first = data["options"][0]
    assert {"regimen", "name", "intensity", "fits", "preferred", "orderable", "why", "references"} <= set(first)
    fits = [o["fits"] for o in data["options"]]
    assert fits == sorted(fits, reverse=True)  # fitting regimens first
    assert all(g["references"] for g in data["guidance"])


def test_an_unknown_ecog_does_not_withhold_the_older_adult_preference() -> None:
    result = approach(
        diagnosis="b-all",
        disease_status="newly-diagnosed",
        birth_date=None,
        age=70,
        markers={"cd20_percent": 5, "cd22_percent": 90, "philadelphia": "negative"},
    )
    assert "mini-hyper-cvd-ino" in preferred(result)
