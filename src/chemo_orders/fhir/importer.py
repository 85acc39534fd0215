"""A FHIR patient Bundle in: the same dict a patient YAML file holds, validated by the same model.

Why map to the patient-file dict instead of building a Patient directly: then every check
the YAML path has (units, plausibility, the diagnosis vocabulary) applies unchanged, and a
problem is reported at the FHIR element it came from (``Observation[height].valueQuantity``),
so the EHR team can fix the feed. What is read:

- Patient: the identifier typed MR (or the only one), name, gender, birthDate.
- Observation by LOINC code (``terminology.yaml``): height, weight, serum creatinine (mass or
  molar), ANC, platelets, WBC (the one the diagnosis cites as evidence: at diagnosis),
  haemoglobin, bilirubin, AST, ALT (upper limits of normal from ``referenceRange.high``),
  LVEF, ECOG; final/amended/corrected only, the most
  recent by effective date. BSA and creatinine clearance are ignored: they are recalculated.
  ``measured_on`` is the earliest date among height, weight and creatinine (the order set
  states the oldest measurement it relied on). Markers (CD20, CD22, MRD, Ph) in the local
  code system ``CodeSystem/marker``: no LOINC code was verified with their meaning.
- Condition: the one coded in the diagnosis vocabulary (local code system or ICD-O-3) is the
  diagnosis, its disease status from the local extension or clinical status ``relapse``;
  every other Condition is a ``history`` entry (design §10.1).
- AllergyIntolerance: each substance, by text or coding display.
Refuted and entered-in-error records are skipped. Every resource must be about the Bundle's
one Patient: a weight filed under another patient must never reach a dose.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..diagnosis import parse_diagnosis
from ..errors import InputError
from ..models import validate
from ..patient import Labs, Patient
from .terminology import DIAGNOSIS_SYSTEM, DISEASE_STATUS_URL, MARKER_SYSTEM, terminology
from .validation import check_bundle

FINAL = {"final", "amended", "corrected"}
NOT_TRUE = {"refuted", "entered-in-error"}
DERIVED = {"bsa", "crcl"}  # exported for the EHR, recalculated here
MEASUREMENTS = ("height", "weight", "serum_creatinine")


def patient_from_bundle(bundle: dict[str, Any], source: str) -> Patient:
    check_bundle(bundle, source)
    data, elements = patient_data(bundle)
    try:
        return validate(Patient, data, source)
    except InputError as error:
        raise InputError(_element(error.field, elements), error.value, error.problem, source=source) from None


def patient_data(bundle: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The patient-file dict, and for each of its fields the FHIR element it came from."""
    resources = _resources(bundle)
    patient, refs = _the_patient(resources)
    fields = {field.removesuffix("_molar") for field in terminology().loinc}
    elements = {field: f"Observation[{field}]" for field in fields}
    data = _demographics(patient, elements)
    measured: list[dt.date] = []
    evidence = _evidence(resources.get("Condition", []))
    for field, (value, effective, element) in _observations(resources.get("Observation", []), refs, evidence).items():
        elements[field] = element
        group, dot, name = field.rpartition(".")
        (data.setdefault(group, {}) if dot else data)[name] = value
        if field in MEASUREMENTS and effective is not None:
            measured.append(effective)
    if measured:
        data["measured_on"] = min(measured)
        elements["measured_on"] = "Observation.effectiveDateTime"
    data.update(_conditions(resources.get("Condition", []), refs, elements))
    allergies = _allergies(resources.get("AllergyIntolerance", []), refs, elements)
    if allergies:
        data["allergies"] = allergies
    return data, elements


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
        "id": _identifier(patient.get("identifier") or []),
        "name": _name(patient.get("name") or []),
    }
    for field, key in (("sex", "gender"), ("birth_date", "birthDate")):
        if key in patient:
            data[field] = patient[key]
    return data


def _identifier(identifiers: list[dict[str, Any]]) -> str:
    """The medical record number: the identifier typed MR, or the only identifier there is."""
    mr = terminology().hl7["medical-record-number"]
    typed = [i for i in identifiers if (mr.system, mr.code) in _codings(i.get("type"))]
    chosen = typed if typed else identifiers
    if len(chosen) != 1 or not chosen[0].get("value"):
        raise InputError("Patient.identifier", len(chosen), "expected one identifier typed MR (medical record number)")
    return str(chosen[0]["value"])


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


def _observations(
    observations: list[tuple[str, dict[str, Any]]], refs: set[str], evidence: set[str]
) -> dict[str, tuple[Any, dt.date | None, str]]:
    """For each field: (value as the patient file writes it, effective date, FHIR element)."""
    candidates: dict[str, list[tuple[dt.date | None, Any, str]]] = {}
    for url, observation in observations:
        if observation.get("status") not in FINAL:
            continue
        cited = url in evidence or f"Observation/{observation.get('id')}" in evidence
        for field, value, element in _measurement(observation, refs, cited) or _marker(observation, refs):
            candidates.setdefault(field, []).append((_effective(observation, element), value, element))
    chosen: dict[str, tuple[Any, dt.date | None, str]] = {}
    for field, found in candidates.items():
        latest = max((date for date, _, _ in found if date is not None), default=None)
        values = {value for date, value, _ in found if date == latest}
        if len(values) > 1:
            raise InputError(f"Observation[{field}]", " / ".join(map(str, values)), "different values on the same date")
        chosen[field] = (values.pop(), latest, next(e for d, v, e in found if d == latest))
    return chosen


