"""FHIR export (design §10.7): a regimen as a PlanDefinition, an order set as a Bundle.

The order Bundle holds the patient's resources (``subject``), one MedicationRequest per
calculated order, a RequestOrchestration (R5) or RequestGroup (R4) that instantiates the
regimen's PlanDefinition in the KDN5 shape, and a DetectedIssue per finding, with any
acknowledgement as its mitigation. Requests are ``draft`` proposals: this is decision
support, and the prescriber and a pharmacist must still verify and sign in the EHR.

``doseQuantity`` is the calc JSON ``final`` dose in UCUM (a per-day amount is a
``rateQuantity``, never a single dose of that size); the per-basis dose and the arithmetic
are in the text and a note. Nothing is exported for a blocked or held order set: callers
check ``status`` first, and ``order_bundle`` refuses too. Output is deterministic: ids are
UUIDs derived from the input hash, so the same input always gives the same Bundle.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from .. import DISCLAIMER, __version__
from ..body import BSA_FORMULAS
from ..dosing import Order
from ..drugs import drug_table
from ..orderset import OrderSet, to_json
from ..patient import Patient
from ..regimen import ROUTE_DISPLAY, DoseLine, Regimen
from ..report import days_text
from ..rules.route import INTRATHECAL_LABEL, VINCA_LABEL
from ..units import format_quantity
from .exposure import course_requests, medication_statements
from .plan import (
    canonical,
    cap_fields,
    cycle_definition,
    days_extension,
    dose_and_rate,
    kdn5_nesting,
    line_timing,
    medication_concept,
)
from .subject import (
    Derived,
    allergy_resources,
    assessment_observations,
    diagnosis_condition,
    history_conditions,
    observations,
    patient_resource,
)
from .terminology import (
    CANONICAL_BASE,
    ENGINE_SYSTEM,
    INPUT_HASH_SYSTEM,
    REGIMEN_HASH_SYSTEM,
    RULE_SYSTEM,
    terminology,
)
from .validation import FhirVersion

SEVERITY = {"hold": "high", "warn": "moderate", "info": "low"}


class Refused(Exception):
    """The order set must not be exported (blocked or held): the message says why."""


class Ids:
    """Deterministic ``urn:uuid`` fullUrls, unique within one order set."""

    def __init__(self, seed: str) -> None:
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"{CANONICAL_BASE}/{seed}")

    def url(self, name: str) -> str:
        return f"urn:uuid:{uuid.uuid5(self.namespace, name)}"


def order_bundle(order_set: OrderSet, content_hash: str, version: FhirVersion) -> dict[str, Any]:
    """The Bundle for one patient's cycle; raises Refused unless the calc status is ``ok``."""
    calc = to_json(order_set)
    if calc["status"] != "ok":
        stops = [f"{f['rule']}: {f['message']}" for f in calc["findings"] if f["severity"] in ("block", "hold")]
        raise Refused(f"{calc['status']}: {'; '.join(stops) or 'see calc'}")
    regimen, patient = order_set.regimen, order_set.patient
    ids = Ids(f"{calc['input_hash']}/{regimen.id}|{regimen.version}/{calc['regimen']['cycle']}/{calc['calculated_on']}")
    context = _Context(order_set, calc, content_hash, version, ids)
    derived = Derived(
        bsa_m2=calc["patient"]["bsa_m2"],
        bsa_method=f"{BSA_FORMULAS[calc['patient']['bsa_formula']].name}: {calc['patient']['bsa_formula_citation']}",
        crcl_ml_min=calc["patient"]["crcl_ml_min"],
        crcl_method=f"{calc['patient']['crcl_method']}: {calc['patient']['crcl_citation']}",
        calculated_on=calc["calculated_on"],
    )
    entries = patient_entries(patient, ids, version, derived)
    requests = [(ids.url(f"MedicationRequest/{n}"), o) for n, o in enumerate(order_set.orders)]
    entries += [(url, context.medication_request(order)) for url, order in requests]
    entries.append((context.group_url, context.request_group(requests)))
    targets = [context.group_url, *(url for url, _ in requests)]
    entries.append((ids.url("Provenance"), context.provenance(targets)))
    acknowledged = {a.code: a.reason for a in order_set.acknowledgements}
    for n, finding in enumerate(calc["findings"]):
        implicated = [url for url, order in requests if order.drug == finding.get("drug")] or [context.group_url]
        issue = context.detected_issue(finding, implicated, acknowledged.get(finding["rule"]))
        entries.append((ids.url(f"DetectedIssue/{n}"), issue))
    return {
        "resourceType": "Bundle",
        "identifier": {"system": f"{CANONICAL_BASE}/order-set", "value": ids.url("Bundle").removeprefix("urn:uuid:")},
        "type": "collection",
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }


def patient_bundle(patient: Patient, version: FhirVersion) -> dict[str, Any]:
    """The patient's own resources only (no order, nothing derived): what an EHR sends in —
    the ``data`` of ``$apply`` — and what the round-trip tests send back through the importer."""
    ids = Ids(f"patient/{patient.id}")
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": url, "resource": r} for url, r in patient_entries(patient, ids, version, None)],
    }


