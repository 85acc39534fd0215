"""The CDS Hooks 2.0 service ``chemo-order-check`` (design §11.7), for ``order-select`` and
``order-sign``: the EHR sends the draft MedicationRequests and the patient; the engine says
what is wrong with them, as cards.

Which regimen the drafts belong to is read, never guessed: a draft's
``instantiatesCanonical`` naming one of our PlanDefinitions (the R4 export sets it) decides;
otherwise the drafts' drug set must equal exactly one active regimen's (all its drugs, or its
antineoplastic ones); none or several → an ``info`` card saying so and no dose. Drafts with
no antineoplastic drug of the library are none of this service's business: no card.

Cards: ``critical`` for a block, ``warning`` for a hold, ``info`` for a modification or any
other warning or note of the engine; each ``summary`` starts with the rule code, the
``source`` links the rule's first reference. A draft dose outside the verification tolerance
(``verify``'s comparison and default, 5 %) is a ``warning`` card ``DOSE …`` whose suggestion
updates the MedicationRequest to the engine's dose; the engine's own final dose always passes
(as in ``verify``: a whole-syringe filgrastim dose sits 17 % from the arithmetic). Nothing to say → ``{"cards": []}``.
Patient data comes from ``prefetch`` only: this service never calls back into the EHR
(no ``fhirServer`` fetches), so a request without it is 412, as the specification allows.
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import DISCLAIMER
from ..errors import InputError, excerpt
from .terminology import CANONICAL_BASE, RULE_SYSTEM

if TYPE_CHECKING:
    from ..dosing import Order
    from ..orderset import OrderSet
    from ..regimen import Regimen
    from ..units import Q
    from .server import Calculate

SERVICE_ID = "chemo-order-check"
HOOKS = ("order-select", "order-sign")
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
}
REQUIRED_PREFETCH = ("patient", "observations", "conditions")  # the diagnosis is a Condition
INDICATOR = {"block": "critical", "hold": "warning", "warn": "info", "info": "info"}
SUMMARY_MAX = 140
PLAN_PREFIX = f"{CANONICAL_BASE}/PlanDefinition/"
SOURCE_LABEL = "chemo-orders"


class Unavailable(Exception):
    """A prefetch the service needs is missing (HTTP 412): it does not fetch data itself."""


def discovery() -> dict[str, Any]:
    """``GET /cds-services``: one service id, listed once per hook it answers (a discovery
    entry names a single hook; the request's ``hook`` says which one called)."""
    description = (
        "Checks draft chemotherapy MedicationRequests against the cited regimen library: blocks, holds, "
        f"dose modifications and doses outside the verification tolerance. {DISCLAIMER}"
    )
    return {
        "services": [
            {
                "hook": hook,
                "id": SERVICE_ID,
                "title": "Chemotherapy order check",
                "description": description,
                "prefetch": PREFETCH,
                "usageRequirements": "prefetch is required: this service does not query the FHIR server",
            }
            for hook in HOOKS
        ]
    }


def check(request: dict[str, Any], calculate: Calculate) -> dict[str, Any]:
    """The cards for one hook call (raises InputError naming the element, or Unavailable);
    ``calculate`` is the engine's door the interface hands in (``service.calculate``)."""
    call = _call(request)
    drafts = _drafts(call.context)
    said = _Cards(call.instance)
    regimen = _regimen_of(drafts, said)
    if regimen is None:
        return said.answer()
    patient = _patient(call)
    try:
        order_set = calculate(patient.data, regimen.id, None, None)
    except InputError as error:
        raise _located(error, patient.elements) from None
    for finding in order_set.findings:
        said.finding(finding.as_json())
    if not order_set.stopped:
        for draft in drafts:
            _dose_check(draft, order_set, said)
    return said.answer()


@dataclass(frozen=True)
class _Call:
    hook: str
    instance: str
    context: dict[str, Any]
    prefetch: dict[str, Any]


def _call(request: dict[str, Any]) -> _Call:
    hook, instance = request.get("hook"), request.get("hookInstance")
    if hook not in HOOKS:
        raise InputError("hook", hook or "", f"expected one of {', '.join(HOOKS)}")
    if not isinstance(instance, str) or not instance.strip():
        raise InputError("hookInstance", instance or "", "required: a UUID for this call")
    context = request.get("context")
    if not isinstance(context, dict):
        raise InputError("context", "", "required: an object")
    for key in ("userId", "patientId"):
        if not isinstance(context.get(key), str) or not context[key].strip():
            raise InputError(f"context.{key}", context.get(key) or "", "required: a string")
    if hook == "order-select":
        selections = context.get("selections")
        if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
            raise InputError("context.selections", "", "required for order-select: a list of references")
    prefetch = request.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, dict):
        raise InputError("prefetch", "", "expected an object")
    return _Call(hook, instance.strip(), context, prefetch or {})


