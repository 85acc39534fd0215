"""No silent danger, no false alarm (issue 18): the review's false alarms pass with full doses,
holds replace guesses, vocabularies refuse what they do not know, and two properties hold for
any patient: the rules never raise and options never prefers what calc refuses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, make_patient, options
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chemo_orders.changes import parse_change
from chemo_orders.cli import main
from chemo_orders.errors import InputError
from chemo_orders.options import treatment_options
from chemo_orders.orderset import build
from chemo_orders.regimen import all_regimens, load_regimen

ALL_PH_NEGATIVE: dict[str, Any] = {"diagnosis": "b-all", "markers": {"philadelphia": "negative"}}


def status(regimen: str, cycle: int | None = None, changes: tuple[str, ...] = (), **patient: Any) -> Any:
    r = load_regimen(regimen)
    parsed = tuple(parse_change(c, "protocol table (test)") for c in changes)
    return build(make_patient(**patient), r, options(cycle=cycle or r.first_cycle()), changes=parsed)


# The review's false alarms: legitimate orders that must calculate (exit 0, full doses).


def test_r_ice_at_60_for_relapsed_dlbcl_is_not_held() -> None:
    order_set = status("r-ice", birth_date=None, age=60)
    assert order_set.status == "ok", [f.message for f in order_set.blocking]


def test_an_order_without_labs_is_a_warning_printed_for_the_day() -> None:
    order_set = status("r-ice", labs=None)
    assert order_set.status == "ok"
    assert {f.severity for f in order_set.findings if f.rule == "LAB001"} == {"warn"}


@pytest.mark.parametrize(
    ("regimen", "markers"),
    [
        ("blinatumomab", {"philadelphia": "positive", "cd19_percent": 95}),
        ("inotuzumab", {"philadelphia": "positive", "cd22_percent": 90}),
    ],
)
def test_relapsed_ph_positive_all_on_labelled_antibodies_is_not_blocked(regimen: str, markers: dict[str, Any]) -> None:
    order_set = status(regimen, diagnosis="b-all", disease_status="relapsed", markers=markers)
    assert order_set.status == "ok", [f.message for f in order_set.blocking]
    assert order_set.orders


def test_mini_hyper_cvd_ino_for_relapse_is_not_held_on_the_older_adult_indication_ages() -> None:
    order_set = status(
        "mini-hyper-cvd-ino",
        diagnosis="b-all",
        disease_status="relapsed",
        markers={"philadelphia": "negative", "cd22_percent": 90, "cd19_percent": 95},
    )
    assert not [f for f in order_set.findings if f.rule == "AGE001"]


def test_hyper_cvad_b_at_67_applies_its_own_age_adjusted_cytarabine_without_a_hold() -> None:
    order_set = status(
        "hyper-cvad-b",
        cycle=2,
        **ALL_PH_NEGATIVE,
        birth_date=None,
        age=67,
        disease_status="in-remission",
        prior_courses=[{"regimen": "hyper-cvad-a", "cycle": 1, "date": "2026-10-30"}],
    )
    assert not [f for f in order_set.findings if f.rule == "AGE001"]
    cytarabine = [o for o in order_set.calculation.orders if o.drug == "cytarabine" and o.line.route == "IV"]
    assert cytarabine and str(cytarabine[0].dose.units) != "" and cytarabine[0].dose.magnitude == 1


# Holds instead of guesses.


CHILD_HIGH_RISK: dict[str, Any] = {
    "birth_date": None,
    "age": 5,
    "height": "110 cm",
    "weight": "19 kg",
    "serum_creatinine": None,
    "diagnosis": "b-all",
    "disease_status": "newly-diagnosed",
    "markers": {"philadelphia": "negative"},
    "labs": {
        "wbc_at_diagnosis": "80 x10^9/L",
        "anc": "1 x10^9/L",
        "platelets": "150 x10^9/L",
        "bilirubin": "0.4 mg/dL",
        "bilirubin_uln": "1 mg/dL",
        "lvef_percent": 65,
    },
}


def test_four_drug_induction_at_5_holds_one_line_and_calculates_the_rest() -> None:
    order_set = status("pediatric-4-drug-induction", **CHILD_HIGH_RISK)
    assert order_set.status == "held"
    assert [f.rule for f in order_set.blocking] == ["DOS004"]
    assert {o.drug for o in order_set.calculation.orders} >= {"vincristine", "daunorubicin", "pegaspargase"}


def test_a_pharmacist_supplies_the_missing_line_with_its_source() -> None:
    order_set = status("pediatric-4-drug-induction", changes=("cytarabine@intrathecal=50 mg",), **CHILD_HIGH_RISK)
    assert order_set.status == "ok", [f.message for f in order_set.blocking]
    supplied = [o for o in order_set.orders if o.drug == "cytarabine" and o.line.route == "intrathecal"]
    assert supplied and supplied[0].final.magnitude == 50
    assert "protocol table (test)" in supplied[0].calculation


def test_a_missing_line_cannot_be_supplied_by_a_percent() -> None:
    with pytest.raises(InputError, match="give the amount"):
        status("pediatric-4-drug-induction", changes=("cytarabine@intrathecal=-10%",), **CHILD_HIGH_RISK)


# Vocabularies: unknown terms are refused naming the field, never guessed.


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("history", [{"condition": "pancreatitus"}], "history.condition"),
        ("medications", ["omeprazol"], "medications"),
        ("markers", {"tpmt": "deficient"}, "markers.tpmt"),
        ("pregnant", "yes", "pregnant"),
        ("labs", {"hbsag": "reactive"}, "labs.hbsag"),
    ],
)
def test_unknown_terms_are_refused_naming_the_field(field: str, value: Any, named: str) -> None:
    with pytest.raises(InputError) as error:
        make_patient(**{field: value})
    assert named in str(error.value)
    assert "did you mean" not in str(error.value)


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("acute pancreatitis", "pancreatitis"), ("VOD", "sinusoidal-obstruction-syndrome"), ("CVST", "thrombosis")],
)
def test_condition_synonyms(written: str, canonical: str) -> None:
    assert make_patient(history=[{"condition": written}]).history[0].condition == canonical


def test_co_medications_are_canonical_names() -> None:
    assert make_patient(medications=["Noxafil", "omeprazole"]).medications == ("posaconazole", "omeprazole")


# The bundled samples carry the labs they need; the batch shows the deliberate block.


def _sample_rows() -> list[tuple[str, str, int]]:
    lines = (ROOT / "samples" / "order-sets.csv").read_text().splitlines()[1:]
    return [(p, r, int(c)) for p, r, c in (line.split(",") for line in lines)]


@pytest.mark.parametrize(("patient", "regimen", "cycle"), _sample_rows())
def test_samples_calculate_without_a_hold_except_the_deliberate_block(patient: str, regimen: str, cycle: int) -> None:
    from chemo_orders.patient import load_patient

    loaded = load_patient(ROOT / "samples" / patient)
    order_set = build(loaded, load_regimen(regimen), options(cycle=cycle))
    if regimen == "r-ice" and loaded.diagnosis == "b-all":
        assert order_set.status == "blocked" and "IND002" in {f.rule for f in order_set.blocking}
    else:
        assert order_set.status == "ok", [f.message for f in order_set.blocking]


def test_calc_exits_3_for_a_held_scenario(tmp_path: Path) -> None:
    patient = tmp_path / "p.yaml"
    patient.write_text(
        "id: MRN-1\nname: Test\nage: 45\nsex: female\nheight: 170 cm\nweight: 70 kg\nserum_creatinine: 0.9 mg/dL\n"
        "diagnosis: dlbcl\ndisease_status: newly-diagnosed\nlabs: {anc: 0.8 x10^9/L, platelets: 150 x10^9/L}\n"
    )
    assert main(["calc", str(patient), "--regimen", "r-chop", "--date", "2026-11-22"]) == 3


# Properties.

ACTIVE = [r.id for r in all_regimens() if r.status == "active"]
PATIENTS = st.fixed_dictionaries(
    {
        "birth_date": st.none(),
        "age": st.integers(min_value=1, max_value=90),
        "diagnosis": st.sampled_from(["b-all", "t-all", "dlbcl", "burkitt"]),
        "disease_status": st.sampled_from(
            ["newly-diagnosed", "relapsed", "refractory", "mrd-positive", "in-remission"]
        ),
        "markers": st.fixed_dictionaries(
            {},
            optional={
                "cd20_percent": st.integers(0, 100),
                "cd19_percent": st.integers(0, 100),
                "cd22_percent": st.integers(0, 100),
                "philadelphia": st.sampled_from(["positive", "negative"]),
                "tpmt": st.sampled_from(["normal", "intermediate", "poor"]),
            },
        ),
        "labs": st.fixed_dictionaries(
            {},
            optional={
                "anc": st.sampled_from(["0.2 x10^9/L", "1 x10^9/L", "3 x10^9/L"]),
                "platelets": st.sampled_from(["15 x10^9/L", "150 x10^9/L"]),
                "bilirubin": st.sampled_from(["0.5 mg/dL", "6 mg/dL"]),
            },
        ),
        "pregnant": st.sampled_from([None, False]),
        "medications": st.lists(st.sampled_from(["omeprazole", "posaconazole", "ibuprofen"]), max_size=2),
    }
)


def _adult_sized(data: dict[str, Any]) -> dict[str, Any]:
    if data["age"] < 18:
        return {**data, "height": "120 cm", "weight": "25 kg", "serum_creatinine": None}
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patient=PATIENTS, regimen=st.sampled_from(ACTIVE))
def test_rules_never_raise_and_severities_are_known(patient: dict[str, Any], regimen: str) -> None:
    r = load_regimen(regimen)
    try:
        order_set = build(make_patient(**_adult_sized(patient)), r, options(cycle=r.first_cycle()))
    except InputError:
        return  # a combination the record refuses as bad input (exit 2), never a crash
    assert {f.severity for f in order_set.findings} <= {"block", "hold", "warn", "info"}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patient=PATIENTS)
def test_options_never_prefers_what_calc_blocks(patient: dict[str, Any]) -> None:
    data = _adult_sized(patient)
    loaded = make_patient(**data)
    approach = treatment_options(loaded, dt.date(2026, 11, 22))
    for choice in approach.choices:
        if choice.preferred:
            r = choice.regimen
            assert build(loaded, r, options(cycle=r.first_cycle())).status != "blocked", r.id


@pytest.mark.parametrize("patient", sorted((ROOT / "samples" / "patients").glob("*.yaml")), ids=lambda p: p.stem)
def test_options_preferred_is_never_blocked_for_the_sample_patients(patient: Path) -> None:
    from chemo_orders.patient import load_patient

    loaded = load_patient(patient)
    for choice in treatment_options(loaded, dt.date(2026, 11, 22)).choices:
        if choice.preferred:
            r = choice.regimen
            assert build(loaded, r, options(cycle=r.first_cycle())).status != "blocked", r.id


def test_an_institution_names_its_own_default_criteria(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chemo_orders.criteria import POLICY_ENV, default_policy

    policy = tmp_path / "criteria.yaml"
    policy.write_text(
        "criteria:\n  - {lab: anc, min: 0.5 x10^9/L}\n  - {lab: platelets, min: 50 x10^9/L}\n"
        "source: {citation: 'Example Hospital chemotherapy policy 12.3 (test fixture)', url: 'https://example.org/p'}\n"
    )
    monkeypatch.setenv(POLICY_ENV, str(policy))
    default_policy.cache_clear()
    try:
        labs = {"anc": "0.8 x10^9/L", "platelets": "150 x10^9/L"}
        assert status("r-chop", cycle=1, disease_status="newly-diagnosed", labs=labs).status == "ok"
        low = {"anc": "0.4 x10^9/L", "platelets": "150 x10^9/L"}
        held = status("r-chop", cycle=1, disease_status="newly-diagnosed", labs=low)
        assert any("Example Hospital" in ref for f in held.findings if f.rule == "LAB001" for ref in f.references)
    finally:
        monkeypatch.delenv(POLICY_ENV)
        default_policy.cache_clear()
