"""FHIR import: a patient Bundle reads as the same patient as its YAML twin; bad input names
the FHIR element (exit 2); the command line exports nothing for a blocked order (exit 3)."""

from __future__ import annotations

import contextlib
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fhir_helpers import SAMPLES, order_set, resources
from helpers import make_patient, options
from hypothesis import given, settings
from hypothesis import strategies as st

from chemo_orders.errors import InputError
from chemo_orders.fhir.export import order_bundle_for
from chemo_orders.fhir.importer import patient_data, patient_from_bundle
from chemo_orders.fhir.terminology import terminology
from chemo_orders.orderset import build, to_json
from chemo_orders.quantities import parse_quantity
from chemo_orders.regimen import load_regimen

BUNDLE = SAMPLES / "fhir" / "relapsed-dlbcl.json"
YAML = SAMPLES / "patients" / "relapsed-dlbcl.yaml"
DATE = ["--date", "2026-11-22"]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chemo_orders.cli", *map(str, args)], capture_output=True, text=True, timeout=60
    )


def sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(BUNDLE.read_text(encoding="utf-8"))
    return data


def entry(bundle: dict[str, Any], resource_type: str, loinc: str | None = None) -> dict[str, Any]:
    for item in bundle["entry"]:
        resource: dict[str, Any] = item["resource"]
        if resource["resourceType"] == resource_type and (
            loinc is None or resource["code"]["coding"][0]["code"] == loinc
        ):
            return resource
    raise AssertionError(resource_type)


def test_sample_bundle_gives_the_same_calc_json_as_its_yaml_twin() -> None:
    from_fhir = run("calc", BUNDLE, "--regimen", "r-ice", "--json", *DATE)
    from_yaml = run("calc", YAML, "--regimen", "r-ice", "--json", *DATE)
    assert from_fhir.returncode == from_yaml.returncode == 0, from_fhir.stderr
    fhir_json, yaml_json = json.loads(from_fhir.stdout), json.loads(from_yaml.stdout)
    assert fhir_json.pop("input_hash") != yaml_json.pop("input_hash")
    assert fhir_json == yaml_json


def test_sample_bundle_maps_to_the_patient_file_fields() -> None:
    data, _ = patient_data(sample())
    assert data["id"] == "MRN-100006"  # the identifier typed MR, not the insurance number
    assert data["name"] == "Novak, Petra" and data["sex"] == "female" and data["birth_date"] == "1970-11-02"
    assert (data["height"], data["weight"], data["serum_creatinine"]) == (
        "168 cm",
        "72 kg",
        "0.9 mg/dL",
    )  # latest weight
    assert data["labs"] == {"anc": "2.4 x10^9/L", "platelets": "180 x10^3/uL"}
    assert (data["diagnosis"], data["disease_status"]) == (
        "dlbcl",
        "relapsed",
    )  # ICD-O-3 9680/3, clinical status relapse
    assert data["allergies"] == [{"substance": "latex"}] and str(data["measured_on"]) == "2026-11-21"


@pytest.mark.parametrize("version", ["r5", "r4"])
@pytest.mark.parametrize(
    ("patient", "regimen", "cycle"),
    [
        ("relapsed-dlbcl", "r-ice", 1),
        ("us-units-b-all", "r-hyper-cvad-b", 2),
        ("obese-adult-dlbcl", "r-dhap", 1),
        ("adult-b-all-cd20-positive", "r-hyper-cvad-a", 1),
        ("pediatric-b-all-standard-risk", "pediatric-3-drug-induction", 1),
        ("older-adult-b-all", "mini-hyper-cvd-ino", 1),
        ("newly-diagnosed-dlbcl", "r-chop", 1),
    ],
)
def test_export_then_import_gives_the_same_doses(
    tmp_path: Path, patient: str, regimen: str, cycle: int, version: str
) -> None:
    original = order_set(SAMPLES / "patients" / f"{patient}.yaml", regimen, cycle)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(order_bundle_for(original, version)), encoding="utf-8")
    again = to_json(order_set(path, regimen, cycle))
    assert again["status"] == "ok"
    assert [o["final"] for o in again["orders"]] == [o["final"] for o in to_json(original)["orders"]]
    assert again["findings"] == to_json(original)["findings"]


def test_doses_in_the_bundle_equal_the_calc_after_a_round_trip(tmp_path: Path) -> None:
    bundle = order_bundle_for(order_set(YAML, "r-ice"), "r5")
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    finals = [o["final"]["value"] for o in to_json(order_set(path, "r-ice"))["orders"]]
    exported = [
        r["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"]
        for r in resources(bundle, "MedicationRequest")
    ]
    assert exported == finals


