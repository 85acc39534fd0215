"""ALG001 and HIS001 match through drugs.yaml: drug, brand, class, on either side."""

from __future__ import annotations

from typing import Any

from helpers import child, make_patient, options

from chemo_orders.orderset import build
from chemo_orders.regimen import load_regimen

HIGH_RISK_CHILD = child(
    12,
    {"height": "150 cm", "weight": "40 kg"},
    labs={"wbc_at_diagnosis": "10 x10^9/L"},
    markers={"philadelphia": "negative"},
)


def findings(regimen: str, **changes: Any) -> list[Any]:
    patient = make_patient(**{**HIGH_RISK_CHILD, **changes})
    return list(build(patient, load_regimen(regimen), options()).findings)


def test_an_allergy_to_the_whole_class_does_not_offer_a_member_as_the_alternative() -> None:
    allergy = [f for f in findings("pediatric-4-drug-induction", allergies=["asparaginase"]) if f.rule == "ALG001"]
    assert allergy and allergy[0].severity == "block"
    assert allergy[0].use_instead is not None and allergy[0].use_instead.startswith("not ")


def test_an_allergy_to_pegaspargase_offers_the_cited_erwinia_alternative() -> None:
    allergy = [f for f in findings("pediatric-4-drug-induction", allergies=["Oncaspar"]) if f.rule == "ALG001"]
    assert allergy and allergy[0].use_instead is not None and "Rylaze" in allergy[0].use_instead


def test_a_history_naming_a_class_matches_its_members() -> None:
    history = [{"condition": "pancreatitis", "drug": "asparaginase"}]
    found = [f for f in findings("pediatric-4-drug-induction", history=history) if f.rule == "HIS001"]
    assert found and found[0].severity == "block"


def test_an_unrelated_history_is_silent() -> None:
    history = [{"condition": "pancreatitis", "drug": "cytarabine"}]
    assert not [f for f in findings("pediatric-4-drug-induction", history=history) if f.rule == "HIS001"]
