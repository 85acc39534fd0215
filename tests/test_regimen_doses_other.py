"""Regimens added for issue 12 (part 2b): hand-computed doses for the active ones, and the
reference ones (known, not orderable) checked for what they must and must not encode.

Patients (Mosteller): 180 cm × 80 kg = 2.0 m² (√(180 × 80 / 3600)); 162 cm × 72 kg = 1.8 m²;
162 cm × 50 kg = 1.5 m²; 120 cm × 30 kg = 1.0 m²; 75 cm × 9 kg = 0.433 m² (√0.1875, 3 dp).
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import child, make_patient, options

from chemo_orders.dosing import calculate_regimen
from chemo_orders.regimen import load_regimen

BSA2 = {"height": "180 cm", "weight": "80 kg"}
BSA18 = {"height": "162 cm", "weight": "72 kg"}
BSA15 = {"height": "162 cm", "weight": "50 kg"}
BSA1 = {"height": "120 cm", "weight": "30 kg"}
INFANT = {"height": "75 cm", "weight": "9 kg"}  # 0.433 m²
MRD = {"diagnosis": "b-all", "disease_status": "mrd-positive", "markers": {"mrd_percent": 0.05}}


# (regimen, cycle, patient, {drug: [final doses in file order]}); mg, or mg/day for /day doses.
TABLE: list[tuple[str, int | None, dict[str, Any], dict[str, list[float]]]] = [
    # Maintenance, age 6, 1.0 m²: vincristine 1.5 × 1.0 (under the 2 mg cap); dexamethasone
    # 6 × 1.0 mg/day; mercaptopurine 75 × 1.0 mg/day; oral methotrexate 20 × 1.0, then the
    # intrathecal dose for ages 3-8: 12 mg.
    (
        "all-maintenance",
        None,
        child(6, BSA1),
        {"vincristine": [1.5], "dexamethasone": [6], "mercaptopurine": [75], "methotrexate": [20, 12]},
    ),
    # Age 12, 1.5 m²: vincristine 1.5 × 1.5 = 2.25 -> capped 2 mg; dexamethasone 9 mg/day;
    # mercaptopurine 112.5 -> 113 mg/day (three significant figures, half up); oral
    # methotrexate 30 mg; intrathecal 15 mg from age 9.
    (
        "all-maintenance",
        None,
        child(12, BSA15),
        {"vincristine": [2], "dexamethasone": [9], "mercaptopurine": [113], "methotrexate": [30, 15]},
    ),
    # Age 1, 0.433 m²: oral methotrexate 20 × 0.433 = 8.66 mg; intrathecal 8 mg (ages 1-1.99).
    ("all-maintenance", None, child(1, INFANT), {"methotrexate": [8.66, 8]}),
    # Inotuzumab for MRD, 2.0 m²: cycle 1 0.6 × 2 = 1.2 mg (day 1), 0.3 × 2 = 0.6 mg (day 8);
    # cycle 2 0.3 × 2 = 0.6 mg (days 1 and 8, one line).
    ("inotuzumab-mrd", 1, {**BSA2, **MRD}, {"inotuzumab ozogamicin": [1.2, 0.6]}),
    ("inotuzumab-mrd", 2, {**BSA2, **MRD}, {"inotuzumab ozogamicin": [0.6]}),
    # 1.8 m²: 0.6 × 1.8 = 1.08 mg; 0.3 × 1.8 = 0.54 mg.
    ("inotuzumab-mrd", 1, {**BSA18, **MRD}, {"inotuzumab ozogamicin": [1.08, 0.54]}),
    # Issue 20: DA-EPOCH-R cycle 1 (LEVEL 1, NZ SRL + Wikipedia/clinicalhandout), adult Burkitt
    # 180 cm x 80 kg = 2.0 m²: rituximab 375 x 2 = 750 mg; etoposide 50 x 2 = 100 mg/day;
    # doxorubicin 10 x 2 = 20 mg/day; vincristine 0.4 x 2 = 0.8 mg/day (uncapped);
    # cyclophosphamide 750 x 2 = 1500 mg; prednisone 60 mg/m² twice daily = 120 x 2 = 240 mg/day
    # (120 mg twice daily); filgrastim 5 mcg/kg x 80 kg = 400 mcg.
    (
        "da-epoch-r",
        1,
        {**BSA2, "diagnosis": "burkitt", "disease_status": "newly-diagnosed"},
        {
            "rituximab": [750],
            "etoposide": [100],
            "doxorubicin": [20],
            "vincristine": [0.8],
            "cyclophosphamide": [1500],
            "prednisone": [240],
        },
    ),
]

REFERENCE = [
    "vincristine-prednisone",
    "inotuzumab-dexamethasone",
    "mini-hyper-cvd-ino-blinatumomab",
    "hd-methotrexate-consolidation",
    "hidac-consolidation",
    "car-t-referral",
    "codox-m-ivac",
]


@pytest.mark.parametrize(
    ("regimen_id", "cycle", "patient", "expected"), TABLE, ids=[f"{row[0]}-{i}" for i, row in enumerate(TABLE)]
)
def test_hand_computed_doses(
    regimen_id: str, cycle: int | None, patient: dict[str, Any], expected: dict[str, list[float]]
) -> None:
    regimen = load_regimen(regimen_id)
    assert regimen.status == "active"
    calc = calculate_regimen(make_patient(**patient), regimen, options(cycle=cycle or regimen.first_cycle()))
    assert not {m.drug for m in calc.missing} & set(expected), [m.needs for m in calc.missing]
    for drug, doses in expected.items():
        assert [float(o.final.magnitude) for o in calc.orders if o.drug == drug] == doses, drug


def test_maintenance_intrathecal_dose_is_not_guessed_under_age_one() -> None:
    """The intrathecal age bands start at 1 year; an infant gets no calculated dose."""
    calc = calculate_regimen(make_patient(**child(0, INFANT)), load_regimen("all-maintenance"), options())
    assert [m.drug for m in calc.missing] == ["methotrexate"]


@pytest.mark.parametrize("regimen_id", REFERENCE)
def test_reference_regimens_load_with_a_reason(regimen_id: str) -> None:
    regimen = load_regimen(regimen_id)
    assert regimen.status == "reference"
    assert regimen.reference_reason and len(regimen.reference_reason) > 20


def test_conflicting_doses_are_left_out() -> None:
    """Where sources disagree the dose is not encoded (the note names both values)."""
    lines = {(r, line.drug, line.route): line for r in REFERENCE for line in load_regimen(r).drugs}
    # Issue 20: DA-EPOCH-R's prednisone is resolved (NZ SRL "60 mg/m² Twice daily" + 2 secondary
    # sources; AMC-034's 60 mg/m²/day is the HIV variant): 120 mg/m² per day, divided 2.
    (pred,) = [line for line in load_regimen("da-epoch-r").drugs if line.drug == "prednisone"]
    assert pred.dose is not None and (pred.dose.to("mg/m**2").magnitude, pred.divided) == (120, 2)
    assert lines["codox-m-ivac", "methotrexate", "IV"].dose is None
    assert lines["codox-m-ivac", "vincristine", "IV"].dose is None
    assert lines["car-t-referral", "tisagenlecleucel", "IV"].dose is None
    assert lines["hidac-consolidation", "cytarabine", "IV"].dose is None  # 2 g/m² x 2, interval unknown


def test_no_placeholder_or_inferred_lines() -> None:
    """Review 2026-11-30: vincristine-prednisone had a placeholder day 1 on both lines, HiDAC a
    placeholder day 1 (now the GMALL day 5), CODOX-M and HD-MTX a leucovorin line whose route or
    day was not in any source. Drug names stay in the notes or supportive care."""
    assert load_regimen("vincristine-prednisone").drugs == ()
    (hidac,) = load_regimen("hidac-consolidation").drugs
    assert hidac.days == (5,)
    for regimen_id in ("codox-m-ivac", "hd-methotrexate-consolidation"):
        assert "leucovorin" not in {line.drug for line in load_regimen(regimen_id).drugs}, regimen_id


@pytest.mark.parametrize("regimen_id", ["codox-m-ivac", "hd-methotrexate-consolidation"])
def test_high_dose_methotrexate_is_never_orderable_without_its_rescue(regimen_id: str) -> None:
    """Without a sourced leucovorin line, no intravenous methotrexate line may carry a dose; the
    rescue is named as mandatory supportive care."""
    regimen = load_regimen(regimen_id)
    iv_mtx = [line for line in regimen.drugs if line.drug == "methotrexate" and line.route == "IV"]
    assert iv_mtx and all(line.dose is None and not line.alternatives for line in iv_mtx)
    assert any("eucovorin" in item.text and "mandatory" in item.text for item in regimen.supportive)


@pytest.mark.parametrize("regimen_id", ["da-epoch-r", "mini-hyper-cvd-ino-blinatumomab"])
def test_rituximab_regimens_carry_hepatitis_b_screening(regimen_id: str) -> None:
    regimen = load_regimen(regimen_id)
    assert any("epatitis B" in item.text and "rituximab-label" in item.source for item in regimen.supportive)


def test_indication_thresholds_carry_their_source() -> None:
    (mrd,) = load_regimen("inotuzumab-mrd").indications
    assert mrd.population.mrd_percent_min == 0.01 and mrd.population.source
    (ino_dex,) = load_regimen("inotuzumab-dexamethasone").indications
    assert (ino_dex.population.cd22_percent_min, ino_dex.population.age_min) == (20, 56)
    tisa, brexu = load_regimen("car-t-referral").indications
    assert (tisa.population.age_below, brexu.population.age_min) == (26, 18)
    _relapsed, older = load_regimen("mini-hyper-cvd-ino-blinatumomab").indications
    assert (older.population.age_min, older.population.ecog_max) == (60, 3)  # ASH 2018: PS <= 3
    for regimen_id in ("codox-m-ivac", "da-epoch-r"):
        regimen = load_regimen(regimen_id)
        assert regimen.category == "burkitt"
        assert {i.disease for i in regimen.indications} == {"burkitt"}
