"""FHIR export: every output validates for R5 and R4 (R4B models), and carries the right codes.

fhir.resources checks structure only, so the codes are checked here against values written
out in the test (each verified in a source, see terminology.yaml), not read back from the
same table the code uses.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fhir_helpers import ORDER_SETS, SAMPLES, observation, order_set, resources
from helpers import make_patient, options

from chemo_orders.drugs import drug_table
from chemo_orders.fhir.export import Refused, order_bundle_for, plan_definition_for
from chemo_orders.fhir.terminology import terminology
from chemo_orders.fhir.validation import model_class, validated_json
from chemo_orders.orderset import Acknowledgement, build, to_json
from chemo_orders.regimen import all_regimens, load_regimen

OK_SETS = [s for s in ORDER_SETS if order_set(*s).status == "ok"]
VERSIONS = ["r5", "r4"]
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
DAYS_OF_CYCLE = "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle"
NORMALIZATION_BASIS = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-normalization-basis"
# SNOMED CT routes (mCODE examples; DICOM CID 11) and mCODE NormalizationBasisVS.
ROUTES = {"IV": "47625008", "PO": "26643006", "SC": "34206005", "IM": "78421000", "intrathecal": "72607000"}
BASIS = {"bsa": "301898006", "weight": "363804004", "flat": "1157245009"}
# The calc JSON unit of a final dose → its UCUM code.
FINAL_UCUM = {"mg": "mg", "mcg": "ug", "g": "g", "units": "[iU]", "mg/day": "mg/d", "mcg/day": "ug/d"}


def exported(patient: Any, regimen: str, cycle: int, version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        validated_json(order_bundle_for(order_set(patient, regimen, cycle), version), version)
    )
    return data


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("regimen", [r.id for r in all_regimens() if r.status != "reference"])
def test_every_regimen_exports_a_valid_plan_definition(regimen: str, version: str) -> None:
    text = validated_json(plan_definition_for(load_regimen(regimen), version), version)
    plan = model_class("PlanDefinition", version).model_validate_json(text)
    data = json.loads(text)
    assert data["version"] == load_regimen(regimen).version
    assert plan is not None and data["url"].endswith(f"/PlanDefinition/{regimen}")
    assert {a["label"] for a in data["relatedArtifact"]} == set(load_regimen(regimen).references)


def test_plan_definition_follows_kdn5_and_codes_doses() -> None:
    data = json.loads(validated_json(plan_definition_for(load_regimen("r-ice"), "r5"), "r5"))
    cycle = data["action"][0]["action"][0]["action"][0]["action"][0]
    assert cycle["timingTiming"]["repeat"] == {"count": 3, "duration": 14, "durationUnit": "d"}
    entries = {a["textEquivalent"].split()[0]: a for a in cycle["action"]}
    etoposide = entries["etoposide"]
    assert etoposide["extension"][0]["url"] == DAYS_OF_CYCLE
    assert [d["valueInteger"] for d in etoposide["extension"][0]["extension"]] == [1, 2, 3]
    definitions = {f"#{c['id']}": c for c in data["contained"]}
    rituximab = definitions[entries["riTUXimab"]["definitionCanonical"]]
    assert rituximab["productCodeableConcept"]["coding"] == [
        {"system": RXNORM, "code": "121191", "display": "rituximab"}
    ]
    dose = rituximab["dosage"][0]["doseAndRate"][0]["doseQuantity"]
    assert (dose["value"], dose["system"], dose["code"]) == (375, UCUM, "mg/m2")
    carboplatin = definitions[entries["CARBOplatin"]["definitionCanonical"]]["dosage"][0]
    auc = carboplatin["doseAndRate"][0]["doseQuantity"]
    assert (auc["value"], auc["system"], auc["code"]) == (5, SNOMED, "413573002")  # NZ cancer-care IG
    assert carboplatin["maxDosePerAdministration"]["value"] == 800
    filgrastim = definitions[entries["filgrastim"]["definitionCanonical"]]["dosage"][0]
    assert filgrastim["doseAndRate"][0]["doseQuantity"]["code"] == "ug/kg"
    assert filgrastim["route"]["coding"][0]["code"] == ROUTES["SC"]
    identifiers = {i["system"].rsplit("/", 1)[1]: i["value"] for i in data["identifier"]}
    assert identifiers["regimen"] == "r-ice" and len(identifiers["regimen-sha256"]) == 16


def test_alternatives_are_a_choice_and_international_units_are_coded() -> None:
    data = json.loads(validated_json(plan_definition_for(load_regimen("pediatric-3-drug-induction"), "r4"), "r4"))
    doses = [c["dosage"][0].get("doseAndRate", [{}])[0].get("doseQuantity", {}) for c in data["contained"]]
    assert {"value": 2500, "unit": "units/m²", "system": UCUM, "code": "[iU]/m2"} in doses  # pegaspargase
    cycle = data["action"][0]["action"][0]["action"][0]["action"][0]
    assert all("extension" not in a for a in cycle["action"])  # a day-0 protocol: days in text only
    choices = [a for a in cycle["action"] if "action" in a]
    assert choices and all(a["selectionBehavior"] == "exactly-one" for a in choices)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("patient", "regimen", "cycle"), OK_SETS, ids=[f"{p.stem}--{r}" for p, r, _ in OK_SETS])
def test_sample_order_bundles_validate_and_match_calc(patient: Any, regimen: str, cycle: int, version: str) -> None:
    bundle = exported(patient, regimen, cycle, version)
    model_class("Bundle", version).model_validate(bundle)
    calc = to_json(order_set(patient, regimen, cycle))
    requests = resources(bundle, "MedicationRequest")
    assert len(requests) == len(calc["orders"])
    for request, order in zip(requests, calc["orders"], strict=True):
        concept = request["medication"]["concept"] if version == "r5" else request["medicationCodeableConcept"]
        rxnorm = drug_table().get(order["drug"]).rxnorm
        assert concept.get("coding", []) == (
            [{"system": RXNORM, "code": str(rxnorm), "display": order["drug"]}] if rxnorm else []
        )
        dosage = request["dosageInstruction"][0]
        quantity = dosage["doseAndRate"][0].get("doseQuantity") or dosage["doseAndRate"][0]["rateQuantity"]
        per_day = order["final"]["unit"].endswith("/day")
        assert ("rateQuantity" in dosage["doseAndRate"][0]) == per_day
        assert quantity["value"] == order["final"]["value"]
        assert (quantity["system"], quantity["code"]) == (UCUM, FINAL_UCUM[order["final"]["unit"]])
        assert dosage["route"]["coding"][0] == {
            "system": SNOMED,
            "code": ROUTES[order["route"]],
            "display": dosage["route"]["coding"][0]["display"],
        }
        assert request["note"][0]["text"] == order["calculation"]
        basis = [
            e["valueCodeableConcept"]["coding"][0]["code"]
            for e in request.get("extension", [])
            if e["url"] == NORMALIZATION_BASIS
        ]
        assert basis == ([BASIS[order["basis"]]] if order["basis"] != "auc" else [])
        assert (request["status"], request["intent"]) == ("draft", "proposal")


@pytest.mark.parametrize("version", VERSIONS)
def test_order_bundle_instantiates_the_plan_and_codes_observations(version: str) -> None:
    bundle = exported(SAMPLES / "patients" / "relapsed-dlbcl.yaml", "r-ice", 1, version)
    group = resources(bundle, "RequestOrchestration" if version == "r5" else "RequestGroup")[0]
    version_of_file = load_regimen("r-ice").version
    assert group["instantiatesCanonical"] == [
        f"http://chemo-orders.example.org/fhir/PlanDefinition/r-ice|{version_of_file}"
    ]
    entries = group["action"][0]["action"][0]["action"][0]["action"][0]["action"]
    urls = {e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"}
    assert {a["resource"]["reference"] for a in entries} == urls
    assert observation(bundle, "8302-2")["valueQuantity"] == {"value": 168, "unit": "cm", "system": UCUM, "code": "cm"}
    assert observation(bundle, "29463-7")["valueQuantity"]["code"] == "kg"
    assert observation(bundle, "2160-0")["valueQuantity"] == {
        "value": 0.9,
        "unit": "mg/dL",
        "system": UCUM,
        "code": "mg/dL",
    }
    assert observation(bundle, "3140-1")["valueQuantity"] == {
        "value": 1.833,
        "unit": "m²",
        "system": UCUM,
        "code": "m2",
    }
    assert observation(bundle, "35591-7")["valueQuantity"] == {
        "value": 79.3,
        "unit": "mL/min",
        "system": UCUM,
        "code": "mL/min",
    }
    assert observation(bundle, "751-8")["valueQuantity"]["code"] == "10*9/L"
    assert observation(bundle, "777-3")["valueQuantity"]["value"] == 180


def test_us_units_stay_in_their_units_and_molar_creatinine_has_its_own_loinc() -> None:
    bundle = exported(SAMPLES / "patients" / "us-units-b-all.yaml", "r-hyper-cvad-b", 2, "r5")
    assert observation(bundle, "8302-2")["valueQuantity"] == {
        "value": 70,
        "unit": "in",
        "system": UCUM,
        "code": "[in_i]",
    }
    assert observation(bundle, "29463-7")["valueQuantity"]["code"] == "[lb_av]"
    assert observation(bundle, "14682-9")["valueQuantity"]["code"] == "umol/L"


def test_findings_become_detected_issues_with_the_acknowledgement() -> None:
    patient = make_patient(weight="80 kg", previous_weight="95 kg")
    acks = (Acknowledgement("WGT001", "re-weighed today"),)
    order = build(patient, load_regimen("r-ice"), options(), acks, b"test")
    bundle = order_bundle_for(order, "r5")
    issues = resources(bundle, "DetectedIssue")
    weight = next(i for i in issues if i["code"]["coding"][0]["code"] == "WGT001")
    assert weight["severity"] == "moderate"
    assert weight["mitigation"][0]["action"]["text"] == "Acknowledged: re-weighed today"
    model_class("Bundle", "r5").model_validate(bundle)
    model_class("Bundle", "r4").model_validate(order_bundle_for(order, "r4"))


@pytest.mark.parametrize("regimen", [r.id for r in all_regimens() if r.status == "reference"][:3])
def test_reference_regimens_are_not_templates(regimen: str) -> None:
    with pytest.raises(Refused, match="reference regimen"):
        plan_definition_for(load_regimen(regimen), "r5")


def test_blocked_order_set_is_refused() -> None:
    with pytest.raises(Refused, match="IND002"):
        order_bundle_for(order_set(SAMPLES / "patients" / "adult-b-all-cd20-positive.yaml", "r-ice"), "r5")


def test_output_is_deterministic() -> None:
    first = exported(SAMPLES / "patients" / "relapsed-dlbcl.yaml", "r-ice", 1, "r5")
    assert first == exported(SAMPLES / "patients" / "relapsed-dlbcl.yaml", "r-ice", 1, "r5")
    urls = [e["fullUrl"] for e in first["entry"]]
    assert len(set(urls)) == len(urls)


def test_markers_use_the_local_code_system() -> None:
    bundle = exported(SAMPLES / "patients" / "adult-b-all-cd20-positive.yaml", "r-hyper-cvad-a", 1, "r5")
    marker = "http://chemo-orders.example.org/fhir/CodeSystem/marker"
    found = {
        o["code"]["coding"][0]["code"]: o
        for o in resources(bundle, "Observation")
        if o["code"]["coding"][0]["system"] == marker
    }
    assert found["cd20-percent"]["valueQuantity"] == {"value": 40, "unit": "%", "system": UCUM, "code": "%"}
    assert found["philadelphia"]["valueCodeableConcept"]["coding"][0]["code"] == "negative"


def test_every_code_in_the_terminology_file_cites_a_source() -> None:
    terms = terminology()
    cited = [
        *(s for e in terms.loinc.values() for s in e.source),
        *(s for e in terms.routes.values() for s in e.source),
        *terms.auc.source,
        *terms.normalization_basis_source,
    ]
    assert cited and all(key in terms.sources for key in cited)
    assert all(entry.source for entry in [*terms.loinc.values(), *terms.routes.values()])


def test_a_per_day_dose_is_a_rate_with_a_daily_cap() -> None:
    patient = make_patient(diagnosis="b-all", disease_status="relapsed", weight="40 kg", height="150 cm")
    order = build(patient, load_regimen("blinatumomab"), options(), (), b"test")
    assert order.status == "ok", order.findings
    for version in VERSIONS:
        bundle = order_bundle_for(order, version)
        model_class("Bundle", version).model_validate(bundle)
        dosage = resources(bundle, "MedicationRequest")[0]["dosageInstruction"][0]
        rate = dosage["doseAndRate"][0]["rateQuantity"]
        final = to_json(order)["orders"][0]["final"]
        assert (rate["value"], rate["code"], final["unit"]) == (final["value"], "ug/d", "mcg/day")
        cap = dosage["maxDosePerPeriod"][0] if version == "r5" else dosage["maxDosePerPeriod"]
        assert (cap["numerator"]["code"], cap["denominator"]["code"]) == ("ug", "d")


def test_held_order_set_is_refused_until_acknowledged() -> None:
    patient = make_patient(birth_date=dt.date(1950, 1, 1))  # 76: AGE001 holds high-intensity R-ICE
    held = build(patient, load_regimen("r-ice"), options(), (), b"test")
    assert held.status == "held"
    with pytest.raises(Refused, match="held: AGE001"):
        order_bundle_for(held, "r5")
    acks = tuple({f.rule: Acknowledgement(f.rule, "fit, discussed") for f in held.holding}.values())
    bundle = order_bundle_for(build(patient, load_regimen("r-ice"), options(), acks, b"test"), "r5")
    age = next(i for i in resources(bundle, "DetectedIssue") if i["code"]["coding"][0]["code"] == "AGE001")
    assert age["severity"] == "high" and age["mitigation"][0]["action"]["text"] == "Acknowledged: fit, discussed"
