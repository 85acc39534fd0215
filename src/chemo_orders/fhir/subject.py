"""The patient side of an order Bundle: Patient, Observations, the diagnosis, allergies.

These are exactly the resources ``importer`` reads back, so an exported order Bundle is also
a patient file: export → import → calculate gives the same doses (tested). Measurements keep
the unit they were given in where the UCUM table has it (70 [in_i] stays 70 [in_i]); BSA and
creatinine clearance are exported as derived Observations for the EHR and ignored on import,
because the engine always recalculates them from height, weight and creatinine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..diagnosis import DIAGNOSIS_NAMES
from ..drugs import drug_table
from ..patient import Patient
from ..units import M2, ML_PER_MIN, UMOL_PER_L, quantity
from .terminology import DIAGNOSIS_SYSTEM, DISEASE_STATUS_URL, MARKER_SYSTEM, OBSERVATION_SYSTEM, terminology
from .validation import FhirVersion


@dataclass(frozen=True)
class Derived:
    """What the calculation derived, as the calc JSON states it."""

    bsa_m2: float
    bsa_method: str
    crcl_ml_min: float | None
    crcl_method: str
    calculated_on: str


def patient_resource(patient: Patient) -> dict[str, Any]:
    identifier: dict[str, Any] = {"type": {"coding": [terminology().coding("medical-record-number")]}}
    if patient.mrn_system is not None:
        identifier["system"] = patient.mrn_system
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{**identifier, "value": patient.id}],
        "name": [human_name(patient.name)],
        "gender": patient.sex,
    }
    if patient.birth_date is not None:
        resource["birthDate"] = patient.birth_date.isoformat()
    return resource


def human_name(name: str) -> dict[str, Any]:
    """``Doe, Jane`` (the patient file's convention) as family and given names, text kept."""
    family, comma, given = name.partition(",")
    if comma and family.strip() and given.strip():
        return {"text": name, "family": family.strip(), "given": given.split()}
    return {"text": name}


def observations(
    patient: Patient, derived: Derived | None, subject: str, url_for: Callable[[str], str]
) -> list[tuple[str, dict[str, Any]]]:
    """(field, Observation) for height, weight, creatinine and labs as measured, then BSA and
    CrCl as derived from them; ``url_for(field)`` is the fullUrl an Observation gets.

    A laboratory's upper limit of normal (``bilirubin_uln``) is the Observation's
    ``referenceRange.high``; the WBC at diagnosis has no date here (the diagnosis cites it).
    """
    terms = terminology()
    measured = patient.measured_on.isoformat() if patient.measured_on is not None else None
    values: list[tuple[str, Any]] = [("height", patient.height), ("weight", patient.weight)]
    if patient.serum_creatinine is not None:
        molar = patient.serum_creatinine.dimensionality == UMOL_PER_L.dimensionality
        values.append(("serum_creatinine_molar" if molar else "serum_creatinine", patient.serum_creatinine))
    values += [(f, getattr(patient.labs, f.removeprefix("labs."))) for f in terms.loinc if f.startswith("labs.")]
    found = []
    for field, value in values:
        if value is None:
            continue
        kind = terms.loinc[field].kind
        effective = None if field == "labs.wbc_at_diagnosis" else measured
        observation = _observation(
            field, percent(value) if kind == "percent" else terms.quantity(value, kind), subject, effective
        )
        limit = getattr(patient.labs, f"{field.removeprefix('labs.')}_uln", None) if field.startswith("labs.") else None
        if limit is not None:
            observation["referenceRange"] = [{"high": terms.quantity(limit, kind)}]
        found.append((field, observation))
    if derived is None:
        return found
    bsa = _observation("bsa", terms.quantity(quantity(derived.bsa_m2, M2), "area"), subject, derived.calculated_on)
    bsa["method"] = {"text": derived.bsa_method}
    bsa["derivedFrom"] = [{"reference": url_for("height")}, {"reference": url_for("weight")}]
    found.append(("bsa", bsa))
    if derived.crcl_ml_min is not None:
        value = terms.quantity(quantity(derived.crcl_ml_min, ML_PER_MIN), "flow")
        crcl = _observation("crcl", value, subject, derived.calculated_on)
        crcl["method"] = {"text": derived.crcl_method}
        crcl["derivedFrom"] = [{"reference": url_for(field)} for field, _ in found if field.startswith("serum")]
        crcl["derivedFrom"].append({"reference": url_for("weight")})
        found.append(("crcl", crcl))
    return found


def percent(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "%", "system": terminology().systems["ucum"], "code": "%"}


def assessment_observations(patient: Patient, subject: str) -> list[tuple[str, dict[str, Any]]]:
    """(field, Observation) for each marker given (local marker code system), ECOG, pregnancy,
    and the fields of the local observation code system (measured GFR, the previous dosing
    weight, HBsAg): everything a rule reads goes out, so that nothing is lost on the way back."""
    found = []
    measured = patient.measured_on.isoformat() if patient.measured_on is not None else None
    terms = terminology()
    for field, local in terms.local_observations.items():
        group, _, name = field.rpartition(".")
        value = getattr(patient.labs if group else patient, name)
        if value is None:
            continue
        category = "laboratory" if group or local.kind == "flow" else "vital-signs"
        observation = _base(category, OBSERVATION_SYSTEM, local.code, local.display, subject, None)
        if local.kind == "coded":
            observation["valueCodeableConcept"] = {
                "coding": [{"system": OBSERVATION_SYSTEM, "code": value}],
                "text": value,
            }
        else:
            observation["valueQuantity"] = terms.quantity(value, local.kind)
        if field != "previous_weight":  # undated: the patient file does not say when it was weighed
            observation.update({"effectiveDateTime": measured} if measured else {})
        found.append((field, observation))
    if patient.pregnant is not None:
        preg = terms.pregnancy
        observation = _base("survey", terms.systems["loinc"], preg.code, preg.display, subject, measured)
        code, text = (preg.pregnant, "Pregnant") if patient.pregnant else (preg.not_pregnant, "Not pregnant")
        observation["valueCodeableConcept"] = {
            "coding": [{"system": terms.systems["snomed"], "code": code}],
            "text": text,
        }
        found.append(("pregnant", observation))
    if patient.ecog is not None:
        ecog = terminology().loinc["ecog"]
        observation = _base(ecog.category, terminology().systems["loinc"], ecog.code, ecog.display, subject, measured)
        found.append(("ecog", {**observation, "valueInteger": patient.ecog}))
    for field, marker in terminology().markers.items():
        value = getattr(patient.markers, field)
        if value is None:
            continue
        observation = _base("laboratory", MARKER_SYSTEM, marker.code, marker.display, subject, measured)
        if isinstance(value, str):
            observation["valueCodeableConcept"] = {"coding": [{"system": MARKER_SYSTEM, "code": value}], "text": value}
        else:
            observation["valueQuantity"] = percent(value)
        found.append((f"markers.{field}", observation))
    return found


def diagnosis_condition(patient: Patient, subject: str, wbc_url: str, version: FhirVersion) -> dict[str, Any]:
    """The diagnosis in the local vocabulary; relapse also as the HL7 clinical status; the
    WBC at diagnosis (``wbc_url``) as its evidence, when given."""
    relapsed, name = patient.disease_status == "relapsed", DIAGNOSIS_NAMES[patient.diagnosis]
    condition: dict[str, Any] = {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [terminology().coding("relapse" if relapsed else "active")]},
        "code": {
            "coding": [{"system": DIAGNOSIS_SYSTEM, "code": patient.diagnosis, "display": name}],
            "text": name,
        },
        "subject": {"reference": subject},
    }
    if patient.disease_status is not None:
        condition["extension"] = [{"url": DISEASE_STATUS_URL, "valueCode": patient.disease_status}]
    if patient.labs.wbc_at_diagnosis is not None:
        reference = {"reference": wbc_url}
        condition["evidence"] = [{"reference": reference} if version == "r5" else {"detail": [reference]}]
    return condition


