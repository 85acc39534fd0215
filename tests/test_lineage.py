"""ALL whose lineage is not stated (ICD-10-CM C91.0x alone): an ALL for every rule about any
ALL, never taken for B-ALL or T-ALL; whatever the lineage decides is held for a pharmacist."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from helpers import ROOT, make_patient, options

from chemo_orders.diagnosis import DIAGNOSIS_NAMES, parse_diagnosis
from chemo_orders.options import options_text, treatment_options
from chemo_orders.orderset import Acknowledgement, OrderSet, build
from chemo_orders.patient import Patient, load_patient
from chemo_orders.regimen import Indication, When, all_regimens, load_regimen
from chemo_orders.render import build_view, render_html
from chemo_orders.report import calc_text

PATIENT = ROOT / "tests" / "patients" / "adult-all-lineage-not-stated.yaml"
STOPS = ("block", "hold")


def patient() -> Patient:
    return load_patient(PATIENT)


def calculated(regimen: str, *acks: Acknowledgement, **changes: Any) -> OrderSet:
    loaded = make_patient(diagnosis="all-lineage-unknown", **changes) if changes else patient()
    return build(loaded, load_regimen(regimen), options(), acks)


def stopping(order_set: OrderSet) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for f in order_set.findings:
        if f.severity in STOPS:
            found.setdefault(f.rule, set()).add(f.severity)
    return found


@pytest.mark.parametrize("text", ["ALL", "acute lymphoblastic leukemia", "Acute lymphoblastic leukaemia"])
def test_the_patient_file_names_all_without_lineage(text: str) -> None:
    assert parse_diagnosis(text) == "all-lineage-unknown"


def test_a_regimen_cannot_be_indicated_for_an_unknown_lineage() -> None:
    assert Indication(disease="all").disease == "all"  # the family, not the patient's unknown
    with pytest.raises(ValueError, match="indicated for"):
        Indication(disease="all-lineage-unknown")


def test_a_line_condition_names_a_disease_never_the_unknown_lineage() -> None:
    both, b_only = When(diagnosis=("b-all", "t-all")), When(diagnosis=("b-all",))
    unknown = make_patient(diagnosis="all-lineage-unknown")
    assert both.matches(unknown, 45) and not b_only.matches(unknown, 45)
    assert When(diagnosis=("all",)).matches(unknown, 45)  # the family
    with pytest.raises(ValueError, match="indicated for"):
        When(diagnosis=("all-lineage-unknown",))


def test_low_counts_before_the_first_cycle_are_the_disease_for_any_all() -> None:
    """criteria-default.yaml exempts B-ALL and T-ALL: so it does whichever lineage this is."""
    labs = {"anc": "0.2 x10^9/L", "platelets": "20 x10^9/L"}
    common = {"disease_status": "newly-diagnosed", "markers": {"philadelphia": "negative"}, "labs": labs}
    lab001 = {
        d: {
            f.severity
            for f in build(make_patient(diagnosis=d, **common), load_regimen("hyper-cvad-a"), options()).findings
            if f.rule == "LAB001"
        }
        for d in ("b-all", "all-lineage-unknown")
    }
    assert lab001["all-lineage-unknown"] == lab001["b-all"] == {"warn"}  # a warning, not a hold


def test_r_ice_is_blocked_by_ind002() -> None:
    order_set = calculated("r-ice")
    assert order_set.status == "blocked" and "IND002" in {f.rule for f in order_set.blocking}


def test_a_b_all_regimen_is_held_and_calculates_once_acknowledged() -> None:
    held = calculated("r-hyper-cvad-a")
    finding = next(f for f in held.findings if f.rule == "IND001")
    assert held.status == "held" and finding.severity == "hold"
    assert "lineage not stated" in finding.message and "for B-ALL" in finding.message
    assert "immunophenotype" in finding.message
    ack = Acknowledgement("IND001", "B-lineage by flow cytometry, report pending; discussed with haematologist")
    done = calculated("r-hyper-cvad-a", ack)
    assert done.status == "ok" and done.orders and done.acknowledgements == (ack,)


def test_a_regimen_for_all_of_either_lineage_is_not_held() -> None:
    order_set = calculated("hyper-cvad-a")
    assert order_set.status == "ok" and "IND001" not in {f.rule for f in order_set.findings}


def test_a_regimen_indicated_alike_for_both_lineages_is_not_held() -> None:
    """CALGB 10403: the same population for B-ALL and T-ALL (a reference regimen: REG001 blocks)."""
    ph_negative = {"philadelphia": "negative"}
    order_set = calculated(
        "calgb-10403-induction", birth_date=None, age=25, disease_status="newly-diagnosed", markers=ph_negative
    )
    assert "IND001" not in {f.rule for f in order_set.findings}


def test_nelarabine_is_held_by_both_indication_and_lineage_rules() -> None:
    order_set = calculated("nelarabine", disease_status="relapsed")
    assert stopping(order_set) == {"IND001": {"hold"}, "MRK002": {"hold"}}


@pytest.mark.parametrize("status", ["relapsed", "mrd-positive"])
def test_blinatumomab_is_held_not_guessed(status: str) -> None:
    order_set = calculated("blinatumomab", disease_status=status, markers={"cd19_percent": 90, "mrd_percent": 1})
    assert stopping(order_set).get("IND001") == {"hold"}


STATUSES = ["newly-diagnosed", "relapsed", "refractory", "in-remission", "mrd-positive"]


@pytest.mark.parametrize("status", STATUSES)
def test_never_silent_where_the_lineage_matters(status: str) -> None:
    """Wherever B-ALL and T-ALL would be treated differently (or either is stopped), ALL of
    unstated lineage is stopped too: it never passes on a guess."""
    markers = {"cd19_percent": 90, "cd20_percent": 40, "cd22_percent": 90, "mrd_percent": 1, "philadelphia": "negative"}
    for age in (6, 30):
        child = {"serum_creatinine": None, "height": "115 cm", "weight": "21 kg"} if age < 18 else {}
        common = {"disease_status": status, "birth_date": None, "age": age, "markers": markers, **child}
        for regimen in all_regimens():
            run = {
                d: stopping(build(make_patient(diagnosis=d, **common), regimen, options(cycle=regimen.first_cycle())))
                for d in ("b-all", "t-all", "all-lineage-unknown")
            }
            unknown = set(run["all-lineage-unknown"]) - {"REG001"}
            lineages_differ = run["b-all"] != run["t-all"] or set(run["b-all"]) - {"REG001"}
            assert unknown or not lineages_differ, (regimen.id, status, age, run)


def test_options_say_the_lineage_is_needed_and_prefer_nothing() -> None:
    approach = treatment_options(patient(), dt.date(2026, 11, 22))
    choices = {c.regimen.id: c for c in approach.choices}
    assert not any(c.preferred for c in approach.choices)
    assert choices["r-hyper-cvad-a"].needs_lineage and not choices["r-hyper-cvad-a"].fits
    assert choices["hyper-cvad-a"].fits and not choices["hyper-cvad-a"].needs_lineage
    assert not choices["r-ice"].needs_lineage and not choices["r-ice"].fits
    assert "lineage?  r-hyper-cvad-a" in options_text(approach)


def test_the_order_set_names_the_diagnosis() -> None:
    name = "Acute lymphoblastic leukaemia, lineage not stated"
    order_set = calculated("hyper-cvad-a")
    assert DIAGNOSIS_NAMES["all-lineage-unknown"] == name
    assert name in calc_text(order_set) and name in render_html(build_view(order_set))
