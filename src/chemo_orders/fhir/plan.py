"""A regimen file as a FHIR PlanDefinition with contained ActivityDefinitions (the KDN5 pattern).

The FHIR core example PlanDefinition/KDN5 (an NCCN Chemotherapy Order Template) nests
regimen options → regimen parts → cycle definitions → one action per drug entry, gives the
cycle length and count on the cycle definition, the days of each entry with the
``timing-daysOfCycle`` extension, and each entry's product and dose in a contained
ActivityDefinition. Following it rather than inventing a shape is what lets an EHR that reads
NCCN templates read ours. The per-basis dose (375 mg/m², AUC 5) lives in the template; the
absolute dose only ever appears in a patient's MedicationRequest.
"""

from __future__ import annotations

from typing import Any

from .. import DISCLAIMER
from ..diagnosis import DIAGNOSIS_NAMES
from ..drugs import drug_table
from ..regimen import ROUTE_DISPLAY, Alternative, DoseLine, Reference, Regimen
from ..report import days_text, schedule_text
from ..units import (
    DAY,
    DIM_AUC,
    DIM_TIME,
    Q,
    format_number,
    format_unit,
    json_quantity,
    magnitude_in,
    quantity,
    time_power,
)
from .terminology import CANONICAL_BASE, REGIMEN_HASH_SYSTEM, REGIMEN_SYSTEM, terminology
from .validation import FhirVersion

STATUS = {"active": "active", "draft": "draft", "retired": "retired"}


def plan_url(regimen: Regimen) -> str:
    return f"{CANONICAL_BASE}/PlanDefinition/{regimen.id}"


def canonical(regimen: Regimen) -> str:
    """The versioned canonical URL an order's ``instantiatesCanonical`` points to."""
    return f"{plan_url(regimen)}|{regimen.version}"


def plan_definition(regimen: Regimen, content_hash: str, version: FhirVersion) -> dict[str, Any]:
    """The PlanDefinition of a regimen (``status: reference`` regimens are refused upstream)."""
    contained: list[dict[str, Any]] = []
    entries = [_entry(index, line, regimen, contained, version) for index, line in enumerate(regimen.drugs, 1)]
    return {
        "resourceType": "PlanDefinition",
        "id": regimen.id,
        "contained": contained,
        "url": plan_url(regimen),
        "identifier": [
            {"system": REGIMEN_SYSTEM, "value": regimen.id},
            {"system": REGIMEN_HASH_SYSTEM, "value": content_hash},
        ],
        "version": regimen.version,
        "title": f"{regimen.name}: {regimen.title}",
        "type": {"coding": [terminology().coding("order-set")], "text": "Chemotherapy Order Template"},
        "status": STATUS[regimen.status],
        "description": f"{_indications(regimen)}. {DISCLAIMER}",
        "useContext": [
            {
                "code": terminology().coding("focus"),
                "valueCodeableConcept": {"text": DIAGNOSIS_NAMES.get(i.disease, i.disease)},
            }
            for i in regimen.indications
        ],
        **({"lastReviewDate": regimen.reviewed.isoformat()} if regimen.reviewed else {}),
        "relatedArtifact": [related_artifact(key, ref) for key, ref in regimen.references.items()],
        "action": [kdn5_nesting(cycle_definition(regimen), entries)],
    }