def _measurement(observation: dict[str, Any], refs: set[str], cited: bool) -> list[tuple[str, Any, str]]:
    """A LOINC-coded measurement as (field, ``"168 cm"``, element), with the laboratory's
    upper limit of normal (``referenceRange.high``) where the patient file has one; [] if the
    Observation is not one we read. A WBC the diagnosis cites is the WBC at diagnosis."""
    terms = terminology()
    loinc = [code for system, code in _codings(observation.get("code")) if system == terms.systems["loinc"]]
    key = next((f for f in map(terms.field_for_loinc, loinc) if f is not None), None)
    if key is None or key in DERIVED:
        return []
    key = "labs.wbc_at_diagnosis" if key == "labs.wbc" and cited else key
    field = key.removesuffix("_molar")
    element = f"Observation[{field}]"
    _check_subject(observation.get("subject"), refs, f"{element}.subject")
    kind = terms.loinc[key].kind
    if kind == "score":  # ECOG: an integer (mCODE ECOGPerformanceStatus)
        return [(field, observation.get("valueInteger"), f"{element}.valueInteger")]
    quantity = _ucum_quantity(observation, element)
    if kind == "percent":
        return [(field, _percent(quantity, element), f"{element}.valueQuantity")]
    value = terms.patient_value(quantity.get("value"), quantity.get("code"), kind, f"{element}.valueQuantity")
    found = [(field, value, f"{element}.valueQuantity")]
    limit_field = f"{field}_uln"
    ranges = [r for r in observation.get("referenceRange") or [] if isinstance(r, dict) and "high" in r]
    if ranges and field.startswith("labs.") and limit_field.removeprefix("labs.") in Labs.model_fields:
        high, where = ranges[0]["high"], f"{element}.referenceRange.high"
        if not isinstance(high, dict) or high.get("system") != terms.systems["ucum"]:
            raise InputError(where, str(high), "expected a UCUM quantity")
        found.append((limit_field, terms.patient_value(high.get("value"), high.get("code"), kind, where), where))
    return found


def _marker(observation: dict[str, Any], refs: set[str]) -> list[tuple[str, Any, str]]:
    """A marker in the local code system: a percentage, or Ph positive/negative."""
    codes = [code for system, code in _codings(observation.get("code")) if system == MARKER_SYSTEM]
    name = next((n for n, m in terminology().markers.items() if m.code in codes), None)
    if name is None:
        return []
    field = f"markers.{name}"
    element = f"Observation[{field}]"
    _check_subject(observation.get("subject"), refs, f"{element}.subject")
    if name == "philadelphia":
        concept = observation.get("valueCodeableConcept")
        coded = [code for system, code in _codings(concept) if system == MARKER_SYSTEM]
        value = coded[0] if coded else _text(concept, f"{element}.valueCodeableConcept")
        return [(field, value, f"{element}.valueCodeableConcept")]
    return [(field, _percent(_ucum_quantity(observation, element), element), f"{element}.valueQuantity")]


def _percent(quantity: dict[str, Any], element: str) -> Any:
    if quantity.get("code") != "%":
        raise InputError(f"{element}.valueQuantity.code", quantity.get("code", ""), "expected UCUM %")
    number = quantity.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise InputError(f"{element}.valueQuantity.value", number, "expected a number")
    return number


def _ucum_quantity(observation: dict[str, Any], element: str) -> dict[str, Any]:
    quantity = observation.get("valueQuantity")
    if not isinstance(quantity, dict):
        raise InputError(f"{element}.valueQuantity", "", "required: the measurement as a quantity with a UCUM code")
    if quantity.get("system") != terminology().systems["ucum"]:
        raise InputError(f"{element}.valueQuantity.system", quantity.get("system", ""), "expected UCUM")
    return quantity


def _effective(resource: dict[str, Any], element: str) -> dt.date | None:
    text = resource.get("effectiveDateTime") or resource.get("effectiveInstant")
    if text is None and isinstance(resource.get("effectivePeriod"), dict):
        text = resource["effectivePeriod"].get("start")
    return _date(text, f"{element}.effectiveDateTime") if text is not None else None


