"""The fuzz suite (issue 10): generated and hostile patient files, through the whole calculation.

Two properties over generated patient files, each run through the same path as ``calc``
(strict loader, model, whole-record plausibility, dosing, rules): nothing but the project's
own InputError ever escapes (no exit 1, no crash, no hang); and a file in which a quantity
field holds nonsense never produces a dose. The corpus is the hostile-input review's list.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chemo_orders.dosing import Options
from chemo_orders.errors import InputError
from chemo_orders.loader import parse_yaml
from chemo_orders.models import validate
from chemo_orders.orderset import build
from chemo_orders.patient import Patient
from chemo_orders.regimen import load_regimen

ON = dt.date(2026, 11, 30)
VALID: dict[str, Any] = {
    "id": "MRN-F1",
    "name": "Fuzz, Patient",
    "birth_date": "1970-11-02",
    "sex": "female",
    "height": "168 cm",
    "weight": "72 kg",
    "serum_creatinine": "0.9 mg/dL",
    "measured_on": "2026-11-21",
    "diagnosis": "dlbcl",
    "disease_status": "relapsed",
    "labs": {"anc": "2.4 x10^9/L", "platelets": "180 x10^9/L", "bilirubin": "0.5 mg/dL"},
    "allergies": ["latex"],
}
QUANTITY_FIELDS = ["height", "weight", "serum_creatinine"]
# Each of these silently became a dose when quantities were evaluated as pint expressions.
NONSENSE = [
    "7,2 kg",
    "7 5 kg",
    "72.1.5 kg",
    "kg",
    "? kg",
    "$ kg",
    "∞ kg",
    "−72 kg",
    "~72 kg",
    ">1.2 mg/dL",
    "1.2 ± 0.1 mg/dL",
    "9**9**9 cm",
    "1e25 cm",
    "2**1024 cm",
    "NaN kg",
    "0x10 kg",
    "72",
    "",
    "  ",
    "72 kg kg",
    "(72) kg",
    "72kgs",
    "seventy kg",
    "7.2.kg",
    "1/0 kg",
    "72 k g",
    "72 KG",
    "72\x00 kg",
    "72 kg; rm -rf /",
    "{{7*7}} kg",
    "${jndi:x} kg",
    "72 \u202ekg",
    "١٢٣ kg",
    "72 lb lb",
    "-0 kg",
]
DATES = ["2026-02-30", "0", 0, True, "1970-13-01", "2099-01-01", "yesterday", 19700101, "1970-1-1"]


def calculate(data: object) -> object:
    """The calc path on an in-memory file: load, validate, build R-ICE; only InputError may escape."""
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    patient = validate(Patient, parse_yaml(text, "patient file", "fuzz.yaml"), "fuzz.yaml")
    return build(patient, load_regimen("r-ice"), Options(on=ON))


@pytest.mark.parametrize("field", QUANTITY_FIELDS)
@pytest.mark.parametrize("value", NONSENSE)
def test_nonsense_quantity_is_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(InputError) as caught:
        calculate({**VALID, field: value})
    assert field in caught.value.message or "height, weight" in caught.value.message


@pytest.mark.parametrize("value", DATES)
@pytest.mark.parametrize("field", ["birth_date", "measured_on"])
def test_bad_dates_are_refused(field: str, value: object) -> None:
    with pytest.raises(InputError):
        calculate({**VALID, field: value})


@pytest.mark.parametrize(
    "changes",
    [
        {"age": True, "birth_date": None},
        {"weight": "1 kg"},
        {"height": "30 cm", "weight": "100 kg"},
        {"labs": {"anc": "-1 x10^9/L"}},
        {"labs": {"bilirubin": "1e6 mg/dL"}},
        {"prior_cumulative": {"doxorubicin": "-50 mg/m2"}},
        {"prior_cumulative": {"doxorubicine": "50 mg/m2"}},
        {"name": "Doe\x1b[31m, Jane"},
        {"id": "MRN-\u202e321"},
        {"name": "a\x00b"},
    ],
    ids=lambda c: ",".join(c),
)
def test_implausible_records_are_refused(changes: dict[str, Any]) -> None:
    data = {**VALID, **changes}
    with pytest.raises(InputError):
        calculate({k: v for k, v in data.items() if v is not None})


@pytest.mark.parametrize("spelling", ["DOXOrubicin", "Doxorubicin", "adriamycin", "doxorubicin hydrochloride"])
def test_every_spelling_of_a_drug_counts_toward_its_lifetime_limit(spelling: str) -> None:
    data = {
        **VALID,
        "diagnosis": "dlbcl",
        "disease_status": "newly-diagnosed",
        "prior_cumulative": {spelling: "540 mg/m2"},
        "labs": {**VALID["labs"], "lvef_percent": 60},
    }
    patient = validate(Patient, data, "test")
    order_set = build(patient, load_regimen("r-chop"), Options(on=ON))
    assert order_set.status == "blocked" and any(f.rule == "DOS002" for f in order_set.blocking)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=24),
    st.sampled_from(NONSENSE),
    st.sampled_from(DATES),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
_fields = st.sampled_from(
    [
        *VALID,
        "age",
        "markers",
        "history",
        "ecog",
        "prior_cumulative",
        "previous_weight",
        "measured_gfr",
        "measurements_confirmed",
        "unknown",
    ]
)


@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(_fields, _values, min_size=1, max_size=4))
def test_ten_thousand_generated_files_never_crash(changes: dict[str, Any]) -> None:
    try:
        calculate({**VALID, **changes})
    except InputError as error:
        assert "\n" not in error.message and len(error.message) < 600


@settings(max_examples=1_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(QUANTITY_FIELDS), st.sampled_from(NONSENSE), st.dictionaries(_fields, _values, max_size=2))
def test_nonsense_never_becomes_a_dose(field: str, nonsense: str, others: dict[str, Any]) -> None:
    others.pop(field, None)
    with pytest.raises(InputError):
        calculate({**VALID, **others, field: nonsense})


# Issue 19: the YAML 1.1 forms, explicit keys and the .json specials.
YAML_1_1 = ["070", "012", "1:20", "0x37", "0o17", "2_4", "yes", "no", "on", "off", "!!int 070", "!!bool yes"]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["age", "ecog", "pregnant", "measurements_confirmed"]), st.sampled_from(YAML_1_1))
def test_yaml_1_1_forms_are_never_reinterpreted(field: str, written: str) -> None:
    """A YAML 1.1 number or boolean in a number or true/false field is refused naming the field."""
    text = yaml.safe_dump({k: v for k, v in VALID.items() if k != "birth_date" or field != "age"})
    with pytest.raises(InputError) as caught:
        calculate(text + f"{field}: {written}\n")
    assert caught.value.field == field


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(["? ", "- ", ": ", "?", "-", " "]), min_size=1, max_size=200), st.integers(1, 400))
def test_explicit_key_runs_never_crash(pieces: list[str], repeat: int) -> None:
    """Runs of block indicators (explicit keys, entries, values) are refused or parsed, never a crash."""
    with contextlib.suppress(InputError):
        calculate("".join(pieces) * repeat + "a\n")


@pytest.mark.parametrize(
    "text",
    ['{"id": 1, "id": 2}', '{"a": NaN}', '{"a": -Infinity}', '{"a": 1e400}', "[" * 1000, '{"a": ' + "1" * 5000 + "}"],
)
def test_json_specials_are_refused(text: str) -> None:
    from chemo_orders.loader import parse_json

    with pytest.raises(InputError):
        parse_json(text, "patient file", "fuzz.json")
