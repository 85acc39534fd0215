"""What the patient has had and takes, both ways: co-medications, lifetime cumulative doses
and prior courses (design §10.1, §11.1; issue 23).

- A co-medication (``medications``) is a MedicationStatement (R4 ``active``, R5 ``recorded``).
- A lifetime cumulative dose (``prior_cumulative``, per m²) is a MedicationStatement with the
  local extension ``StructureDefinition/cumulative-dose`` (a per-m² quantity): no standard
  element states "lifetime total so far", and a dose summed from administrations needs the
  body surface area of each day, which a Bundle rarely carries. On import, a
  MedicationAdministration dosed per m² (UCUM ``mg/m2``) adds to the total; one of a drug with
  a lifetime limit dosed in mg alone is refused, because it cannot be counted per m².
- A prior course (``prior_courses``) is a RequestGroup (R4) / RequestOrchestration (R5) with
  status ``completed`` (or ``active``: ordered), intent ``order``, ``instantiatesCanonical``
  the regimen's PlanDefinition, ``authoredOn`` the date, the cycle in the local extension
  ``StructureDefinition/cycle-number`` and the record's order number as an identifier. The
  draft proposal of an exported order set is not a course and is not read back as one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..drugs import drug_table
from ..errors import InputError
from ..patient import Patient
from ..units import format_quantity
from .elements import check_subject, codings, date, medication, text
from .plan import dose_quantity, medication_concept
from .terminology import CANONICAL_BASE, CUMULATIVE_DOSE_URL, ORDER_SYSTEM, terminology
from .validation import FhirVersion

CYCLE_URL = f"{CANONICAL_BASE}/StructureDefinition/cycle-number"
PLAN_PREFIX = f"{CANONICAL_BASE}/PlanDefinition/"
NOT_GIVEN = {"entered-in-error", "not-taken", "not-done", "stopped", "completed", "on-hold", "unknown", "intended"}


def medication_statements(patient: Patient, subject: str, version: FhirVersion) -> list[dict[str, Any]]:
    """Co-medications, then lifetime cumulative doses, as MedicationStatements."""
    r5 = version == "r5"
    statements = []
    for drug in patient.medications:
        statements.append(_statement(drug, subject, "recorded" if r5 else "active", r5))
    for drug, dose in patient.prior_cumulative.items():
        statement = _statement(drug, subject, "recorded" if r5 else "completed", r5)
        statement["extension"] = [{"url": CUMULATIVE_DOSE_URL, "valueQuantity": dose_quantity(dose, drug)}]
        statement["note"] = [{"text": f"Lifetime cumulative dose to date: {format_quantity(dose)}"}]
        statements.append(statement)
    return statements


def course_requests(patient: Patient, subject: str, version: FhirVersion) -> list[dict[str, Any]]:
    """One completed RequestGroup/RequestOrchestration per prior course."""
    requests = []
    for course in patient.prior_courses:
        request: dict[str, Any] = {
            "resourceType": "RequestOrchestration" if version == "r5" else "RequestGroup",
            "extension": [{"url": CYCLE_URL, "valueInteger": course.cycle}],
            "instantiatesCanonical": [f"{PLAN_PREFIX}{course.regimen}"],
            "status": "completed",
            "intent": "order",
            "subject": {"reference": subject},
            "authoredOn": course.date.isoformat(),
        }
        if course.order_id is not None:
            request["identifier"] = [{"system": ORDER_SYSTEM, "value": str(course.order_id)}]
        requests.append(request)
    return requests


def _statement(drug: str, subject: str, status: str, r5: bool) -> dict[str, Any]:
    concept = medication_concept(drug)
    return {
        "resourceType": "MedicationStatement",
        "status": status,
        **({"medication": {"concept": concept}} if r5 else {"medicationCodeableConcept": concept}),
        "subject": {"reference": subject},
    }


def read_exposure(resources: dict[str, list[tuple[str, dict[str, Any]]]], refs: set[str]) -> dict[str, Any]:
    """``medications``, ``prior_cumulative`` and ``prior_courses`` as the patient file writes them."""
    data: dict[str, Any] = {}
    medications: list[str] = []
    totals: dict[str, tuple[float, str]] = {}
    for index, (_, statement) in enumerate(resources.get("MedicationStatement", [])):
        where = f"MedicationStatement[{index}]"
        cumulative = [
            e for e in statement.get("extension") or [] if isinstance(e, dict) and e.get("url") == CUMULATIVE_DOSE_URL
        ]
        if statement.get("status") == "entered-in-error" or (not cumulative and statement.get("status") in NOT_GIVEN):
            continue
        check_subject(statement.get("subject"), refs, f"{where}.subject")
        drug = _drug(statement, where)
        if cumulative:
            _add(totals, drug, cumulative[0].get("valueQuantity"), f"{where}.extension[cumulative-dose]")
        else:
            medications.append(drug)
    for index, (_, administration) in enumerate(resources.get("MedicationAdministration", [])):
        where = f"MedicationAdministration[{index}]"
        if administration.get("status") in ("entered-in-error", "not-done"):
            continue
        check_subject(administration.get("subject"), refs, f"{where}.subject")
        drug = _drug(administration, where)
        dose = (administration.get("dosage") or {}).get("dose")
        if isinstance(dose, dict) and dose.get("code") in _per_area():
            _add(totals, drug, dose, f"{where}.dosage.dose")
        elif _has_lifetime_limit(drug):
            raise InputError(
                f"{where}.dosage.dose",
                str(dose),
                "a dose of a drug with a lifetime limit, not per m²: it cannot be counted in the cumulative total",
            )
    courses = _courses(resources, refs)
    if medications:
        data["medications"] = medications
    if totals:
        data["prior_cumulative"] = {drug: f"{value:g} {unit}" for drug, (value, unit) in totals.items()}
    if courses:
        data["prior_courses"] = courses
    return data


def _has_lifetime_limit(drug: str) -> bool:
    entry = drug_table().get(drug)
    return entry.cumulative_limit is not None or entry.doxorubicin_equivalent is not None


def _per_area() -> dict[str, str]:
    """UCUM code → the patient file's unit, for doses per m² (``mg/m2`` → ``mg/m**2``)."""
    return {ucum: unit for unit, ucum in terminology().doses.items() if unit.endswith("/m**2")}