def allergy_resources(patient: Patient, subject: str, version: FhirVersion) -> list[dict[str, Any]]:
    """One AllergyIntolerance per allergy: the substance as written (RxNorm too for a drug)."""
    resources = []
    for allergy in patient.allergies:
        resource: dict[str, Any] = {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [terminology().coding("allergy-active")]},  # ait-1
            "code": substance_concept(allergy.substance, allergy.drug),
            "patient": {"reference": subject},
        }
        if allergy.reaction is not None:
            manifestation = {"concept": {"text": allergy.reaction}} if version == "r5" else {"text": allergy.reaction}
            resource["reaction"] = [{"manifestation": [manifestation]}]
        resources.append(resource)
    return resources


def history_conditions(patient: Patient, subject: str) -> list[dict[str, Any]]:
    """One Condition per history event, the drug it occurred with as ``condition-dueTo``.

    A history entry is a past event, so its clinical status is ``inactive`` (as past illnesses
    are in the International Patient Summary); R5 requires one.
    """
    conditions = []
    for event in patient.history:
        condition: dict[str, Any] = {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [terminology().coding("inactive")]},
            "code": {"text": event.condition},
            "subject": {"reference": subject},
        }
        if event.drug is not None:
            url = terminology().extensions["condition_due_to"].url
            condition["extension"] = [{"url": url, "valueCodeableConcept": substance_concept(event.drug, event.drug)}]
        if event.date is not None:
            condition["onsetDateTime"] = event.date.isoformat()
        if event.note is not None:
            condition["note"] = [{"text": event.note}]
        conditions.append(condition)
    return conditions


def substance_concept(text: str, drug: str | None) -> dict[str, Any]:
    """A substance as written, with the drug's RxNorm ingredient code where drugs.yaml has one."""
    rxnorm = drug_table().get(drug).rxnorm if drug is not None else None
    concept: dict[str, Any] = {"text": text}
    if rxnorm is not None:
        concept["coding"] = [{"system": terminology().systems["rxnorm"], "code": str(rxnorm), "display": drug}]
    return concept


def _observation(field: str, value: dict[str, Any], subject: str, effective: str | None) -> dict[str, Any]:
    entry = terminology().loinc[field]
    observation = _base(entry.category, terminology().systems["loinc"], entry.code, entry.display, subject, effective)
    observation["valueQuantity"] = value
    return observation


def _base(category: str, system: str, code: str, display: str, subject: str, effective: str | None) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [terminology().coding(category)]}],
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
        "subject": {"reference": subject},
    }
    if effective is not None:
        observation["effectiveDateTime"] = effective
    return observation
