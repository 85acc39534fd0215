"""Adult and AYA ALL backbones (issue 12): hand-computed doses for the orderable phases, and the
reference files (known regimens whose doses no retrieved source confirms) kept reference.

BSA 2.0 m² is 180 cm × 80 kg by Mosteller (√(180 × 80 / 3600) = 2).
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import make_patient, options

from chemo_orders.dosing import calculate_regimen
from chemo_orders.regimen import load_regimen, regimen_paths

BSA2_B_ALL = {
    "height": "180 cm",
    "weight": "80 kg",
    "diagnosis": "b-all",
    "disease_status": "newly-diagnosed",
    "markers": {"philadelphia": "negative"},
}

# Contract ids of issue 12 part 2a that no retrieved source confirms dose by dose.
REFERENCE = [
    "calgb-8811-induction",
    "calgb-10403-induction",
    "e1910-induction",
    "dfci-91-01-induction",
    "gmall-induction",
    "graall-induction",
    "ewall-induction",
    "allold07-induction",
]

# (regimen, patient, {drug: [final doses in file order]}) - mg unless noted.
TABLE: list[tuple[str, dict[str, Any], dict[str, list[float]]]] = [
    (
        "gmall-induction-2",
        BSA2_B_ALL,
        {
            # GMALL 06/99 and 07/03 Table 1, induction phase II (Blood view-large 2451742):
            "cyclophosphamide": [2000],  # 1000 mg/m² × 2 m², days 26 and 46
            "cytarabine": [150],  # 75 mg/m² × 2 m², days 28-31, 35-38, 42-45
            "mercaptopurine": [
                125
            ],  # 60 mg/m²/day × 2 m² = 120 mg/day -> 2½ × 50 mg tablets = 125 mg (+4.2 %), days 26-46
            "methotrexate": [15],  # 15 mg flat, intrathecal, days 28, 35, 42
        },
    ),
]


@pytest.mark.parametrize(("regimen_id", "patient", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_hand_computed_doses(regimen_id: str, patient: dict[str, Any], expected: dict[str, list[float]]) -> None:
    regimen = load_regimen(regimen_id)
    assert regimen.status == "active"
    calc = calculate_regimen(make_patient(**patient), regimen, options(cycle=regimen.first_cycle()))
    assert not calc.missing, [m.needs for m in calc.missing]
    assert {o.drug for o in calc.orders} == set(expected)
    for drug, doses in expected.items():
        assert [float(o.final.magnitude) for o in calc.orders if o.drug == drug] == doses, drug


@pytest.mark.parametrize("regimen_id", REFERENCE)
def test_reference_files_load_as_reference_with_a_reason(regimen_id: str) -> None:
    regimen = load_regimen(regimen_id)
    assert regimen.status == "reference"
    assert regimen.reference_reason and len(regimen.reference_reason) > 20
    assert regimen.category == "all-induction"


@pytest.mark.parametrize("regimen_id", REFERENCE)
def test_reference_files_can_never_give_a_complete_order_set(regimen_id: str) -> None:
    """Each reference file has no drug lines at all, or keeps at least one line without a dose,
    so a calculation is incomplete (blocked) even where the status itself were not checked."""
    regimen = load_regimen(regimen_id)
    assert not regimen.drugs or any(line.dose is None and not line.alternatives for line in regimen.drugs)


@pytest.mark.parametrize("regimen_id", ["calgb-8811-induction", "allold07-induction"])
def test_no_schedule_borrowed_from_another_trial(regimen_id: str) -> None:
    """Review 2026-11-30: CALGB 8811 carried the days and routes of CALGB 19802, ALL-OLD07 the EWALL
    vincristine line; neither is the regimen's own, so neither file has drug lines now."""
    regimen = load_regimen(regimen_id)
    assert regimen.drugs == () and regimen.status == "reference"


def test_gmall_pegaspargase_has_no_dose_because_it_depends_on_age_and_protocol_version() -> None:
    """GMALL induction pegaspargase: 1000 U/m² (500 over 55), later 2000 U/m² (1000 over 55)."""
    (peg,) = [line for line in load_regimen("gmall-induction").drugs if line.drug == "pegaspargase"]
    assert peg.dose is None and not peg.alternatives and "gmall-2008-peg" in peg.source


def test_graall_rituximab_route_is_sourced() -> None:
    (rituximab,) = load_regimen("graall-induction").drugs
    assert rituximab.route == "IV" and rituximab.days == (1, 7) and "rituximab-label" in rituximab.source


def test_every_contract_id_has_a_file() -> None:
    ids = set(regimen_paths())
    assert set(REFERENCE) <= ids
    assert {row[0] for row in TABLE} <= ids


def test_e1910_gives_pegaspargase_and_late_dexamethasone_only_under_55() -> None:
    regimen = load_regimen("e1910-induction")
    patient = make_patient(**BSA2_B_ALL)
    under = [(line.drug, line.days) for line in regimen.drugs if line.applies_to(patient, 54)]
    over = [(line.drug, line.days) for line in regimen.drugs if line.applies_to(patient, 55)]
    assert ("pegaspargase", (18,)) in under and not any(drug == "pegaspargase" for drug, _ in over)
    assert ("dexamethasone", tuple(range(15, 22))) in under
    assert ("dexamethasone", tuple(range(15, 22))) not in over


def test_ph_negative_backbones_say_so() -> None:
    for regimen_id in ("calgb-10403-induction", "e1910-induction", "graall-induction", "ewall-induction"):
        regimen = load_regimen(regimen_id)
        assert all(i.population.philadelphia == "negative" for i in regimen.indications), regimen_id