def test_blocked_order_exports_nothing() -> None:
    result = run("fhir", "order", SAMPLES / "patients" / "adult-b-all-cd20-positive.yaml", "--regimen", "r-ice", *DATE)
    assert result.returncode == 3 and result.stdout == ""
    assert "IND002" in result.stderr


def test_cli_prints_valid_fhir(tmp_path: Path) -> None:
    plan = run("fhir", "regimen", "r-ice", "--fhir-version", "r4")
    assert plan.returncode == 0 and json.loads(plan.stdout)["resourceType"] == "PlanDefinition"
    order = run("fhir", "order", BUNDLE, "--regimen", "r-ice", *DATE)
    assert order.returncode == 0, order.stderr
    assert any(e["resource"]["resourceType"] == "RequestOrchestration" for e in json.loads(order.stdout)["entry"])


def broken(change: Any) -> dict[str, Any]:
    bundle = copy.deepcopy(sample())
    change(bundle)
    return bundle


def set_height(bundle: dict[str, Any], **fields: Any) -> None:
    entry(bundle, "Observation", "8302-2")["valueQuantity"].update(fields)


def remove_height(bundle: dict[str, Any]) -> None:
    bundle["entry"].remove(next(e for e in bundle["entry"] if e["resource"] is entry(bundle, "Observation", "8302-2")))


def second_creatinine_same_day(bundle: dict[str, Any]) -> None:
    creatinine = copy.deepcopy(entry(bundle, "Observation", "2160-0"))
    creatinine["valueQuantity"]["value"] = 1.4
    bundle["entry"].append({"fullUrl": "urn:uuid:5f0c2a1e-0000-4000-8000-000000000001", "resource": creatinine})


def other_patients_height(bundle: dict[str, Any]) -> None:
    entry(bundle, "Observation", "8302-2")["subject"] = {"reference": "Patient/someone-else"}


def add_cd20_in_mg(bundle: dict[str, Any]) -> None:
    cd20 = copy.deepcopy(entry(bundle, "Observation", "8302-2"))
    cd20["code"] = {
        "coding": [{"system": "http://chemo-orders.example.org/fhir/CodeSystem/marker", "code": "cd20-percent"}]
    }
    cd20["valueQuantity"] = {"value": 40, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    bundle["entry"].append({"fullUrl": "urn:uuid:5f0c2a1e-0000-4000-8000-000000000002", "resource": cd20})


BAD = [
    (lambda b: set_height(b, value=1750), "Observation[height].valueQuantity", "implausible"),
    (lambda b: set_height(b, code="[ft_i]"), "Observation[height].valueQuantity.code", "expected a UCUM code"),
    (lambda b: set_height(b, system="http://example.org/units"), "Observation[height].valueQuantity.system", "UCUM"),
    (lambda b: set_height(b, value="168"), "Observation[height].valueQuantity.value", "expected a number"),
    (lambda b: set_height(b, value=True), "Bundle.entry[1].resource.valueQuantity.value", ""),
    (other_patients_height, "Observation[height].subject", "not the Bundle's Patient"),
    (remove_height, "Observation[height]", "required"),
    (second_creatinine_same_day, "Observation[serum_creatinine]", "different values on the same date"),
    (lambda b: entry(b, "Patient").update(gender="unknown"), "Patient.gender", ""),
    (add_cd20_in_mg, "Observation[markers.cd20_percent].valueQuantity.code", "expected UCUM %"),
    (lambda b: entry(b, "Patient").pop("identifier"), "Patient.identifier", "MR"),
    (
        lambda b: entry(b, "Condition")["code"]["coding"][0].update(code="8140/3"),
        "Condition[0].code",
        "unknown diagnosis",
    ),
    (lambda b: entry(b, "Condition")["code"].update(coding=[]), "Condition", "no Condition coded"),
    (lambda b: b["entry"].pop(0), "Bundle.entry", "exactly one Patient"),
]


@pytest.mark.parametrize(("change", "element", "problem"), BAD, ids=[b[1] + (f"-{i}") for i, b in enumerate(BAD)])
def test_bad_bundle_names_the_element(change: Any, element: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        patient_from_bundle(broken(change), "bundle.json")
    assert caught.value.field == element
    assert problem in caught.value.problem


def test_bad_bundle_exits_2_with_the_element(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(broken(lambda b: set_height(b, value=1750))), encoding="utf-8")
    result = run("calc", path, "--regimen", "r-ice", *DATE)
    assert result.returncode == 2 and result.stdout == ""
    assert "Observation[height].valueQuantity: implausible" in result.stderr


def test_refuted_and_other_patients_records_are_not_read() -> None:
    bundle = sample()
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "AllergyIntolerance",
                "code": {"text": "rituximab"},
                "patient": entry(bundle, "AllergyIntolerance")["patient"],
                "verificationStatus": {"coding": [{"code": "refuted"}]},
            }
        }
    )
    data, _ = patient_data(bundle)
    assert data["allergies"] == [{"substance": "latex"}]


