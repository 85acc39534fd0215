"""ALG001 and HIS001 match through drugs.yaml: drug, brand, class, on either side."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import child, make_patient, options

from chemo_orders.errors import InputError
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


# Issue 19: no field switches the allergy check off; free text names its drug in any position.


def test_a_drug_key_that_is_no_drug_is_refused() -> None:
    with pytest.raises(InputError, match=r"allergies\.0\.drug"):
        make_patient(allergies=[{"substance": "rituximab", "drug": "latex"}])


@pytest.mark.parametrize("stated", [None, "rituximab", "carboplatin"])
def test_a_drug_key_can_only_add_a_match(stated: str | None) -> None:
    entry: dict[str, object] = {"substance": "rituximab", "drug": stated}
    order_set = build(make_patient(allergies=[entry]), load_regimen("r-ice"), options())
    assert order_set.status == "blocked"
    assert any(f.rule == "ALG001" and f.drug == "rituximab" for f in order_set.findings)


def test_a_drug_key_adds_its_drug_to_the_text() -> None:
    allergy = make_patient(allergies=[{"substance": "latex", "drug": "carboplatin"}]).allergies[0]
    assert allergy.drugs == ("carboplatin",) and allergy.allergen == "latex"


@pytest.mark.parametrize(
    ("written", "drug"),
    [
        ("rituximab (anaphylaxis)", "rituximab"),
        ("Rituxan anaphylaxis", "rituximab"),
        ("anaphylaxis to RITUXAN in 2024", "rituximab"),
        ("VP16", "etoposide"),
        ("VP-16 - rash", "etoposide"),
        ("Etopophos", "etoposide"),
        ("G-CSF (bone pain, urticaria)", "pegfilgrastim"),
        ("sulfa drugs", "trimethoprim-sulfamethoxazole"),
        ("carboplatin hypersensitivity cycle 6", "carboplatin"),
    ],
)
def test_free_text_names_its_drug_in_any_position(written: str, drug: str) -> None:
    from chemo_orders.drugs import drug_table

    allergy = make_patient(allergies=[written]).allergies[0]
    table = drug_table()
    assert any(drug in table.members(named) for named in allergy.drugs), allergy.drugs


@pytest.mark.parametrize("written", ["ritux", "the red one", "NKDA maybe", "chemo"])
def test_text_naming_nothing_known_is_refused(written: str) -> None:
    with pytest.raises(InputError, match=r"allergies\.0\.substance"):
        make_patient(allergies=[written])


@pytest.mark.parametrize("written", ["latex", "Latex gloves - urticaria", "iodinated contrast media"])
def test_non_drug_allergens_are_known_by_name(written: str) -> None:
    assert make_patient(allergies=[written]).allergies[0].allergen is not None
