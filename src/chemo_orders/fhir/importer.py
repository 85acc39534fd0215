"""A FHIR patient Bundle in: the same dict a patient YAML file holds, validated by the same model.

Why map to the patient-file dict instead of building a Patient directly: then every check
the YAML path has (units, plausibility, the diagnosis vocabulary) applies unchanged, and a
problem is reported at the FHIR element it came from (``Observation[height].valueQuantity``),
so the EHR team can fix the feed. What is read:

- Patient: the identifier typed MR (or the only one), name, gender, birthDate.
- Observations (``observations.py``): LOINC-coded measurements and labs, markers in the local
  code system ``CodeSystem/marker``, measured GFR, previous dosing weight and HBsAg in
  ``CodeSystem/observation``, pregnancy; the latest final result of each kind, strictly
  checked. ``measured_on`` is the earliest date among height, weight and creatinine (the
  order set states the oldest measurement it relied on); ``observed_until`` the newest result.
- Medications, cumulative doses and prior courses (``exposure.py``).
- Condition: the one coded in the diagnosis vocabulary (local code system, ICD-O-3, or
  ICD-10-CM / SNOMED CT through ``diagnoses.py``) is the diagnosis, its disease status from
  the local extension, the clinical status ``relapse`` or an ICD-10-CM remission character;
  every other Condition is a ``history`` entry (design §10.1).
- AllergyIntolerance: each substance, by text or coding display.
Refuted and entered-in-error records are skipped; ``strict.py`` refuses what no field may
carry (an unknown ``modifierExtension``, a deceased patient, a ``Bundle.type`` that is not a
plain set of resources). Every resource must be about the Bundle's one Patient: a weight
filed under another patient must never reach a dose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from ..diagnosis import most_specific, parse_diagnosis
from ..errors import InputError
from ..models import validate
from ..patient import Patient
from .diagnoses import coded_diagnosis
from .elements import check_subject, codings, date, source_reference, status_code, text
from .exposure import last_course, read_exposure
from .observations import Reading, previous_weight, read_observations
from .strict import check_strict
from .terminology import DIAGNOSIS_SYSTEM, DISEASE_STATUS_URL, terminology
from .validation import check_bundle

NOT_TRUE = {"refuted", "entered-in-error"}
MEASUREMENTS = ("height", "weight", "serum_creatinine")


def patient_from_bundle(bundle: dict[str, Any], source: str, on: dt.date | None = None) -> Patient:
    """The Bundle's patient; ``on`` is the calculation date (default today): a result after
    it is refused. The Patient also keeps the newest result date (``observed_until``), which
    the calculation checks against its own date, whatever ``on`` was."""
    check_bundle(bundle, source)
    try:
        check_strict(bundle)
    except InputError as error:
        raise InputError(error.field, error.value, error.problem, source=source) from None
    data, elements = patient_data(bundle, on)
    try:
        return validate(Patient, data, source)
    except InputError as error:
        raise InputError(_element(error.field, elements), error.value, error.problem, source=source) from None


def patient_data(bundle: dict[str, Any], on: dt.date | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The patient-file dict, and for each of its fields the FHIR element it came from."""
    resources = _resources(bundle)
    patient, refs = _the_patient(resources)
    fields = {field.removesuffix("_molar") for field in terminology().loinc}
    elements = {field: f"Observation[{field}]" for field in fields}
    data = _demographics(patient, elements)
    evidence = _evidence(resources.get("Condition", []))
    observed = read_observations(resources.get("Observation", []), refs, evidence, on or dt.date.today())
    exposure = read_exposure(resources, refs)
    previous = previous_weight(observed, last_course(exposure.get("prior_courses", [])))
    chosen = {**observed.chosen, **({"previous_weight": previous} if previous is not None else {})}
    for field, reading in chosen.items():
        elements[field] = reading.element
        group, dot, name = field.rpartition(".")
        (data.setdefault(group, {}) if dot else data)[name] = reading.value
    measured = [day for f in MEASUREMENTS if f in chosen for day in [chosen[f].day] if day is not None]
    if measured:
        data["measured_on"] = min(measured)
        elements["measured_on"] = "Observation.effectiveDateTime"
    if observed.latest is not None:
        data["observed_until"] = observed.latest
        elements["observed_until"] = "Observation.effectiveDateTime"
    if observed.notes:
        data["source_notes"] = observed.notes
    sources = _sources(resources, chosen.values())
    if sources:
        data["source_references"] = sources
    data.update(exposure)
    data.update(_conditions(resources.get("Condition", []), refs, elements))
    allergies = _allergies(resources.get("AllergyIntolerance", []), refs, elements)
    if allergies:
        data["allergies"] = allergies
    return data, elements