def test_other_conditions_become_history_with_the_drug_they_followed() -> None:
    bundle = sample()
    subject = entry(bundle, "Condition")["subject"]
    due_to = {
        "url": "http://hl7.org/fhir/StructureDefinition/condition-dueTo",
        "valueCodeableConcept": {"text": "Oncaspar"},
    }
    condition = {
        "code": {"text": "Pancreatitis"},
        "subject": subject,
        "onsetDateTime": "2026-05-01",
        "extension": [due_to],
    }
    bundle["entry"].append({"resource": {"resourceType": "Condition", **condition}})
    event = patient_from_bundle(bundle, "bundle.json").history[0]
    assert (event.condition, event.drug, str(event.date)) == ("pancreatitis", "pegaspargase", "2026-05-01")


@pytest.mark.parametrize("version", ["r5", "r4"])
def test_the_patient_survives_export_and_import(version: str) -> None:
    """Everything the Bundle carries comes back as it was (not carried: age and
    measurements_confirmed; see docs/fhir.md)."""
    patient = make_patient(
        measured_on="2026-11-20",
        labs={
            "anc": "1.8 x10^9/L",
            "platelets": "150 x10^9/L",
            "wbc": "4.2 x10^9/L",
            "wbc_at_diagnosis": "62 x10^9/L",
            "hemoglobin": "11 g/dL",
            "bilirubin": "0.6 mg/dL",
            "bilirubin_uln": "1.2 mg/dL",
            "ast": "28 units/L",
            "ast_uln": "40 units/L",
            "alt": "31 units/L",
            "lvef_percent": 60,
        },
        markers={"cd20_percent": 40, "philadelphia": "negative", "cd22_percent": 90, "mrd_percent": 0.5},
        allergies=[{"substance": "penicillin", "reaction": "rash"}, "latex"],
        history=[{"condition": "thrombosis", "drug": "pegaspargase", "date": "2026-05-01", "note": "line-related"}],
        ecog=1,
    )
    order = build(patient, load_regimen("r-ice"), options(), (), b"test")
    assert order.status == "ok"
    again = patient_from_bundle(order_bundle_for(order, version), "bundle.json")
    assert again.observed_until == patient.measured_on  # the newest result the Bundle held
    assert again.model_copy(update={"observed_until": None}) == patient


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([(kind, code) for kind, table in terminology().units.items() for code in table]),
    st.floats(min_value=0.001, max_value=1e6, allow_nan=False, allow_infinity=False),
)
def test_unit_tables_translate_both_ways(kind_code: tuple[str, str], value: float) -> None:
    """UCUM → patient-file text → pint → UCUM returns the same code and number."""
    kind, code = kind_code
    text = terminology().patient_value(value, code, kind, "test")
    quantity = terminology().quantity(parse_quantity(text, "test"), kind)
    assert quantity["code"] == code
    assert quantity["value"] == pytest.approx(value, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.text(max_size=4),
    st.sampled_from(["cm", "m", "[in_i]", "kg", "mm", "", "10*9/L"]) | st.text(max_size=6),
    st.dates().map(str) | st.text(max_size=12),
    st.sampled_from(["female", "male", "other", "unknown", ""]) | st.text(max_size=6),
)
def test_no_bundle_crashes_the_importer(value: Any, code: str, date: str, gender: str) -> None:
    """Whatever an EHR sends in these elements, the answer is a patient or an InputError."""
    bundle = sample()
    set_height(bundle, value=value, code=code)
    entry(bundle, "Observation", "8302-2")["effectiveDateTime"] = date
    entry(bundle, "Patient")["gender"] = gender
    with contextlib.suppress(InputError):
        patient_from_bundle(bundle, "fuzz.json")