def patient_entries(
    patient: Patient, ids: Ids, version: FhirVersion, derived: Derived | None
) -> list[tuple[str, dict[str, Any]]]:
    """(fullUrl, resource) for everything the importer reads back: the patient's measurements,
    diagnosis, allergies, history, medications, cumulative doses and prior courses."""
    subject = ids.url("Patient")
    url_for = _observation_urls(ids)
    entries: list[tuple[str, dict[str, Any]]] = [(subject, patient_resource(patient))]
    found = observations(patient, derived, subject, url_for) + assessment_observations(patient, subject)
    entries += [(url_for(field), observation) for field, observation in found]
    diagnosis = diagnosis_condition(patient, subject, url_for("labs.wbc_at_diagnosis"), version)
    entries.append((ids.url("Condition"), diagnosis))
    entries += [(ids.url(f"Allergy/{n}"), a) for n, a in enumerate(allergy_resources(patient, subject, version))]
    entries += [(ids.url(f"History/{n}"), c) for n, c in enumerate(history_conditions(patient, subject))]
    entries += [(ids.url(f"Statement/{n}"), m) for n, m in enumerate(medication_statements(patient, subject, version))]
    entries += [(ids.url(f"Course/{n}"), c) for n, c in enumerate(course_requests(patient, subject, version))]
    return entries


def _observation_urls(ids: Ids) -> Callable[[str], str]:
    return lambda field: ids.url(f"Observation/{field}")


