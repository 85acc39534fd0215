"""Doses of the bundled regimens for patients of our own making, computed by hand."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import make_patient, options
from hypothesis import given, settings
from hypothesis import strategies as st

from chemo_orders.dosing import calculate, calculate_regimen, measure
from chemo_orders.models import validate
from chemo_orders.regimen import Regimen, load_regimen
from chemo_orders.rounding import RoundingPolicy, round_dose
from chemo_orders.units import MG, ML_PER_MIN, ureg


def finals(patient: Any, regimen_id: str, **opts: Any) -> dict[str, float]:
    regimen = load_regimen(regimen_id)
    calc = calculate_regimen(patient, regimen, options(cycle=regimen.first_cycle(), **opts))
    return {o.drug: float(o.final.magnitude) for o in calc.orders}


def test_r_ice_by_hand() -> None:
    doses = finals(make_patient(), "r-ice")  # 175 cm, 80 kg: BSA 1.972 m²
    assert doses["rituximab"] == 740  # 375 × 1.972 = 739.5
    assert doses["etoposide"] == 197  # 100 × 1.972 = 197.2
    assert doses["ifosfamide"] == 9860  # 5000 × 1.972
    assert doses["mesna"] == 9860
    assert doses["filgrastim"] == 480  # 5 mcg/kg × 80 kg = 400 mcg -> the nearest whole syringe (HSE NCCP)
    # BMI 26.1 >= 25: adjusted weight 65.96 + 0.4 × 14.04 = 71.6 kg;
    # CrCl (140 - 45) × 71.6 / (72 × 0.9) × 0.85 = 89.2; AUC 5 × (89.2 + 25) = 571
    assert doses["carboplatin"] == 571


def test_carboplatin_with_actual_weight() -> None:
    # (140 - 45) × 80 / (72 × 0.9) × 0.85 = 99.7 mL/min; 5 × 124.7 = 623.5 -> 624
    assert finals(make_patient(), "r-ice", carboplatin_weight="actual")["carboplatin"] == 624


@pytest.mark.parametrize(("gfr", "dose"), [("90 mL/min", 575), ("100 mL/min", 625), ("140 mL/min", 750)])
def test_carboplatin_measured_gfr_and_fda_cap(gfr: str, dose: float) -> None:
    assert finals(make_patient(measured_gfr=gfr), "r-ice")["carboplatin"] == dose


def test_fda_cap_wins_over_regimen_cap_of_800() -> None:
    young = make_patient(birth_date=None, age=25, sex="male", weight="95 kg", serum_creatinine="0.6 mg/dL")
    regimen = load_regimen("r-ice")
    calc = calculate_regimen(young, regimen, options())
    carboplatin = next(o for o in calc.orders if o.drug == "carboplatin")
    assert carboplatin.final.to(MG).magnitude == 750
    assert carboplatin.capped
    assert "capped at 125 mL/min" in " ".join(carboplatin.notes)


def test_scr_floor_is_applied_and_shown() -> None:
    patient = make_patient(serum_creatinine="0.5 mg/dL", weight="60 kg")
    calc = calculate_regimen(patient, load_regimen("r-ice"), options())
    note = " ".join(next(o for o in calc.orders if o.drug == "carboplatin").notes)
    assert "0.7 mg/dL SCr floor (measured 0.5 mg/dL)" in note


HYPER_CVAD_PATIENT = {
    "diagnosis": "b-all",
    "disease_status": "newly-diagnosed",
    "markers": {"cd20_percent": 40, "philadelphia": "negative"},
}


@pytest.mark.parametrize(("height", "weight"), [("180 cm", "80 kg"), ("70.866 in", "176.37 lb")])
def test_r_hyper_cvad_a_at_bsa_2(height: str, weight: str) -> None:
    patient = make_patient(height=height, weight=weight, **HYPER_CVAD_PATIENT)
    regimen = load_regimen("r-hyper-cvad-a")
    calc = calculate_regimen(patient, regimen, options(cycle=1))
    assert calc.body.bsa.magnitude == 2.0
    orders = {o.drug: o for o in calc.orders}
    assert orders["cyclophosphamide"].final.to(MG).magnitude == 600
    assert orders["cyclophosphamide"].course_total.to(MG).magnitude == 3600  # × 6 doses
    assert orders["mesna"].final.to(MG / ureg.day).magnitude == 1200
    assert orders["rituximab"].final.to(MG).magnitude == 750
    assert orders["doxorubicin"].final.to(MG).magnitude == 100
    assert orders["vincristine"].final.to(MG).magnitude == 2  # flat, not per m²
    assert orders["dexamethasone"].final.to(MG).magnitude == 40
    assert orders["dexamethasone"].course_total.to(MG).magnitude == 320  # days 1-4, 11-14


def test_rituximab_only_in_courses_1_and_3_of_course_a() -> None:
    regimen = load_regimen("r-hyper-cvad-a")
    patient = make_patient(**HYPER_CVAD_PATIENT)
    assert "rituximab" in {o.drug for o in calculate_regimen(patient, regimen, options(cycle=3)).orders}
    assert "rituximab" not in {o.drug for o in calculate_regimen(patient, regimen, options(cycle=5)).orders}


def capped_regimen(dose: str, cap: str) -> Regimen:
    return validate(
        Regimen,
        {
            "id": "t",
            "name": "T",
            "title": "test",
            "version": 1,
            "category": "lymphoma-first-line",
            "indications": [{"disease": "dlbcl"}],
            "cycle_length": "21 d",
            "drugs": [{"drug": "vincristine", "dose": dose, "cap": cap, "route": "IV", "days": [1], "source": "s"}],
            "references": {"s": {"citation": "test source", "url": "https://example.org"}},
        },
        "test",
    )


@settings(max_examples=60, deadline=None)
@given(
    st.floats(min_value=80, max_value=220),
    st.floats(min_value=20, max_value=250),  # growthcleanr's adult weight bound (plausibility.yaml)
    st.sampled_from(["1.4 mg/m**2", "1.5 mg/m**2", "2 mg/m**2"]),
)
def test_capped_dose_never_exceeds_cap(height: float, weight: float, dose: str) -> None:
    patient = make_patient(height=f"{height} cm", weight=f"{weight} kg", measurements_confirmed=True)
    regimen = capped_regimen(dose, "2 mg")
    order = calculate(regimen.drugs[0], patient, measure(patient, options()), options())
    assert order.final.to(MG).magnitude <= 2
    assert order.capped == (order.calculated.to(MG).magnitude > 2)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=80, max_value=220), st.floats(min_value=20, max_value=250))
def test_per_m2_dose_is_proportional_to_bsa(height: float, weight: float) -> None:
    patient = make_patient(height=f"{height} cm", weight=f"{weight} kg", measurements_confirmed=True)
    regimen = capped_regimen("375 mg/m**2", "100000 mg")
    body = measure(patient, options())
    order = calculate(regimen.drugs[0], patient, body, options())
    assert order.calculated.to(MG).magnitude == pytest.approx(375 * body.bsa.magnitude)


@given(st.floats(min_value=0.001, max_value=50000))
def test_default_rounding_stays_within_half_a_percent(value: float) -> None:
    rounded = round_dose("x", value * MG, None, None).value.to(MG).magnitude
    assert abs(rounded - value) / value <= 0.005 + 1e-12


@given(
    st.floats(min_value=1, max_value=5000), st.sampled_from([1, 5, 10, 25, 100]), st.floats(min_value=1, max_value=10)
)
def test_policy_rounding_stays_within_its_tolerance(value: float, step: int, tolerance: float) -> None:
    policy = validate(
        RoundingPolicy,
        {
            "name": "p",
            "source": "s",
            "max_deviation_percent": tolerance,
            "drugs": {"etoposide": {"increment": f"{step} mg"}},
        },
        "test",
    )
    rounded = round_dose("etoposide", value * MG, None, policy).value.to(MG).magnitude
    assert abs(rounded - value) / value * 100 <= max(tolerance, 0.5) + 1e-9


@given(st.floats(min_value=1, max_value=5000), st.floats(min_value=1, max_value=5000))
def test_rounding_never_exceeds_cap(value: float, cap: float) -> None:
    capped = min(value, cap)
    assert round_dose("x", capped * MG, cap * MG, None).value.to(MG).magnitude <= cap


def test_bsa_cap_is_explicit_and_printed() -> None:
    patient = make_patient(weight="130 kg", height="185 cm")
    calc = calculate_regimen(patient, load_regimen("r-ice"), options(bsa_cap=2 * ureg.meter**2))
    rituximab = next(o for o in calc.orders if o.drug == "rituximab")
    assert rituximab.final.to(MG).magnitude == 750
    assert any("BSA capped at 2 m²" in n for n in rituximab.notes)


def test_no_bsa_cap_by_default() -> None:
    patient = make_patient(weight="130 kg", height="185 cm")  # BSA 2.585: 375 × 2.585 = 969.375
    calc = calculate_regimen(patient, load_regimen("r-ice"), options())
    assert next(o for o in calc.orders if o.drug == "rituximab").final.to(MG).magnitude == 969


def test_pediatric_carboplatin_needs_measured_gfr() -> None:
    child = make_patient(birth_date=None, age=8, height="128 cm", weight="26 kg")
    calc = calculate_regimen(child, load_regimen("r-ice"), options())
    assert [m.drug for m in calc.missing] == ["carboplatin"]
    assert calc.body.crcl is None
    measured = make_patient(birth_date=None, age=8, height="128 cm", weight="26 kg", measured_gfr="80 mL/min")
    calc = calculate_regimen(measured, load_regimen("r-ice"), options())
    assert next(o for o in calc.orders if o.drug == "carboplatin").final.to(MG).magnitude == 525


def test_crcl_uses_actual_weight() -> None:
    body = measure(make_patient(), options())
    assert body.crcl is not None and body.crcl.to(ML_PER_MIN).magnitude == 99.7


def test_policy_drug_names_are_canonical_and_unknown_ones_refused() -> None:
    from chemo_orders.errors import InputError
    from chemo_orders.models import validate
    from chemo_orders.rounding import RoundingPolicy

    base = {"name": "p", "source": "s", "max_deviation_percent": 5}
    policy = validate(RoundingPolicy, {**base, "drugs": {"CARBOplatin": {"increment": "10 mg"}}}, "policy")
    assert set(policy.drugs) == {"carboplatin"}
    with pytest.raises(InputError, match="unknown drug"):
        validate(RoundingPolicy, {**base, "drugs": {"carboplatinum": {"increment": "10 mg"}}}, "policy")