READ = ("Patient", "Condition", "AllergyIntolerance", "MedicationStatement", "MedicationAdministration")


def _sources(resources: dict[str, list[tuple[str, dict[str, Any]]]], readings: Iterable[Reading]) -> list[str]:
    """The source record's references to the resources this patient was read from."""
    found = [source_reference(url, r) for kind in READ for url, r in resources.get(kind, [])]
    found += [reading.source for reading in readings]
    return list(dict.fromkeys(ref for ref in found if ref is not None))


def _resources(bundle: dict[str, Any]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Resources by type, each with its fullUrl (references may point at it)."""
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource")
        if isinstance(resource, dict):
            found.setdefault(str(resource.get("resourceType")), []).append((str(entry.get("fullUrl", "")), resource))
    return found


def _the_patient(resources: dict[str, list[tuple[str, dict[str, Any]]]]) -> tuple[dict[str, Any], set[str]]:
    patients = resources.get("Patient", [])
    if len(patients) != 1:
        raise InputError("Bundle.entry", f"{len(patients)} Patient resources", "expected exactly one Patient")
    url, patient = patients[0]
    refs = {url} - {""}
    if patient.get("id"):
        refs.add(f"Patient/{patient['id']}")
    return patient, refs


def _demographics(patient: dict[str, Any], elements: dict[str, str]) -> dict[str, Any]:
    elements.update(
        {"id": "Patient.identifier", "name": "Patient.name", "sex": "Patient.gender", "birth_date": "Patient.birthDate"}
    )
    data: dict[str, Any] = {
        "name": _name(patient.get("name") or []),
    }
    identifier = _identifier(patient.get("identifier") or [])
    data["id"] = str(identifier["value"])
    if identifier.get("system"):
        data["mrn_system"] = identifier["system"]
        elements["mrn_system"] = "Patient.identifier.system"
    for field, key in (("sex", "gender"), ("birth_date", "birthDate")):
        if key in patient:
            data[field] = patient[key]
    return data


def _identifier(identifiers: list[dict[str, Any]]) -> dict[str, Any]:
    """The medical record number: the identifier typed MR, or the only identifier there is;
    its ``system`` is kept, so that the export names the same record (no duplicate patient)."""
    mr = terminology().hl7["medical-record-number"]
    typed = [i for i in identifiers if (mr.system, mr.code) in codings(i.get("type"))]
    chosen = typed if typed else identifiers
    if len(chosen) != 1 or not chosen[0].get("value"):
        raise InputError("Patient.identifier", len(chosen), "expected one identifier typed MR (medical record number)")
    return chosen[0]


def _name(names: list[dict[str, Any]]) -> str:
    chosen = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    if chosen.get("text"):
        return str(chosen["text"])
    family, given = chosen.get("family", ""), " ".join(chosen.get("given") or [])
    return f"{family}, {given}" if family and given else family or given


def _evidence(conditions: list[tuple[str, dict[str, Any]]]) -> set[str]:
    """References the Conditions cite as evidence (R5 ``evidence.reference``, R4 ``evidence.detail``)."""
    found = set()
    for _, condition in conditions:
        for evidence in condition.get("evidence") or []:
            if isinstance(evidence, dict):
                for reference in [evidence.get("reference"), *(evidence.get("detail") or [])]:
                    if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
                        found.add(reference["reference"])
    return found


def _conditions(
    conditions: list[tuple[str, dict[str, Any]]], refs: set[str], elements: dict[str, str]
) -> dict[str, Any]:
    """The diagnosis (with disease status) and the history; exactly one diagnosis."""
    data: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    for index, (_, condition) in enumerate(conditions):
        if status_code(condition.get("verificationStatus")) in NOT_TRUE:
            continue
        element = f"Condition[{index}]"
        check_subject(condition.get("subject"), refs, f"{element}.subject")
        diagnosis, coded_status = _diagnosis(condition, f"{element}.code")
        if diagnosis is None:
            history.append(_history_event(condition, element, f"history.{len(history)}", elements))
            continue
        if data.get("diagnosis", diagnosis) != diagnosis:
            raise InputError(f"{element}.code", diagnosis, f"a second diagnosis (already {data['diagnosis']})")
        data["diagnosis"] = diagnosis
        elements["diagnosis"] = "Condition[diagnosis].code"
        status = _disease_status(condition, element)
        if coded_status is not None and status not in (None, coded_status):
            raise InputError(f"{element}.code", coded_status, f"disagrees with the disease status {status}")
        status = status or coded_status
        if status is not None:
            data["disease_status"] = status
            elements["disease_status"] = "Condition[diagnosis].extension[disease-status]"
    if "diagnosis" not in data:
        raise InputError(
            "Condition",
            "",
            "no Condition coded in the diagnosis vocabulary (or ICD-O-3, or a mapped ICD-10-CM or SNOMED CT)",
        )
    if history:
        data["history"] = history
    return data


def _history_event(condition: dict[str, Any], element: str, field: str, elements: dict[str, str]) -> dict[str, Any]:
    """A Condition other than the diagnosis: what, with which drug (condition-dueTo), when."""
    event: dict[str, Any] = {"condition": text(condition.get("code"), f"{element}.code")}
    elements.update({field: element, f"{field}.condition": f"{element}.code"})
    due_to = terminology().extensions["condition_due_to"].url
    causes = [e for e in condition.get("extension") or [] if isinstance(e, dict) and e.get("url") == due_to]
    if causes:
        event["drug"] = text(causes[0].get("valueCodeableConcept"), f"{element}.extension[condition-dueTo]")
        elements[f"{field}.drug"] = f"{element}.extension[condition-dueTo]"
    if condition.get("onsetDateTime"):
        event["date"] = date(condition["onsetDateTime"], f"{element}.onsetDateTime")
        elements[f"{field}.date"] = f"{element}.onsetDateTime"
    notes = [n.get("text") for n in condition.get("note") or [] if isinstance(n, dict) and n.get("text")]
    if notes:
        event["note"] = " ".join(map(str, notes))
        elements[f"{field}.note"] = f"{element}.note"
    return event


def _diagnosis(condition: dict[str, Any], element: str) -> tuple[str | None, str | None]:
    """The vocabulary term of a Condition coded in our code system, ICD-O-3, ICD-10-CM or
    SNOMED CT (diagnoses.py), else None; and a remission status an ICD-10-CM code states."""
    systems = {DIAGNOSIS_SYSTEM, terminology().systems["icd_o_3"]}
    coded = codings(condition.get("code"))
    found = most_specific({parse_diagnosis(code, element) for system, code in coded if system in systems})
    if len(found) > 1:
        raise InputError(element, ", ".join(sorted(found)), "codings disagree on the diagnosis")
    return coded_diagnosis(coded, found, element)


def _disease_status(condition: dict[str, Any], element: str) -> str | None:
    stated = [e.get("valueCode") for e in condition.get("extension") or [] if e.get("url") == DISEASE_STATUS_URL]
    relapse = status_code(condition.get("clinicalStatus")) == terminology().hl7["relapse"].code
    if stated:
        if relapse and stated[0] != "relapsed":
            raise InputError(f"{element}.clinicalStatus", "relapse", f"disagrees with the disease status {stated[0]}")
        return str(stated[0])
    return "relapsed" if relapse else None


def _allergies(
    allergies: list[tuple[str, dict[str, Any]]], refs: set[str], elements: dict[str, str]
) -> list[dict[str, Any]]:
    """Each AllergyIntolerance as ``{substance, reaction}``; the model matches drug names."""
    found: list[dict[str, Any]] = []
    for index, (_, allergy) in enumerate(allergies):
        if status_code(allergy.get("verificationStatus")) in NOT_TRUE:
            continue
        element, field = f"AllergyIntolerance[{index}]", f"allergies.{len(found)}"
        check_subject(allergy.get("patient"), refs, f"{element}.patient")
        entry: dict[str, Any] = {"substance": text(allergy.get("code"), f"{element}.code")}
        elements.update({field: element, f"{field}.substance": f"{element}.code"})
        reactions = [r for r in allergy.get("reaction") or [] if isinstance(r, dict)]
        manifestations = [m for r in reactions for m in r.get("manifestation") or [] if isinstance(m, dict)]
        if manifestations:
            first = manifestations[0].get("concept", manifestations[0])  # R5 CodeableReference, R4 CodeableConcept
            entry["reaction"] = text(first, f"{element}.reaction.manifestation")
            elements[f"{field}.reaction"] = f"{element}.reaction.manifestation"
        found.append(entry)
    return found


def _element(field: str, elements: dict[str, str]) -> str:
    """The FHIR element a patient-file field came from (``labs.anc`` → Observation[labs.anc])."""
    key = max((k for k in elements if field == k or field.startswith(f"{k}.")), key=len, default=None)
    return field if key is None else elements[key] + field.removeprefix(key)