@dataclass(frozen=True)
class _Draft:
    """A draft MedicationRequest: where it sits, the resource, its drug if the library knows it."""

    element: str
    resource: dict[str, Any]
    drug: str | None


def _drafts(context: dict[str, Any]) -> list[_Draft]:
    bundle = context.get("draftOrders")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InputError("context.draftOrders", "", "required: a Bundle of draft orders")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InputError("context.draftOrders.entry", "", "expected a list")
    drafts = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        element = f"context.draftOrders.entry[{index}].resource"
        if not isinstance(resource, dict):
            raise InputError(element, "", "required: a resource")
        if resource.get("resourceType") == "MedicationRequest":
            drafts.append(_Draft(element, resource, _drug(resource)))
    return drafts


def _drug(request: dict[str, Any]) -> str | None:
    """The library's drug a MedicationRequest orders: by RxNorm code, else by its name."""
    from ..drugs import drug_table
    from .terminology import terminology

    medication = request.get("medication")
    concept = medication.get("concept") if isinstance(medication, dict) else request.get("medicationCodeableConcept")
    if not isinstance(concept, dict):
        return None
    table, rxnorm = drug_table(), terminology().systems["rxnorm"]
    codings = _codings(concept)
    for coding in codings:
        if coding.get("system") == rxnorm:
            found = next(
                (n for n, d in table.drugs.items() if d.rxnorm is not None and str(d.rxnorm) == coding.get("code")),
                None,
            )
            if found is not None:
                return found
    names = [concept.get("text"), *(c.get("display") for c in codings)]
    return next((d for d in (table.lookup(n) for n in names if isinstance(n, str)) if d is not None), None)


def _regimen_of(drafts: list[_Draft], said: _Cards) -> Regimen | None:
    """The one regimen the drafts belong to, or None (with an info card when it matters)."""
    from ..regimen import all_regimens
    from .server import library_regimen

    named = {name for d in drafts if (name := _canonical_id(d.resource)) is not None}
    if named:
        regimen = library_regimen(next(iter(named))) if len(named) == 1 else None
        if regimen is not None:
            return regimen
        said.info(
            "REGIMEN unclear",
            f"the draft orders instantiate {excerpt(', '.join(sorted(named)))}: "
            "not exactly one regimen of this library, so no dose is checked",
        )
        return None
    drugs = {d.drug for d in drafts if d.drug is not None}
    active = [r for r in all_regimens() if r.status == "active"]
    if not drugs & {line.drug for r in active for line in r.drugs if line.role == "antineoplastic"}:
        return None  # no chemotherapy of this library among the drafts: nothing to say
    exact = [r for r in active if {line.drug for line in r.drugs} == drugs]
    matches = exact or [r for r in active if _antineoplastic(r) == drugs & _all(r) and drugs <= _all(r)]
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(sorted(drugs))
    which = f"several regimens match ({', '.join(r.name for r in matches)})" if matches else "no active regimen matches"
    said.info(
        "REGIMEN unclear",
        f"{which} the drugs ordered ({listed}): no dose is checked. "
        f"Set instantiatesCanonical to {PLAN_PREFIX}ID to name the regimen.",
    )
    return None


def _antineoplastic(regimen: Regimen) -> set[str]:
    return {line.drug for line in regimen.drugs if line.role == "antineoplastic"}


def _all(regimen: Regimen) -> set[str]:
    return {line.drug for line in regimen.drugs}


def _canonical_id(request: dict[str, Any]) -> str | None:
    """The regimen id of an ``instantiatesCanonical`` pointing at one of our PlanDefinitions."""
    urls = request.get("instantiatesCanonical")
    for url in urls if isinstance(urls, list) else []:
        if isinstance(url, str) and url.startswith(PLAN_PREFIX):
            return url.removeprefix(PLAN_PREFIX).partition("|")[0]
    return None


@dataclass(frozen=True)
class _Patient:
    data: dict[str, Any]
    elements: dict[str, str]