def _add(totals: dict[str, tuple[float, str]], drug: str, quantity: object, element: str) -> None:
    if not isinstance(quantity, dict) or quantity.get("system") != terminology().systems["ucum"]:
        raise InputError(element, str(quantity), "expected a UCUM quantity per m² (mg/m2)")
    unit = _per_area().get(str(quantity.get("code")))
    value = quantity.get("value")
    if unit is None or isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(element, str(quantity), "expected a number in a UCUM unit per m² (mg/m2)")
    before, before_unit = totals.get(drug, (0.0, unit))
    if before_unit != unit:
        raise InputError(element, unit, f"{drug} is given in {before_unit} elsewhere: one unit per drug")
    totals[drug] = (before + float(value), unit)


def _drug(resource: dict[str, Any], where: str) -> str:
    """The drug's canonical name: by RxNorm code where drugs.yaml has it, else its text."""
    concept = medication(resource)
    rxnorm = terminology().systems["rxnorm"]
    for system, code in codings(concept):
        if system == rxnorm:
            found = next((name for name, d in drug_table().drugs.items() if str(d.rxnorm) == code), None)
            if found is not None:
                return found
    return drug_table().canonical(text(concept, f"{where}.medication"), f"{where}.medication")


def _courses(resources: dict[str, list[tuple[str, dict[str, Any]]]], refs: set[str]) -> list[dict[str, Any]]:
    courses = []
    for kind in ("RequestGroup", "RequestOrchestration"):
        for index, (_, request) in enumerate(resources.get(kind, [])):
            where = f"{kind}[{index}]"
            if request.get("status") not in ("active", "completed") or request.get("intent") not in ("order", "plan"):
                continue
            check_subject(request.get("subject"), refs, f"{where}.subject")
            plans = [c for c in request.get("instantiatesCanonical") or [] if str(c).startswith(PLAN_PREFIX)]
            cycles = [
                e.get("valueInteger")
                for e in request.get("extension") or []
                if isinstance(e, dict) and e.get("url") == CYCLE_URL
            ]
            if not plans or not cycles:
                raise InputError(
                    f"{where}.instantiatesCanonical",
                    str(plans),
                    "a course needs our PlanDefinition and the cycle-number extension",
                )
            course: dict[str, Any] = {
                "regimen": str(plans[0]).removeprefix(PLAN_PREFIX).split("|")[0],
                "cycle": cycles[0],
                "date": date(request.get("authoredOn"), f"{where}.authoredOn"),
            }
            orders = [
                i.get("value")
                for i in request.get("identifier") or []
                if isinstance(i, dict) and i.get("system") == ORDER_SYSTEM
            ]
            if orders:
                course["order_id"] = int(str(orders[0])) if str(orders[0]).isdigit() else orders[0]
            courses.append(course)
    return courses


def last_course(courses: list[dict[str, Any]]) -> dt.date | None:
    dates = [c["date"] for c in courses if isinstance(c.get("date"), dt.date)]
    return max(dates, default=None)
