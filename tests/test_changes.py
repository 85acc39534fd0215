"""A prescriber's dose change (DOS003): by percent or to an amount, with a reason, never above a
cap, held above the standard dose; through the engine, the command line and the record."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, make_patient, options
from hypothesis import given, settings
from hypothesis import strategies as st
from record_fixtures import me, prepare_request

from chemo_orders.changes import DoseChange, parse_change
from chemo_orders.cli import main
from chemo_orders.errors import InputError
from chemo_orders.orderset import Acknowledgement, build, to_json
from chemo_orders.record.db import Database
from chemo_orders.record.orders import VerifyRequest, prepare, release, show, verify
from chemo_orders.regimen import load_regimen
from chemo_orders.render import build_view
from chemo_orders.report import calc_text
from chemo_orders.units import MG

R_ICE = load_regimen("r-ice")
R_CHOP = load_regimen("r-chop")


def order_set(*changes: DoseChange, regimen: str = "r-ice", **patient: Any):  # type: ignore[no-untyped-def]
    return build(make_patient(**patient), load_regimen(regimen), options(), changes=changes)


def final(calc: dict[str, Any], drug: str) -> dict[str, Any]:
    return next(o for o in calc["orders"] if o["drug"] == drug)


def test_a_reduction_prints_with_its_reason_everywhere() -> None:
    reason = "grade 4 neutropenia in cycle 1"
    standard = order_set()
    changed = order_set(parse_change("ETOPOSIDE=-20%", reason))  # any spelling drugs.yaml knows
    assert changed.status == "ok"
    before = final(to_json(standard), "etoposide")["final"]["value"]
    line = final(to_json(changed), "etoposide")
    assert line["final"]["value"] == pytest.approx(before * 0.8, abs=1)
    assert line["changed"]["reason"] == reason and line["changed"]["standard"]["value"] == before
    assert reason in line["calculation"]
    info = [f for f in changed.findings if f.rule == "DOS003"]
    assert [f.severity for f in info] == ["info"] and reason in info[0].message
    assert reason in calc_text(changed)
    rows = build_view(changed, "a4").systemic
    assert [reason in r.modification for r in rows].count(True) == 1


def test_above_the_standard_dose_is_held_until_acknowledged() -> None:
    change = parse_change("etoposide=+10%", "tolerated cycle 1 well")
    held = order_set(change)
    assert held.status == "held" and held.orders == ()
    assert [f.rule for f in held.holding] == ["DOS003"]
    ok = build(
        make_patient(), R_ICE, options(), (Acknowledgement("DOS003", "reviewed with the attending"),), b"", (change,)
    )
    assert ok.status == "ok"
    assert final(to_json(ok), "etoposide")["changed"]["percent"] > 100


def test_raising_a_band_reduced_dose_back_is_held() -> None:
    """A change may not undo a renal band without acknowledging it (REN001)."""
    reduced = order_set(serum_creatinine="1.5 mg/dL")
    etoposide = next(o for o in reduced.calculation.orders if o.drug == "etoposide")
    assert etoposide.modification is not None and etoposide.modification.percent == 80
    raised = order_set(parse_change("etoposide=+20%", "back towards full"), serum_creatinine="1.5 mg/dL")
    hold = next(f for f in raised.findings if f.rule == "DOS003")
    assert hold.severity == "hold" and "REN001-modified" in hold.message
    text = next(o.calculation for o in raised.calculation.orders if o.drug == "etoposide")
    assert text.index("REN001") < text.index("prescriber's change +20%")  # the change acts after the band


@pytest.mark.parametrize(
    ("text", "reason", "problem"),
    [
        ("etoposide=20%", "r", "needs its sign"),
        ("etoposide=-100%", "r", "above -100%"),
        ("etoposide=600", "r", "unit"),
        ("etoposide=600 mL", "r", "that kind of unit"),
        ("etoposide=-20%", "  ", "needs a reason"),
        ("aspirinex=-20%", "r", "unknown drug"),
        ("vincristine=-20%", "r", "not in the order set"),
        ("carboplatin=5000 mg", "r", "maximum"),
        ("etoposide", "r", "expected DRUG"),
    ],
)
def test_bad_changes_are_refused_naming_the_problem(text: str, reason: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        order_set(parse_change(text, reason))


def test_a_drug_by_two_routes_needs_the_route() -> None:
    regimen = "r-hyper-cvad-b"
    patient = {"diagnosis": "b-all", "disease_status": "newly-diagnosed", "markers": {"philadelphia": "negative"}}
    plan = load_regimen(regimen)
    with pytest.raises(InputError, match="name the route"):
        build(make_patient(**patient), plan, options(cycle=2), changes=(parse_change("methotrexate=-25%", "r"),))
    changed = build(
        make_patient(**patient), plan, options(cycle=2), changes=(parse_change("methotrexate@IV=-25%", "mucositis"),)
    )
    routes = {o.line.route: o.change is not None for o in changed.calculation.orders if o.drug == "methotrexate"}
    assert routes == {"IV": True, "intrathecal": False}


CAPPED = [
    o.drug
    for o in build(make_patient(), R_CHOP, options()).calculation.orders
    + build(make_patient(), R_ICE, options()).calculation.orders
    if o.maximum is not None
]


@settings(max_examples=60, deadline=None)
@given(
    drug=st.sampled_from(CAPPED),
    percent=st.floats(min_value=-99, max_value=100, allow_nan=False),
    amount=st.floats(min_value=0.1, max_value=20000, allow_nan=False),
    by_amount=st.booleans(),
)
def test_a_changed_dose_is_never_above_a_cap(drug: str, percent: float, amount: float, by_amount: bool) -> None:
    regimen = R_CHOP if drug in {line.drug for line in R_CHOP.lines_for_cycle(1)} else R_ICE
    change = DoseChange(drug, None, amount * MG, "r") if by_amount else DoseChange(drug, round(percent, 1), None, "r")
    try:
        result = build(make_patient(), regimen, options(), changes=(change,))
    except InputError as error:
        assert "maximum" in error.problem or "above zero" in error.problem
        return
    for order in result.calculation.orders:
        assert order.maximum is None or order.final <= order.maximum
        if order.change is not None and order.final > order.change.standard:
            assert result.status == "held"


def test_calc_and_render_take_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patient = str(ROOT / "samples" / "patients" / "relapsed-dlbcl.yaml")
    common = ["calc", patient, "--regimen", "r-ice", "--date", "2026-12-01"]
    assert main([*common, "--change", "ifosfamide=-20%", "--change-reason", "haematuria", "--json"]) == 0
    calc = json.loads(capsys.readouterr().out)
    assert final(calc, "ifosfamide")["changed"]["reason"] == "haematuria"
    assert calc["changes"] == [{"drug": "ifosfamide", "change": "-20%", "reason": "haematuria"}]
    assert main([*common, "--change", "etoposide=+5%", "--change-reason", "r"]) == 3
    assert "DOS003" in capsys.readouterr().out
    assert main([*common, "--change", "etoposide=-5%"]) == 2
    assert main([*common, "--change", "carboplatin=5000mg", "--change-reason", "r"]) == 2
    assert "carboplatin" in capsys.readouterr().err
    assert main([*common, "--change", "vincristine=1mg", "--change-reason", "r"]) == 2
    out = tmp_path / "o.pdf"
    args = ["render", patient, "--regimen", "r-ice", "--date", "2026-12-01", "-o", str(out)]
    assert main([*args, "--change", "etoposide=150mg", "--change-reason", "renal recovery pending"]) == 0
    assert out.read_bytes().startswith(b"%PDF")


def test_prepare_carries_the_last_verified_orders_changes_forward(record: Database) -> None:
    change = parse_change("doxorubicin=-25%", "grade 3 mucositis")
    first = prepare(record, dataclasses.replace(prepare_request(), changes=(change,)))
    assert first.as_json()["changes"] == [change.as_json()] and first.as_json()["carried_forward"] is None
    standard = final(prepare(record, prepare_request(cycle=2)).calc, "doxorubicin")  # nothing verified: not carried
    assert "changed" not in standard
    verify(record, VerifyRequest(first.order_id, me("phil")))
    release(record, first.order_id, me("phil"))
    second = prepare(record, prepare_request(cycle=3)).as_json()
    assert second["carried_forward"] == {"order_id": first.order_id, "changes": [change.as_json()]}
    assert final(second["calc"], "doxorubicin")["changed"]["reason"] == "grade 3 mucositis"
    assert show(record, second["order_id"]).as_json()["changes"] == [change.as_json()]
    override = parse_change("doxorubicin=-10%", "mucositis resolved")
    third = prepare(record, dataclasses.replace(prepare_request(cycle=4), changes=(override,))).as_json()
    assert third["carried_forward"] is None and final(third["calc"], "doxorubicin")["changed"]["change"] == "-10%"
    fresh = prepare(record, dataclasses.replace(prepare_request(cycle=5), carry_forward=False)).as_json()
    assert fresh["changes"] == [] and "changed" not in final(fresh["calc"], "doxorubicin")


def test_verification_recalculates_with_the_prescribers_changes() -> None:
    """A correctly changed dose is not a discrepancy: verify applies the order's changes too."""
    from helpers import make_patient, options, verify

    from chemo_orders.changes import parse_change
    from chemo_orders.verify import Prescription

    patient = make_patient(labs={"anc": "2 x10^9/L", "platelets": "150 x10^9/L", "bilirubin": "0.5 mg/dL"})
    # R-ICE etoposide 100 mg/m² × 1.972 m² = 197 mg; −20 % = 157.6 → 158 mg
    prescription = Prescription.model_validate(
        {"regimen": "r-ice", "cycle": 1, "doses": [{"drug": "etoposide", "day": 1, "dose": "158 mg"}]}
    )
    change = (parse_change("etoposide=-20%", "grade 3 mucositis last cycle"),)
    without = verify(patient, prescription, options(), 5)
    assert next(line for line in without.lines if line.drug == "etoposide").verdict != "ok"
    checked = verify(patient, prescription, options(), 5, changes=change)
    assert next(line for line in checked.lines if line.drug == "etoposide").verdict == "ok"


def test_mesna_follows_a_prescribers_ifosfamide_change() -> None:
    """R-ICE: ifosfamide −25 % (9,860 → 7,395 → 7,400 mg); mesna, 100 % of the ifosfamide dose, follows."""
    from helpers import make_patient, options

    from chemo_orders.changes import parse_change
    from chemo_orders.orderset import build
    from chemo_orders.regimen import load_regimen

    patient = make_patient(labs={"anc": "2 x10^9/L", "platelets": "150 x10^9/L", "bilirubin": "0.5 mg/dL"})
    change = (parse_change("ifosfamide=-25%", "neurotoxicity last cycle"),)
    result = build(patient, load_regimen("r-ice"), options(), changes=change)
    finals = {o.drug: float(o.final.magnitude) for o in result.orders}
    assert finals["ifosfamide"] == 7400 and finals["mesna"] == 7400