def _patient(call: _Call) -> _Patient:
    """The prefetched Patient and its resources as one Bundle, read by the FHIR importer."""
    from .importer import patient_data, patient_from_bundle
    from .server import check_resource_types

    missing = [key for key in REQUIRED_PREFETCH if not isinstance(call.prefetch.get(key), dict)]
    if missing:
        raise Unavailable(f"prefetch {', '.join(missing)} required (this service does not query the FHIR server)")
    patient = call.prefetch["patient"]
    if patient.get("resourceType") != "Patient" or patient.get("id") != call.context["patientId"]:
        raise InputError("prefetch.patient", patient.get("id", ""), "expected the Patient named by context.patientId")
    entries = [{"resource": patient}]
    for key in ("observations", "conditions", "allergies"):
        found = call.prefetch.get(key)
        if found is None:
            continue
        if not isinstance(found, dict) or found.get("resourceType") != "Bundle":
            raise InputError(f"prefetch.{key}", "", "expected a searchset Bundle")
        listed = found.get("entry") or []
        if not isinstance(listed, list):
            raise InputError(f"prefetch.{key}.entry", "", "expected a list")
        for entry in listed:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
                entries.append({"resource": resource})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    check_resource_types(bundle, "prefetch")
    try:
        patient_from_bundle(bundle, "")
    except InputError as error:
        raise InputError(f"prefetch: {error.field}", error.value, error.problem) from None
    data, elements = patient_data(bundle)
    return _Patient(data, elements)


def _located(error: InputError, elements: dict[str, str]) -> InputError:
    """A patient-file error said of the prefetched FHIR element it came from."""
    if error.source != "patient":
        return error
    key = max((k for k in elements if error.field == k or error.field.startswith(f"{k}.")), key=len, default=None)
    where = elements[key] + error.field.removeprefix(key) if key else error.field
    return InputError(f"prefetch: {where}", error.value, error.problem)


class _Cards:
    """The cards of one answer, each with a UUID derived from the hook call (the same call
    gets the same cards, so an EHR's feedback can name them)."""

    def __init__(self, instance: str) -> None:
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"{CANONICAL_BASE}/cds/{instance}")
        self.cards: list[dict[str, Any]] = []

    def _uuid(self, name: str) -> str:
        return str(uuid.uuid5(self.namespace, f"{len(self.cards)}/{name}"))

    def card(self, summary: str, detail: str, indicator: str, source: dict[str, Any]) -> dict[str, Any]:
        summary = summary if len(summary) <= SUMMARY_MAX else summary[: SUMMARY_MAX - 1] + "…"
        card = {
            "uuid": self._uuid(summary),
            "summary": summary,
            "detail": f"{detail}\n\n{DISCLAIMER}",
            "indicator": indicator,
            "source": source,
        }
        self.cards.append(card)
        return card

    def info(self, code: str, message: str) -> None:
        self.card(f"{code}: {message}", message, "info", {"label": SOURCE_LABEL})

    def finding(self, finding: dict[str, Any]) -> None:
        rule, message = finding["rule"], finding["message"]
        source: dict[str, Any] = {
            "label": f"{SOURCE_LABEL} rule {rule} ({finding['name']})",
            "topic": {"system": RULE_SYSTEM, "code": rule, "display": finding["name"]},
        }
        link = source_link(finding.get("references") or [])
        if link is not None:
            source["url"] = link
        detail = message + (f"\n\nUse instead: {finding['use_instead']}" if finding.get("use_instead") else "")
        self.card(f"{rule} {message}", detail, INDICATOR[finding["severity"]], source)

    def answer(self) -> dict[str, Any]:
        return {"cards": self.cards}


def source_link(references: list[str]) -> str | None:
    """A link a clinician can open for the first reference that has one: PubMed, DOI or URL."""
    for reference in references:
        pmid = re.search(r"\bPMID:?\s*(\d+)", reference)
        if pmid:
            return f"https://pubmed.ncbi.nlm.nih.gov/{pmid.group(1)}/"
        doi = re.search(r"\bdoi:\s*(10\.\S+)", reference, re.IGNORECASE)
        if doi:
            return f"https://doi.org/{doi.group(1).rstrip('.,;')}"
        url = re.search(r"https?://\S+", reference)
        if url:
            return url.group(0).rstrip(".,;)")
    return None


