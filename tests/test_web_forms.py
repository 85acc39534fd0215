"""The patient form: what is typed is what is stored, and what the form does not show is kept."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chemo_orders.errors import InputError
from chemo_orders.record.patients import parse
from chemo_orders.web import forms

TYPED = {
    "mrn": "MRN-F1",
    "name": "Rivera, Ana",
    "birth_date": "1981-03-14",
    "sex": "female",
    "height": "68.9 in",
    "weight": "150 lb",
    "serum_creatinine": "71 umol/L",
    "diagnosis": "b-all",
    "disease_status": "newly-diagnosed",
    "ecog": "1",
    "cd20": "40",
    "cd22": "95.5",
    "philadelphia": "negative",
    "anc": "1.8 x10^9/L",
    "lvef": "60",
    "allergies": "penicillin\nasparaginase (anaphylaxis)",
}
words = st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd")), min_size=1, max_size=12)


def test_a_typed_patient_is_a_valid_patient_file_and_shows_again_as_typed() -> None:
    data = forms.patient_data(TYPED, None)
    patient = parse(data)
    assert patient.height.magnitude == 68.9 and str(patient.height.units) == "inch"
    assert patient.markers.cd20_percent == 40 and patient.ecog == 1
    assert [a.describe() for a in patient.allergies] == ["penicillin", "asparaginase (anaphylaxis)"]
    shown = forms.values(data)
    assert {k: shown[k] for k in TYPED} == TYPED


@given(st.lists(words, min_size=1, max_size=4), st.lists(st.sampled_from(["", "rash", "anaphylaxis"]), min_size=4))
def test_allergy_lines_round_trip(substances: list[str], reactions: list[str]) -> None:
    lines = [f"{s} ({r})" if r else s for s, r in zip(substances, reactions, strict=False)]
    data = forms.patient_data({"allergies": "\n".join(lines)}, None)
    assert forms.values(data)["allergies"] == "\n".join(lines)


def test_fields_the_form_does_not_show_are_kept_and_emptied_ones_removed() -> None:
    previous = {**forms.patient_data(TYPED, None), "history": [{"condition": "pancreatitis"}]}
    edited = forms.patient_data({**TYPED, "cd22": "", "weight": "70 kg"}, previous)
    assert edited["history"] == [{"condition": "pancreatitis"}] and edited["weight"] == "70 kg"
    assert "cd22_percent" not in edited["markers"] and previous["markers"]["cd22_percent"] == 95.5


@pytest.mark.parametrize(
    ("changes", "label", "problem"),
    [
        ({"height": "175"}, "Height", "missing unit"),
        ({"weight": "68 cm"}, "Weight", "expected a mass"),
        ({"cd20": "many"}, "CD20 (%)", "expected a number"),
        ({"cd20": "140"}, "CD20 (%)", "less than or equal to 100"),
        ({"sex": "x"}, "Sex", "expected one of female, male"),
        ({"birth_date": "14/03/1981"}, "Date of birth", "not a calendar date"),
        ({"anc": "lots"}, "ANC", ""),
        ({"mrn": "MRN 1/2"}, "MRN", "letters, digits"),
        ({"diagnosis": "leukaemia"}, "Diagnosis", "unknown diagnosis"),
    ],
)
def test_bad_input_names_the_field_as_labelled(changes: dict[str, str], label: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(forms.patient_data({**TYPED, **changes}, None))
    field = forms.field_for(caught.value)
    assert field is not None and field.label == label
    message = forms.message(caught.value, field)
    assert message.startswith(f"{label}: ") and problem in message