def kdn5_nesting(cycle: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Regimen options (exactly one) → parts (all) → cycle definitions (one) → the entries."""
    return {
        "selectionBehavior": "exactly-one",
        "action": [
            {
                "selectionBehavior": "all",
                "action": [
                    {
                        "groupingBehavior": "sentence-group",
                        "selectionBehavior": "exactly-one",
                        "action": [{**cycle, "action": entries}],
                    }
                ],
            }
        ],
    }


def cycle_definition(regimen: Regimen, cycle: int | None = None) -> dict[str, Any]:
    """The cycle-definition action: its length and count (KDN5 ``timingTiming``)."""
    definition: dict[str, Any] = {"id": "cycle-definition-1" if cycle is None else f"cycle-{cycle}"}
    text = cycle_text(regimen)
    definition["textEquivalent"] = text if cycle is None else f"{regimen.name} cycle {cycle}: {text}"
    repeat: dict[str, Any] = {}
    if regimen.cycles is not None:
        repeat["count"] = regimen.cycles
    if regimen.cycle_length is not None:
        repeat.update(duration_fields(regimen.cycle_length, "duration", "durationUnit"))
    if repeat:
        definition["timingTiming"] = {"repeat": repeat}
    return definition


def cycle_text(regimen: Regimen) -> str:
    length = regimen.cycle_note
    if regimen.cycle_length is not None:
        length = f"{format_number(magnitude_in(regimen.cycle_length, DAY))}-day cycle"
    count = f" for {regimen.cycles} cycles" if regimen.cycles else ""
    given = f", given in cycles {days_text(regimen.cycle_numbers)}" if regimen.cycle_numbers else ""
    return f"{length or 'cycle length not fixed by the sources'}{count}{given}"


def days_extension(regimen: Regimen, days: tuple[int, ...]) -> list[dict[str, Any]]:
    """``timing-daysOfCycle``, whose days start at 1: a protocol that numbers from day 0
    (COG) keeps its days in the text only, because shifting them would misstate the day."""
    if min(day for line in regimen.drugs for day in line.days) < 1:
        return []
    url = terminology().extensions["days_of_cycle"].url
    return [{"url": url, "extension": [{"url": "day", "valueInteger": day} for day in days]}]


def related_artifact(key: str, ref: Reference) -> dict[str, Any]:
    """A citation (KDN5 ``relatedArtifact``) with a link a reviewer can open."""
    level = "" if ref.level == "primary" else f" [{ref.level.upper()}]"
    artifact: dict[str, Any] = {"type": "citation", "label": key, "citation": ref.citation + level}
    url = (
        f"https://pubmed.ncbi.nlm.nih.gov/{ref.pmid}/"
        if ref.pmid is not None
        else f"https://doi.org/{ref.doi}"
        if ref.doi is not None
        else ref.url
    )
    if url is not None:
        artifact["document"] = {"url": url}
    return artifact


def medication_concept(drug: str) -> dict[str, Any]:
    """RxNorm ingredient coding from drugs.yaml where verified, else the name as text only."""
    entry = drug_table().get(drug)
    concept: dict[str, Any] = {"text": drug_table().display_name(drug)}
    if entry.rxnorm is not None:
        concept["coding"] = [{"system": terminology().systems["rxnorm"], "code": str(entry.rxnorm), "display": drug}]
    return concept


def dose_quantity(dose: Q, drug: str) -> dict[str, Any]:
    """A per-basis or absolute dose as a coded Quantity: UCUM, or SNOMED CT AUC for Calvert."""
    terms = terminology()
    if dose.dimensionality == DIM_AUC:
        auc = terms.auc
        value = json_quantity(dose)["value"]
        return {"value": value, "unit": auc.display, "system": terms.systems[auc.system], "code": auc.code}
    data = json_quantity(dose)
    unit = str(data["unit"])
    return {
        "value": data["value"],
        "unit": format_unit(dose.units),
        "system": terms.systems["ucum"],
        "code": terms.dose_ucum(unit, drug),
    }


def dose_and_rate(dose: Q, drug: str, kind: str) -> dict[str, Any]:
    """One doseAndRate: a per-day amount is a rate (``mg/d``), never a single dose of that size."""
    key = "rateQuantity" if time_power(dose) < 0 else "doseQuantity"
    return {"type": {"coding": [terminology().coding(kind)]}, key: dose_quantity(dose, drug)}


def cap_fields(cap: Q | None, drug: str, version: FhirVersion) -> dict[str, Any]:
    """A cap as the most a single administration (or a day, for per-day caps) may contain."""
    if cap is None:
        return {}
    if time_power(cap) < 0:
        ratio = {
            "numerator": dose_quantity(cap * quantity(1, DAY), drug),
            "denominator": {"value": 1, "unit": "day", "system": terminology().systems["ucum"], "code": "d"},
        }
        return {"maxDosePerPeriod": [ratio] if version == "r5" else ratio}
    return {"maxDosePerAdministration": dose_quantity(cap, drug)}


def duration_fields(value: Q, number: str, unit: str) -> dict[str, Any]:
    """A duration as a Timing's number and UCUM unit of time (``24 h`` → 24, ``h``)."""
    names = list(value._units)
    if len(names) != 1 or value.dimensionality != DIM_TIME:
        raise ValueError(f"not a simple duration: {value}")
    return {number: json_quantity(value)["value"], unit: terminology().time_ucum(str(names[0]))}


def line_timing(line: DoseLine) -> dict[str, Any]:
    repeat: dict[str, Any] = {"count": line.doses if line.doses is not None else len(line.days)}
    if line.duration is not None:
        repeat.update(duration_fields(line.duration, "duration", "durationUnit"))
    if line.every is not None:
        repeat.update({"frequency": 1, **duration_fields(line.every, "period", "periodUnit")})
    return {"repeat": repeat}


def line_text(line: DoseLine, dose: Q | None, cap: Q | None) -> str:
    return schedule_text(line, dose, cap, missing="dose not defined")


def _entry(
    index: int, line: DoseLine, regimen: Regimen, contained: list[dict[str, Any]], version: FhirVersion
) -> dict[str, Any]:
    """One drug line: its days, text and ActivityDefinition; alternatives become a choice."""
    action: dict[str, Any] = {"id": f"action-{index}"}
    days = days_extension(regimen, line.days)
    if days:
        action["extension"] = days
    choices: list[tuple[str, Q | None, Q | None, Alternative | None]] = []
    if line.dose is not None:
        choices.append((f"ad-{index}", line.dose, line.cap, None))
    choices += [
        (f"ad-{index}-alt-{n}", alt.dose, alt.cap if alt.cap is not None else line.cap, alt)
        for n, alt in enumerate(line.alternatives, 1)
    ]
    for ident, dose, cap, _ in choices:
        contained.append(_activity(ident, line, dose, cap, regimen, version))
    action["textEquivalent"] = line_text(line, line.dose, line.cap)
    if len(choices) == 1:
        action["definitionCanonical"] = f"#{choices[0][0]}"
    else:
        action["selectionBehavior"] = "exactly-one"
        action["action"] = [
            {
                "id": f"action-{index}-{n}",
                "textEquivalent": (f"if {alt.when.describe()}: " if alt else "otherwise: ")
                + line_text(line, dose, cap),
                "definitionCanonical": f"#{ident}",
            }
            for n, (ident, dose, cap, alt) in enumerate(choices, 1)
        ]
    if line.sequence is not None:
        action["prefix"] = str(line.sequence)
    return action


def _activity(
    ident: str, line: DoseLine, dose: Q | None, cap: Q | None, regimen: Regimen, version: FhirVersion
) -> dict[str, Any]:
    dosage: dict[str, Any] = {
        "text": line_text(line, dose, cap),
        "timing": line_timing(line),
        "route": {**terminology().route_concept(line.route), "text": ROUTE_DISPLAY[line.route]},
    }
    if dose is not None:
        dosage["doseAndRate"] = [dose_and_rate(dose, line.drug, "ordered")]
    dosage.update(cap_fields(cap, line.drug, version))
    return {
        "resourceType": "ActivityDefinition",
        "id": ident,
        "status": STATUS[regimen.status],
        "kind": "MedicationRequest",
        "intent": "proposal",
        "productCodeableConcept": medication_concept(line.drug),
        "dosage": [dosage],
    }


def _indications(regimen: Regimen) -> str:
    parts = []
    for indication in regimen.indications:
        text = DIAGNOSIS_NAMES.get(indication.disease, indication.disease)
        if indication.status:
            text += f" ({', '.join(indication.status)})"
        if indication.note:
            text += f": {indication.note}"
        parts.append(text)
    return f"{regimen.name} ({regimen.title}) for " + "; ".join(parts)