def _dose_check(draft: _Draft, order_set: OrderSet, said: _Cards) -> None:
    """A draft's dose against the engine's final dose for its drug and route (``verify``'s
    comparison and tolerance); outside it → a ``warning`` card suggesting the engine's dose."""
    from ..verify import DEFAULT_TOLERANCE, PrescribedDose, check_line, parse_tolerance, tolerance_for

    if draft.drug is None:
        return
    ordered = _ordered_dose(draft)
    if ordered is None:
        return
    key, dose = ordered
    route = _route(draft.resource)
    candidates = [o for o in order_set.orders if o.drug == draft.drug and (route is None or o.line.route == route)]
    if not candidates:
        return
    order = min(candidates, key=lambda o: _distance(dose, o))
    prescribed = PrescribedDose(drug=draft.drug, day=order.line.days[0], dose=dose, route=order.line.route)
    tolerance = tolerance_for(parse_tolerance(DEFAULT_TOLERANCE), order_set.options.policy, draft.drug)
    line = check_line(prescribed, order, tolerance)
    if line.verdict == "ok":
        return
    _dose_card(draft, key, order, line.verdict, line.detail, said)


def _dose_card(draft: _Draft, key: str, order: Order, verdict: str, detail: str, said: _Cards) -> None:
    from ..drugs import drug_table
    from ..units import format_quantity
    from .plan import dose_quantity

    name, final = drug_table().display_name(order.drug), format_quantity(order.final)
    corrected = copy.deepcopy(draft.resource)
    corrected["dosageInstruction"][0]["doseAndRate"][0][key] = dose_quantity(order.final, order.drug)
    card = said.card(
        f"DOSE {verdict}: {name} {_written(draft, key)} ordered, {final} calculated",
        f"{name}: {detail}.\n\nCalculation: {order.calculation}",
        "warning",
        {"label": f"{SOURCE_LABEL} dose verification ({verdict})"},
    )
    card["suggestions"] = [
        {
            "label": f"Change {name} to {final}",
            "uuid": str(uuid.uuid5(uuid.UUID(card["uuid"]), "suggestion")),
            "isRecommended": True,
            "actions": [{"type": "update", "description": f"Set the dose of {name} to {final}", "resource": corrected}],
        }
    ]
    card["selectionBehavior"] = "at-most-one"


def _ordered_dose(draft: _Draft) -> tuple[str, Q] | None:
    """(``doseQuantity`` or ``rateQuantity``, the amount) of the draft's first dosage line."""
    from ..quantities import parse_quantity
    from .terminology import terminology

    dosages = draft.resource.get("dosageInstruction")
    first = dosages[0] if isinstance(dosages, list) and dosages and isinstance(dosages[0], dict) else {}
    rates = first.get("doseAndRate")
    rate = rates[0] if isinstance(rates, list) and rates and isinstance(rates[0], dict) else {}
    key = next((k for k in ("doseQuantity", "rateQuantity") if isinstance(rate.get(k), dict)), None)
    if key is None:
        return None
    element = f"{draft.element}.dosageInstruction[0].doseAndRate[0].{key}"
    quantity = rate[key]
    terms = terminology()
    units = {code: ours for ours, code in terms.doses.items()}
    if draft.drug in terms.international_units.drugs:
        units.update({code: ours for ours, code in terms.international_units.units.items()})
    code = quantity.get("code")
    if quantity.get("system") != terms.systems["ucum"] or not isinstance(code, str) or code not in units:
        raise InputError(f"{element}.code", code or "", f"expected a UCUM dose unit: {', '.join(units)}")
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(f"{element}.value", value, "expected a number above zero")
    return key, parse_quantity(f"{value} {units[code]}", element)


def _written(draft: _Draft, key: str) -> str:
    quantity = draft.resource["dosageInstruction"][0]["doseAndRate"][0][key]
    return f"{quantity.get('value')} {quantity.get('unit') or quantity.get('code')}"


def _route(request: dict[str, Any]) -> str | None:
    """Our route for the draft's SNOMED CT route code, or None when it is not given."""
    from .terminology import terminology

    dosages = request.get("dosageInstruction")
    first = dosages[0] if isinstance(dosages, list) and dosages and isinstance(dosages[0], dict) else {}
    route = first.get("route")
    codes = {c["code"] for c in _codings(route) if isinstance(c.get("code"), str)}
    return next((ours for ours, term in terminology().routes.items() if term.code in codes), None)


def _codings(concept: object) -> list[dict[str, Any]]:
    """The Codings of a CodeableConcept, whatever shape the request gave it."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _distance(dose: Q, order: Order) -> float:
    if dose.dimensionality != order.expected.dimensionality:
        return float("inf")
    return abs(_ratio(dose, order.expected) - 1)


def _ratio(dose: Q, reference: Q) -> float:
    return float(dose.to(reference.units).magnitude) / float(reference.magnitude)
