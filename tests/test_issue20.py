"""The library a nurse can give from (issue 20): tablets and syringes, divided doses per
administration, unique row numbers, and treatment plans across courses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from helpers import ROOT, make_patient, options

from chemo_orders.orderset import build, order_json
from chemo_orders.plan import calendar, calendar_json, courses, load_plan
from chemo_orders.products import make_from_tablets, nearest_single, product_table
from chemo_orders.regimen import all_regimens, load_regimen
from chemo_orders.units import quantity, ureg


def test_filgrastim_for_72_kg_is_a_whole_syringe() -> None:
    order_set = build(make_patient(weight="72 kg"), load_regimen("r-ice"), options())
    filgrastim = next(o for o in order_set.orders if o.drug == "filgrastim")
    strengths = {float(p.strength.to(ureg.mcg).magnitude) for p in product_table().products["filgrastim"]}
    assert float(filgrastim.final.to(ureg.mcg).magnitude) in strengths
    assert "syringe" in filgrastim.calculation


def test_tablets_make_the_nearest_dose_within_ten_percent() -> None:
    tablets = product_table().presentations("mercaptopurine", "PO", ("tablet",))
    made = make_from_tablets(quantity(51.5, ureg.mg), tablets, 10)
    assert made is not None and made.amount.magnitude == 50 and "50 mg tablet" in made.text


def test_no_tablet_combination_within_the_limit_is_said() -> None:
    tablets = product_table().presentations("mercaptopurine", "PO", ("tablet",))
    assert make_from_tablets(quantity(10, ureg.mg), tablets, 10) is None


def test_nearest_single_presentation_ties_go_lower() -> None:
    syringes = product_table().presentations("filgrastim", "SC", ("syringe",))
    made = nearest_single(quantity(390, ureg.mcg), syringes)
    assert made is not None and made.amount.magnitude == 300


def _every_oral_line() -> list[tuple[str, int]]:
    return [
        (r.id, i)
        for r in all_regimens()
        if r.status == "active"
        for i, line in enumerate(r.drugs)
        if line.route == "PO" and product_table().presentations(line.drug, "PO", ("tablet", "capsule"))
    ]


ADULT_ALL: dict[str, Any] = {
    "diagnosis": "b-all",
    "disease_status": "in-remission",
    "markers": {"philadelphia": "negative"},
}


@pytest.mark.parametrize(("regimen", "index"), _every_oral_line())
def test_every_oral_line_prints_a_dose_made_of_its_tablets(regimen: str, index: int) -> None:
    r = load_regimen(regimen)
    line = r.drugs[index]
    patient = (
        make_patient(**ADULT_ALL)
        if r.population != "pediatric"
        else make_patient(**ADULT_ALL, birth_date=None, age=8, height="128 cm", weight="26 kg", serum_creatinine=None)
    )
    for cycle in (line.cycles or (r.first_cycle(),))[:1]:
        order_set = build(patient, r, options(cycle=cycle))
        for order in order_set.calculation.orders:
            if order.line is line:
                each = order.per_administration or order.final
                text = order.calculation
                assert "tablet" in text or "no combination" in text, text
                assert each.magnitude > 0


def test_a_divided_dose_prints_per_administration() -> None:
    divided = [(r, line) for r in all_regimens() if r.status == "active" for line in r.drugs if line.divided]
    if not divided:
        pytest.skip("no divided line in the library yet")
    r, line = divided[0]
    patient = make_patient(**ADULT_ALL)
    order = next(
        (o for o in build(patient, r, options(cycle=r.first_cycle())).calculation.orders if o.line is line), None
    )
    if order is None:
        pytest.skip("the divided line does not apply to this patient")
    data = order_json(order)
    assert data["divided"] == line.divided
    assert data["per_administration"]["value"] * line.divided == pytest.approx(data["final"]["value"])
    assert "daily" in order.calculation


def test_hyper_cvad_plan_is_eight_courses_alternating_then_maintenance() -> None:
    plan = load_plan("hyper-cvad")
    ordered = [(r.id, c) for r, c in courses(plan)]
    assert ordered[:8] == [("hyper-cvad-a" if c % 2 else "hyper-cvad-b", c) for c in range(1, 9)]
    assert all(r == "pomp" for r, _ in ordered[8:]) and len(ordered) > 8


def test_plan_calendar_has_dates_21_days_apart() -> None:
    patient = make_patient(
        diagnosis="b-all",
        disease_status="newly-diagnosed",
        markers={"philadelphia": "negative"},
        labs={"anc": "2 x10^9/L", "platelets": "150 x10^9/L", "bilirubin": "0.5 mg/dL", "lvef_percent": 60},
    )
    plan = load_plan("hyper-cvad")
    start = dt.date(2027, 1, 4)
    data = calendar_json(plan, patient, calendar(plan, patient, start))
    starts = [dt.date.fromisoformat(c["start"]) for c in data["courses"][:8]]
    assert starts == [start + dt.timedelta(days=21 * n) for n in range(8)]
    first = data["courses"][0]
    assert first["regimen"] == "hyper-cvad-a" and first["days"][0]["date"] == "2027-01-04"
    assert any(o["drug"] == "cyclophosphamide" for day in first["days"] for o in day["orders"])


def test_plans_exist_for_the_contract_ids() -> None:
    for plan_id in ("hyper-cvad", "r-hyper-cvad"):
        assert load_plan(plan_id).references


def test_every_plan_file_loads() -> None:
    for path in sorted((ROOT / "plans").glob("*.yaml")):
        assert load_plan(path.stem).id == path.stem