class _Context:
    """What every resource of one order Bundle shares: version, subject, reason, date."""

    def __init__(
        self, order_set: OrderSet, calc: dict[str, Any], content_hash: str, version: FhirVersion, ids: Ids
    ) -> None:
        self.order_set, self.calc, self.content_hash, self.version = order_set, calc, content_hash, version
        self.date: str = calc["calculated_on"]
        self.ids = ids
        self.patient_url, self.condition_url, self.group_url = (
            ids.url("Patient"),
            ids.url("Condition"),
            ids.url("Request"),
        )
        self.subject = {"reference": self.patient_url}

    def observation_url(self, field: str) -> str:
        return self.ids.url(f"Observation/{field}")

    @property
    def r5(self) -> bool:
        return self.version == "r5"

    def reason(self) -> dict[str, Any]:
        reference = {"reference": self.condition_url}
        return {"reason": [{"reference": reference}]} if self.r5 else {"reasonReference": [reference]}

    def medication_request(self, order: Order) -> dict[str, Any]:
        line, regimen = order.line, self.order_set.regimen
        timing = line_timing(line)
        timing["repeat"]["boundsPeriod"] = self.bounds(line)
        dosage: dict[str, Any] = {
            "text": self.dosage_text(order),
            **({"additionalInstruction": instructions} if (instructions := _instructions(line)) else {}),
            "timing": timing,
            "route": {**terminology().route_concept(line.route), "text": ROUTE_DISPLAY[line.route]},
            "doseAndRate": [dose_and_rate(order.final, order.drug, "calculated")],
            **cap_fields(order.cap, order.drug, self.version),
        }
        notes = [order.calculation, *order.notes, *([line.note] if line.note else [])]
        request: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "status": "draft",
            "intent": "proposal",
            "subject": self.subject,
            "authoredOn": self.date,
            **self.reason(),
            "note": [{"text": text} for text in notes],
            "dosageInstruction": [dosage],
        }
        basis = terminology().basis_concept(order.basis)
        if basis is not None:
            url = terminology().extensions["normalization_basis"].url
            request["extension"] = [{"url": url, "valueCodeableConcept": basis}]
        if self.r5:
            request["medication"] = {"concept": medication_concept(order.drug)}
        else:
            request["medicationCodeableConcept"] = medication_concept(order.drug)
            request["instantiatesCanonical"] = [canonical(regimen)]
        return request

    def bounds(self, line: DoseLine) -> dict[str, str]:
        """The dates of the line's first and last day, the order date being the cycle's first
        day (day 1, or day 0 in a protocol that counts from 0); a repeated dose (q12h × 6)
        gets a start only, as its last administration depends on the time of the first."""
        first = min(day for drug_line in self.order_set.regimen.drugs for day in drug_line.days)
        on = self.order_set.options.on

        def date_of(day: int) -> str:
            return (on + dt.timedelta(days=day - first)).isoformat()

        period = {"start": date_of(min(line.days))}
        if line.every is None:
            period["end"] = date_of(max(line.days))
        return period

    def provenance(self, targets: list[str]) -> dict[str, Any]:
        """Who made the order set from what: the engine and its version (agent), the regimen
        file by its content hash and the patient input by its hash (entities), for audit."""
        regimen = self.order_set.regimen
        engine = f"chemo-orders {__version__}"
        return {
            "resourceType": "Provenance",
            "target": [{"reference": url} for url in targets],
            "recorded": f"{self.date}T00:00:00+00:00",  # the calculation date; no time of day is kept
            "agent": [{"who": {"identifier": {"system": ENGINE_SYSTEM, "value": __version__}, "display": engine}}],
            "entity": [
                {
                    "role": "source",
                    "what": {
                        "identifier": {"system": REGIMEN_HASH_SYSTEM, "value": self.content_hash},
                        "display": f"regimen {regimen.id} version {regimen.version} ({canonical(regimen)})",
                    },
                },
                {
                    "role": "source",
                    "what": {
                        "identifier": {"system": INPUT_HASH_SYSTEM, "value": self.calc["input_hash"]},
                        "display": "the patient input of the calculation",
                    },
                },
                *({"role": "source", "what": {"reference": ref}} for ref in self.order_set.patient.source_references),
            ],
        }

    def dosage_text(self, order: Order) -> str:
        line = order.line
        days = f"day{'s' if len(line.days) > 1 else ''} {days_text(line.days)}"
        final, dose = format_quantity(order.final), format_quantity(order.dose)
        text = f"{drug_table().display_name(order.drug)} {final}{f' ({dose})' if dose != final else ''}"
        text += f" {ROUTE_DISPLAY[line.route]} on {days}"
        text += f" of cycle {self.order_set.options.cycle}"
        if line.every is not None:
            text += f", every {format_quantity(line.every)} × {line.doses} doses"
        if line.duration is not None:
            text += f", over {format_quantity(line.duration)}"
        return text

    def request_group(self, requests: list[tuple[str, Order]]) -> dict[str, Any]:
        """The KDN5 RequestOrchestration/RequestGroup: one action per MedicationRequest."""
        order_set, regimen = self.order_set, self.order_set.regimen
        actions = []
        for n, (url, order) in enumerate(requests, 1):
            action: dict[str, Any] = {"id": f"order-{n}"}
            days = days_extension(regimen, order.line.days)
            if days:
                action["extension"] = days
            if order.line.sequence is not None:
                action["prefix"] = str(order.line.sequence)
            action["textEquivalent"] = self.dosage_text(order)
            action["resource"] = {"reference": url}
            actions.append(action)
        provenance = (
            f"chemo-orders {__version__}, calculated {self.date}; regimen {regimen.id} version {regimen.version}"
            f" (content sha256 {self.content_hash}); input hash {self.calc['input_hash']}"
        )
        return {
            "resourceType": "RequestOrchestration" if self.r5 else "RequestGroup",
            "instantiatesCanonical": [canonical(regimen)],
            "status": "draft",
            "intent": "proposal",
            "subject": self.subject,
            "authoredOn": self.date,
            **self.reason(),
            "note": [
                {"text": DISCLAIMER},
                {"text": provenance},
                *({"text": f"Not read from the source record: {note}"} for note in order_set.patient.source_notes),
            ],
            "action": [kdn5_nesting(cycle_definition(regimen, order_set.options.cycle), actions)],
        }

    def detected_issue(self, finding: dict[str, Any], implicated: list[str], reason: str | None) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "resourceType": "DetectedIssue",
            "status": "final",
            "severity": SEVERITY[finding["severity"]],
            "code": {"coding": [{"system": RULE_SYSTEM, "code": finding["rule"], "display": finding["name"]}]},
            "subject" if self.r5 else "patient": self.subject,
            "implicated": [{"reference": url} for url in implicated],
            "detail": finding["message"],
        }
        if reason is not None:
            issue["mitigation"] = [{"action": {"text": f"Acknowledged: {reason}"}, "date": self.date}]
        return issue


def _instructions(line: DoseLine) -> list[dict[str, Any]]:
    """The labels a nurse must see with the dose (ROU001, ROU002) and the diluent, as text:
    no verified SNOMED CT code says exactly "fatal if given by other routes"."""
    texts = []
    if drug_table().get(line.drug).drug_class == "vinca" and line.route == "IV":
        texts.append(VINCA_LABEL)
    if line.route == "intrathecal":
        texts.append(INTRATHECAL_LABEL)
    if line.diluent:
        texts.append(f"Diluent: {line.diluent}")
    return [{"text": text} for text in texts]


def plan_definition_for(regimen: Regimen, version: FhirVersion) -> dict[str, Any]:
    """The regimen's PlanDefinition, identified by its file's content hash (as on the PDF)."""
    from .plan import plan_definition

    return plan_definition(_orderable(regimen), content_hash(regimen), version)


def order_bundle_for(order_set: OrderSet, version: FhirVersion) -> dict[str, Any]:
    return order_bundle(order_set, content_hash(_orderable(order_set.regimen)), version)


def content_hash(regimen: Regimen) -> str:
    from ..render import regimen_hash

    return regimen_hash(regimen.id)


def _orderable(regimen: Regimen) -> Regimen:
    """A ``reference`` regimen (doses unconfirmed, design §10.4) never becomes a template."""
    if regimen.status == "reference":
        raise Refused(f"{regimen.id} is a reference regimen, not orderable: {regimen.reference_reason}")
    return regimen