def _date(text: object, element: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        raise InputError(element, text, "expected a date YYYY-MM-DD") from None


def _conditions(
    conditions: list[tuple[str, dict[str, Any]]], refs: set[str], elements: dict[str, str]
) -> dict[str, Any]:
    """The diagnosis (with disease status) and the history; exactly one diagnosis."""
    data: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    for index, (_, condition) in enumerate(conditions):
        if _status_code(condition.get("verificationStatus")) in NOT_TRUE:
            continue
        element = f"Condition[{index}]"
        _check_subject(condition.get("subject"), refs, f"{element}.subject")
        diagnosis = _diagnosis(condition, f"{element}.code")
        if diagnosis is None:
            history.append(_history_event(condition, element, f"history.{len(history)}", elements))
            continue
        if data.get("diagnosis", diagnosis) != diagnosis:
            raise InputError(f"{element}.code", diagnosis, f"a second diagnosis (already {data['diagnosis']})")
        data["diagnosis"] = diagnosis
        elements["diagnosis"] = "Condition[diagnosis].code"
        status = _disease_status(condition, element)
        if status is not None:
            data["disease_status"] = status
            elements["disease_status"] = "Condition[diagnosis].extension[disease-status]"
    if "diagnosis" not in data:
        raise InputError("Condition", "", "no Condition coded in the diagnosis vocabulary (or ICD-O-3)")
    if history:
        data["history"] = history
    return data


def _history_event(condition: dict[str, Any], element: str, field: str, elements: dict[str, str]) -> dict[str, Any]:
    """A Condition other than the diagnosis: what, with which drug (condition-dueTo), when."""
    event: dict[str, Any] = {"condition": _text(condition.get("code"), f"{element}.code")}
    elements.update({field: element, f"{field}.condition": f"{element}.code"})
    due_to = terminology().extensions["condition_due_to"].url
    causes = [e for e in condition.get("extension") or [] if isinstance(e, dict) and e.get("url") == due_to]
    if causes:
        event["drug"] = _text(causes[0].get("valueCodeableConcept"), f"{element}.extension[condition-dueTo]")
        elements[f"{field}.drug"] = f"{element}.extension[condition-dueTo]"
    if condition.get("onsetDateTime"):
        event["date"] = _date(condition["onsetDateTime"], f"{element}.onsetDateTime")
        elements[f"{field}.date"] = f"{element}.onsetDateTime"
    notes = [n.get("text") for n in condition.get("note") or [] if isinstance(n, dict) and n.get("text")]
    if notes:
        event["note"] = " ".join(map(str, notes))
        elements[f"{field}.note"] = f"{element}.note"
    return event


def _diagnosis(condition: dict[str, Any], element: str) -> str | None:
    """The vocabulary term of a Condition coded in our code system or ICD-O-3, else None."""
    systems = {DIAGNOSIS_SYSTEM, terminology().systems["icd_o_3"]}
    codes = [code for system, code in _codings(condition.get("code")) if system in systems]
    found = {parse_diagnosis(code, element) for code in codes}
    if len(found) > 1:
        raise InputError(element, ", ".join(sorted(found)), "codings disagree on the diagnosis")
    return found.pop() if found else None


def _disease_status(condition: dict[str, Any], element: str) -> str | None:
    stated = [e.get("valueCode") for e in condition.get("extension") or [] if e.get("url") == DISEASE_STATUS_URL]
    relapse = _status_code(condition.get("clinicalStatus")) == terminology().hl7["relapse"].code
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
        if _status_code(allergy.get("verificationStatus")) in NOT_TRUE:
            continue
        element, field = f"AllergyIntolerance[{index}]", f"allergies.{len(found)}"
        _check_subject(allergy.get("patient"), refs, f"{element}.patient")
        entry: dict[str, Any] = {"substance": _text(allergy.get("code"), f"{element}.code")}
        elements.update({field: element, f"{field}.substance": f"{element}.code"})
        reactions = [r for r in allergy.get("reaction") or [] if isinstance(r, dict)]
        manifestations = [m for r in reactions for m in r.get("manifestation") or [] if isinstance(m, dict)]
        if manifestations:
            first = manifestations[0].get("concept", manifestations[0])  # R5 CodeableReference, R4 CodeableConcept
            entry["reaction"] = _text(first, f"{element}.reaction.manifestation")
            elements[f"{field}.reaction"] = f"{element}.reaction.manifestation"
        found.append(entry)
    return found


def _codings(concept: object) -> list[tuple[str, str]]:
    """(system, code) of each coding of a CodeableConcept, tolerating absent parts."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [(str(c.get("system")), str(c.get("code"))) for c in codings or [] if isinstance(c, dict)]


def _status_code(concept: object) -> str | None:
    return next((code for _, code in _codings(concept)), None)


def _text(concept: object, element: str) -> str:
    """A CodeableConcept as words: its text, else the first coding's display."""
    if isinstance(concept, dict):
        if concept.get("text"):
            return str(concept["text"])
        display = next((c.get("display") for c in concept.get("coding") or [] if c.get("display")), None)
        if display:
            return str(display)
    raise InputError(element, "", "required: a text or a coding with a display")


def _check_subject(reference: object, refs: set[str], element: str) -> None:
    target = reference.get("reference") if isinstance(reference, dict) else None
    if target not in refs:
        problem = "required: a reference to the Bundle's Patient" if target is None else "not the Bundle's Patient"
        raise InputError(element, target or "", problem)


def _element(field: str, elements: dict[str, str]) -> str:
    """The FHIR element a patient-file field came from (``labs.anc`` → Observation[labs.anc])."""
    key = max((k for k in elements if field == k or field.startswith(f"{k}.")), key=len, default=None)
    return field if key is None else elements[key] + field.removeprefix(key)
