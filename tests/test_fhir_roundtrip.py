"""FHIR without loss (issue 23): every sample patient, exported and imported again, gives the
same doses and the same findings; the three cases once lost (measured GFR, previous weight,
prior anthracycline) survive; and a Bundle an EHR gets subtly wrong is refused naming the
element, or its newer unread result is reported, never silently used or dropped."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhir_helpers import ORDER_SETS, SAMPLES
from helpers import options

from chemo_orders.errors import InputError
from chemo_orders.fhir.export import order_bundle_for, patient_bundle
from chemo_orders.fhir.importer import patient_from_bundle
from chemo_orders.fhir.terminology import DIAGNOSIS_SYSTEM
from chemo_orders.models import validate
from chemo_orders.orderset import build, to_json
from chemo_orders.patient import Patient, load_patient
from chemo_orders.regimen import load_regimen

SAMPLE = SAMPLES / "fhir" / "relapsed-dlbcl.json"
DLBCL = SAMPLES / "patients" / "relapsed-dlbcl.yaml"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def calc(patient: Patient, regimen: str, cycle: int = 1) -> dict[str, Any]:
    return to_json(build(patient, load_regimen(regimen), options(cycle=cycle), (), b"same input"))


def essentials(result: dict[str, Any]) -> tuple[list[Any], list[tuple[str, str, str]]]:
    """What must survive FHIR: each order's final dose, and each finding's rule and severity."""
    doses = [(o["drug"], o["days"], o["final"]) for o in result["orders"]]
    return doses, sorted((f["rule"], f["severity"], f.get("drug") or "") for f in result["findings"])


def through_fhir(patient: Patient, version: str) -> Patient:
    return patient_from_bundle(json.loads(json.dumps(patient_bundle(patient, version))), "bundle.json")  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["r4", "r5"])
@pytest.mark.parametrize(("path", "regimen", "cycle"), ORDER_SETS, ids=[f"{p.stem}-{r}" for p, r, _ in ORDER_SETS])
def test_every_sample_patient_survives_fhir(path: Path, regimen: str, cycle: int, version: str) -> None:
    """Blocked and held order sets too: the patient Bundle carries what every rule reads."""
    patient = load_patient(path)
    assert essentials(calc(through_fhir(patient, version), regimen, cycle)) == essentials(calc(patient, regimen, cycle))


def test_every_sample_patient_is_in_the_round_trip() -> None:
    assert {p.name for p, _, _ in ORDER_SETS} == {p.name for p in (SAMPLES / "patients").glob("*.yaml")}


def dlbcl(**changes: Any) -> Patient:
    from chemo_orders.loader import read_yaml

    return validate(Patient, {**read_yaml(DLBCL, "patient"), **changes}, "test")


@pytest.mark.parametrize("version", ["r4", "r5"])
def test_measured_gfr_keeps_the_carboplatin_dose_and_its_findings(version: str) -> None:
    patient = dlbcl(measured_gfr="60 mL/min")
    before = calc(patient, "r-ice")
    assert [f for f in before["findings"] if f["rule"] == "REN001"]
    order_set = build(patient, load_regimen("r-ice"), options(), (), b"x")
    bundle = order_bundle_for(order_set, version)  # type: ignore[arg-type]
    again = patient_from_bundle(bundle, "bundle.json")
    assert again.measured_gfr == patient.measured_gfr
    assert essentials(calc(again, "r-ice")) == essentials(before)


@pytest.mark.parametrize("version", ["r4", "r5"])
def test_previous_weight_keeps_wgt001(version: str) -> None:
    patient = dlbcl(previous_weight="85 kg")
    assert "WGT001" in {f["rule"] for f in calc(patient, "r-ice")["findings"]}
    again = through_fhir(patient, version)
    assert again.previous_weight == patient.previous_weight
    assert essentials(calc(again, "r-ice")) == essentials(calc(patient, "r-ice"))


@pytest.mark.parametrize("version", ["r4", "r5"])
def test_prior_doxorubicin_keeps_dos002(version: str) -> None:
    patient = validate(
        Patient,
        {**_yaml("newly-diagnosed-dlbcl"), "prior_cumulative": {"doxorubicin": "420 mg/m**2"}},
        "test",
    )
    assert "DOS002" in {f["rule"] for f in calc(patient, "r-chop")["findings"]}
    again = through_fhir(patient, version)
    assert again.prior_cumulative == patient.prior_cumulative
    assert essentials(calc(again, "r-chop")) == essentials(calc(patient, "r-chop"))


@pytest.mark.parametrize("version", ["r4", "r5"])
def test_everything_a_rule_reads_comes_back(version: str) -> None:
    patient = dlbcl(
        mrn_system="urn:oid:1.2.3.4.5",
        measured_gfr="60 mL/min",
        previous_weight="74 kg",
        pregnant=False,
        medications=["posaconazole", "omeprazole"],
        markers={"cd19_percent": 95, "cd20_percent": 40, "tpmt": "intermediate", "nudt15": "normal"},
        labs={"anc": "2.4 x10^9/L", "platelets": "180 x10^9/L", "bilirubin": "0.5 mg/dL", "hbsag": "negative"},
        prior_cumulative={"doxorubicin": "150 mg/m**2", "daunorubicin": "90 mg/m**2"},
        prior_courses=[{"regimen": "r-chop", "cycle": 6, "date": "2026-05-01", "order_id": 17}],
    )
    again = through_fhir(patient, version)
    assert again.model_copy(update={"observed_until": None}) == patient
    exported = patient_bundle(patient, version)  # type: ignore[arg-type]
    assert exported["entry"][0]["resource"]["identifier"][0]["system"] == "urn:oid:1.2.3.4.5"


def _yaml(name: str) -> dict[str, Any]:
    from chemo_orders.loader import read_yaml

    data: dict[str, Any] = read_yaml(SAMPLES / "patients" / f"{name}.yaml", "patient")
    return data


# --- strict import ---------------------------------------------------------------------------


def sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return data


def observations(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]


def coded(bundle: dict[str, Any], code: str) -> tuple[int, dict[str, Any]]:
    """(index among the Observations, the newest Observation with this LOINC code)."""
    found = [(i, o) for i, o in enumerate(observations(bundle)) if o["code"]["coding"][0]["code"] == code]
    return max(found, key=lambda pair: pair[1].get("effectiveDateTime", ""))


def added(bundle: dict[str, Any], base: str, **changes: Any) -> dict[str, Any]:
    """A copy of the newest ``base`` Observation with ``changes``, appended to the Bundle."""
    observation = {**copy.deepcopy(coded(bundle, base)[1]), **changes}
    bundle["entry"].append(
        {"fullUrl": f"urn:uuid:0e6d1f0a-0000-4000-8000-{len(bundle['entry']):012d}", "resource": observation}
    )
    return observation


def refused(bundle: dict[str, Any]) -> InputError:
    with pytest.raises(InputError) as caught:
        patient_from_bundle(bundle, "bundle.json", dt.date(2026, 11, 22))
    return caught.value


def test_a_comparator_on_creatinine_is_refused() -> None:
    bundle = sample()
    index, creatinine = coded(bundle, "2160-0")
    creatinine["valueQuantity"]["comparator"] = "<"
    error = refused(bundle)
    assert error.field == f"Observation[{index}].valueQuantity.comparator"


def test_data_absent_reason_with_a_value_is_refused() -> None:
    bundle = sample()
    index, weight = coded(bundle, "29463-7")
    weight["dataAbsentReason"] = {"coding": [{"code": "error"}]}
    assert refused(bundle).field == f"Observation[{index}].dataAbsentReason"


@pytest.mark.parametrize("kind", ["Patient", "Observation", "AllergyIntolerance"])
def test_an_unknown_modifier_extension_is_refused(kind: str) -> None:
    bundle = sample()
    resource = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)
    resource["modifierExtension"] = [{"url": "http://example.org/not-really", "valueBoolean": True}]
    assert refused(bundle).field == f"{kind}[0].modifierExtension"


@pytest.mark.parametrize(("key", "value"), [("deceasedBoolean", True), ("deceasedDateTime", "2026-11-01")])
def test_a_deceased_patient_is_refused(key: str, value: Any) -> None:
    bundle = sample()
    bundle["entry"][0]["resource"][key] = value
    assert refused(bundle).field == f"Patient.{key}"


def test_unit_text_that_disagrees_with_the_code_is_refused() -> None:
    bundle = sample()
    index, weight = coded(bundle, "29463-7")
    weight["valueQuantity"]["unit"] = "lb"
    assert refused(bundle).field == f"Observation[{index}].valueQuantity.unit"


def test_a_future_weight_is_refused() -> None:
    bundle = sample()
    added(bundle, "29463-7", effectiveDateTime="2099-01-01")
    assert refused(bundle).field.endswith(".effective")


def test_a_result_after_the_calculation_date_is_refused_by_the_calculation() -> None:
    """Imported without a date (today), calculated for an earlier date: check_dates refuses."""
    patient = patient_from_bundle(sample(), "bundle.json")
    with pytest.raises(InputError) as caught:
        build(patient, load_regimen("r-ice"), options(on=dt.date(2026, 11, 1)), (), b"x")
    assert caught.value.field in ("observed_until", "measured_on")


def test_two_final_weights_at_the_same_instant_are_a_contradiction() -> None:
    bundle = sample()
    added(bundle, "29463-7", valueQuantity={"value": 80, "unit": "kg", "system": UCUM, "code": "kg"})
    error = refused(bundle)
    assert error.field == "Observation[weight]" and "different values" in error.problem


def test_the_latest_time_wins_on_the_same_day() -> None:
    bundle = sample()
    added(
        bundle,
        "29463-7",
        effectiveDateTime="2026-11-21T18:00:00+01:00",
        valueQuantity={"value": 71, "unit": "kg", "system": UCUM, "code": "kg"},
    )
    assert str(read(bundle).weight.magnitude) == "71.0"


def test_a_newer_preliminary_result_does_not_replace_the_final_one() -> None:
    bundle = sample()
    added(
        bundle,
        "2160-0",
        status="preliminary",
        effectiveDateTime="2026-11-22",
        valueQuantity=mg_per_dl(1.4),
    )
    assert str(read(bundle).serum_creatinine) == "0.9 milligram / deciliter"


def test_a_newer_creatinine_in_blood_38483_4_is_used() -> None:
    bundle = sample()
    creatinine = added(bundle, "2160-0", effectiveDateTime="2026-11-22")
    creatinine["code"] = {"coding": [{"system": LOINC, "code": "38483-4"}], "text": "Creatinine [Mass/volume] in Blood"}
    creatinine["valueQuantity"] = mg_per_dl(1.4)
    assert str(read(bundle).serum_creatinine) == "1.4 milligram / deciliter"


def test_a_newer_result_we_do_not_read_reaches_the_calculation() -> None:
    bundle = sample()
    sodium = added(bundle, "2160-0", effectiveDateTime="2026-11-22")
    sodium["code"] = {"coding": [{"system": LOINC, "code": "2951-2"}], "text": "Sodium"}
    patient = read(bundle)
    assert len(patient.source_notes) == 1 and "Sodium" in patient.source_notes[0]
    assert calc(patient, "r-ice")["patient"]["source_notes"] == list(patient.source_notes)


def test_a_weight_history_gives_the_previous_weight_and_wgt001() -> None:
    bundle = sample()
    older = [
        o
        for o in observations(bundle)
        if o["code"]["coding"][0]["code"] == "29463-7" and o is not coded(bundle, "29463-7")[1]
    ]
    older[0]["valueQuantity"]["value"] = 85
    patient = read(bundle)
    assert patient.previous_weight is not None and patient.previous_weight.magnitude == 85
    assert "WGT001" in {f["rule"] for f in calc(patient, "r-ice")["findings"]}


@pytest.mark.parametrize("words", ["CD20 % of blasts", "CD19 positive blasts", "MRD by flow", "BCR-ABL1"])
def test_a_marker_under_a_code_we_do_not_read_is_refused(words: str) -> None:
    bundle = sample()
    marker = added(bundle, "2160-0")
    marker["code"] = {"coding": [{"system": "http://hospital.example/lab", "code": "X-17"}], "text": words}
    marker["valueQuantity"] = {"value": 40, "unit": "%", "system": UCUM, "code": "%"}
    error = refused(bundle)
    assert error.field.endswith(".code") and "CodeSystem/marker" in error.problem


@pytest.mark.parametrize("kind", ["nonsense", "history", None])
def test_a_bundle_type_that_carries_no_patient_record_is_refused(kind: str | None) -> None:
    bundle = sample()
    bundle["type"] = kind
    assert refused(bundle).field.startswith("Bundle")


# --- diagnoses by ICD-10-CM and SNOMED CT (fhir/diagnosis-codes.yaml) -----------------------

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"


def diagnosed(*codings: tuple[str, str], relapse: bool = False) -> dict[str, Any]:
    """The sample Bundle with its diagnosis coded by ``codings`` only (no disease-status extension)."""
    bundle = sample()
    condition = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition")
    condition["code"] = {"coding": [{"system": s, "code": c} for s, c in codings]}
    condition.pop("extension", None)
    condition["clinicalStatus"] = {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": "relapse" if relapse else "active",
            }
        ]
    }
    return bundle


def mg_per_dl(value: float) -> dict[str, Any]:
    """A FHIR valueQuantity in mg/dL, coded in UCUM."""
    return {"value": value, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"}


def read(bundle: dict[str, Any]) -> Patient:
    """The bundle as imported for a calculation on 2026-11-22."""
    return patient_from_bundle(bundle, "b.json", dt.date(2026, 11, 22))


def test_icd_10_cm_dlbcl_of_multiple_sites_alone_is_dlbcl() -> None:
    assert read(diagnosed((ICD10CM, "C83.38"), relapse=True)).diagnosis == "dlbcl"


@pytest.mark.parametrize(("code", "status"), [("C91.00", None), ("C91.01", "in-remission"), ("C91.02", "relapsed")])
def test_icd_10_cm_all_alone_is_all_of_unstated_lineage(code: str, status: str | None) -> None:
    patient = read(diagnosed((ICD10CM, code)))
    assert (patient.diagnosis, patient.disease_status) == ("all-lineage-unknown", status)


def test_all_of_unstated_lineage_from_icd_10_cm_is_still_blocked_from_r_ice() -> None:
    findings = calc(read(diagnosed((ICD10CM, "C91.02"))), "r-ice")["findings"]
    assert "IND002" in {f["rule"] for f in findings if f["severity"] == "block"}


def test_a_lineage_stated_beside_the_local_unstated_code_wins() -> None:
    local = (DIAGNOSIS_SYSTEM, "all-lineage-unknown")
    assert read(diagnosed(local, (ICDO3, "9811/3"), (ICD10CM, "C91.00"))).diagnosis == "b-all"


def test_icd_10_cm_all_beside_another_disease_is_refused() -> None:
    assert "disagree" in refused(diagnosed((ICD10CM, "C91.00"), (ICDO3, "9680/3"))).problem


@pytest.mark.parametrize("version", ["r4", "r5"])
def test_all_of_unstated_lineage_survives_fhir(version: str) -> None:
    patient = read(diagnosed((ICD10CM, "C91.02")))
    assert through_fhir(patient, version).diagnosis == "all-lineage-unknown"


@pytest.mark.parametrize(("lineage", "diagnosis"), [((SNOMED, "277571004"), "b-all"), ((ICDO3, "9837/3"), "t-all")])
def test_icd_10_cm_all_with_a_lineage_gives_diagnosis_and_status(lineage: tuple[str, str], diagnosis: str) -> None:
    patient = read(diagnosed((ICD10CM, "C91.02"), lineage))
    assert (patient.diagnosis, patient.disease_status) == (diagnosis, "relapsed")


def test_icd_10_cm_remission_that_disagrees_with_the_stated_status_is_refused() -> None:
    bundle = diagnosed((ICD10CM, "C91.01"), (SNOMED, "277571004"), relapse=True)
    assert "disagrees" in refused(bundle).problem


def test_an_unmapped_icd_10_cm_code_is_not_a_diagnosis() -> None:
    assert refused(diagnosed((ICD10CM, "C92.00"))).field.startswith("Condition")


def administration(bundle: dict[str, Any], dose: dict[str, Any]) -> None:
    subject = bundle["entry"][0]["fullUrl"]
    resource = {
        "resourceType": "MedicationAdministration",
        "status": "completed",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "3639"}]
        },
        "subject": {"reference": subject},
        "effectiveDateTime": "2026-06-01",
        "dosage": {"dose": dose},
    }
    bundle["entry"].append(
        {"fullUrl": f"urn:uuid:0e6d1f0a-0000-4000-8001-{len(bundle['entry']):012d}", "resource": resource}
    )


def test_administrations_per_m2_add_up_to_the_cumulative_dose() -> None:
    bundle = sample()
    for _ in range(3):
        administration(bundle, {"value": 50, "unit": "mg/m2", "system": UCUM, "code": "mg/m2"})
    assert read(bundle).prior_cumulative["doxorubicin"].magnitude == 150


def test_an_anthracycline_administration_in_mg_alone_is_refused() -> None:
    bundle = sample()
    administration(bundle, {"value": 90, "unit": "mg", "system": UCUM, "code": "mg"})
    assert refused(bundle).field == "MedicationAdministration[0].dosage.dose"


def test_a_newer_unread_result_is_noted_on_the_exported_order() -> None:
    bundle = sample()
    sodium = added(bundle, "2160-0", effectiveDateTime="2026-11-22")
    sodium["code"] = {"coding": [{"system": LOINC, "code": "2951-2"}], "text": "Sodium"}
    order_set = build(read(bundle), load_regimen("r-ice"), options(), (), b"x")
    exported = order_bundle_for(order_set, "r5")
    group = next(e["resource"] for e in exported["entry"] if e["resource"]["resourceType"] == "RequestOrchestration")
    assert any("Sodium" in n["text"] for n in group["note"])


def test_a_result_late_on_the_calculation_day_in_its_own_time_zone_is_not_future() -> None:
    """23:30 at UTC-5 is the next day in UTC; the date as written is the calculation date."""
    bundle = sample()
    added(
        bundle,
        "29463-7",
        effectiveDateTime="2026-11-22T23:30:00-05:00",
        valueQuantity={"value": 71, "unit": "kg", "system": UCUM, "code": "kg"},
    )
    patient = read(bundle)
    assert patient.weight.magnitude == 71 and str(patient.observed_until) == "2026-11-22"


def test_the_source_records_references_reach_the_provenance() -> None:
    bundle = sample()
    for n, item in enumerate(bundle["entry"]):
        item["resource"]["id"] = f"src-{n}"
    patient = read(bundle)
    assert "Patient/src-0" in patient.source_references
    assert any(ref.startswith("Observation/") for ref in patient.source_references)
    order_set = build(patient, load_regimen("r-ice"), options(), (), b"x")
    exported = order_bundle_for(order_set, "r4")
    provenance = next(e["resource"] for e in exported["entry"] if e["resource"]["resourceType"] == "Provenance")
    assert {"reference": "Patient/src-0"} in [entity["what"] for entity in provenance["entity"]]
