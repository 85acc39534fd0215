"""FHIR invariants, not only structure (issue 23 item 5): ``fhir.resources`` checks types and
cardinality, not the constraints (``ait-1``, ``obs-6``, ``tim-1`` …) a real validator
enforces; one of those (ait-1, an AllergyIntolerance without ``clinicalStatus``) was found by
Medplum's validator in every export. Here ``fhirpathpy`` evaluates the constraints of each
resource type we write, as the FHIR R4 (4.0.1) and R5 (5.0.0) resource definitions state them
(their "Constraints" tables), over every exported sample: order Bundles, patient Bundles and
PlanDefinitions, in both versions. Constraints that need type information FHIRPath-on-JSON
lacks (dom-3 contained references, ele-1 empty elements, qty-3) are checked in Python below.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from fhir_helpers import ORDER_SETS, order_set
from fhirpathpy import compile as fhirpath
from fhirpathpy.models import models

from chemo_orders.fhir.export import Refused, order_bundle_for, patient_bundle, plan_definition_for
from chemo_orders.orderset import to_json
from chemo_orders.patient import load_patient
from chemo_orders.regimen import all_regimens

ENTERED_IN_ERROR_AIT = (
    "verificationStatus.coding.where(system = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification'"
    " and code = 'entered-in-error')"
)
ENTERED_IN_ERROR_CON = (
    "verificationStatus.coding.where(system = 'http://terminology.hl7.org/CodeSystem/condition-ver-status'"
    " and code = 'entered-in-error')"
)
TIMING = {
    "tim-1": "all(duration.empty() or durationUnit.exists())",
    "tim-2": "all(period.empty() or periodUnit.exists())",
    "tim-4": "all(duration.exists() implies duration >= 0)",
    "tim-5": "all(period.exists() implies period >= 0)",
    "tim-6": "all(periodMax.empty() or period.exists())",
    "tim-7": "all(durationMax.empty() or duration.exists())",
    "tim-8": "all(countMax.empty() or count.exists())",
    "tim-10": "all(timeOfDay.empty() or when.empty())",
    "per-1": "boundsPeriod.all(start.empty() or end.empty() or start <= end)",
}
REPEATS = {
    "MedicationRequest": "dosageInstruction.timing.repeat",
    "RequestGroup": "repeat(action).timing.repeat",
    "RequestOrchestration": "repeat(action).timing.repeat",
    "PlanDefinition": "repeat(action).timing.repeat",
    "ActivityDefinition": "dosage.timing.repeat",
}
INVARIANTS: dict[str, dict[str, str]] = {
    "*": {
        "dom-2": "contained.contained.empty()",
        "dom-4": "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
        "dom-5": "contained.meta.security.empty()",
    },
    "AllergyIntolerance": {
        "ait-1": f"{ENTERED_IN_ERROR_AIT}.exists() or clinicalStatus.exists()",
        "ait-2": f"{ENTERED_IN_ERROR_AIT}.empty() or clinicalStatus.empty()",
    },
    "Observation": {
        "obs-3": "referenceRange.all(low.exists() or high.exists() or text.exists())",
        "obs-6": "dataAbsentReason.empty() or value.empty()",
        "obs-7": "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()",
    },
    "Condition": {
        "con-3": f"clinicalStatus.exists() or {ENTERED_IN_ERROR_CON}.exists()"
        " or category.select($this='problem-list-item').empty()",
        "con-4": "abatement.empty() or clinicalStatus.coding.where(system='http://terminology.hl7.org/CodeSystem/"
        "condition-clinical' and (code='resolved' or code='remission' or code='inactive')).exists()",
        "con-5": f"{ENTERED_IN_ERROR_CON}.empty() or clinicalStatus.empty()",
    },
    "RequestGroup": {"rqg-1": "repeat(action).all(resource.exists() != action.exists())"},
    "RequestOrchestration": {"rqg-1": "repeat(action).all(resource.exists() != action.exists())"},
    "Bundle": {
        "bdl-1": "total.empty() or (type = 'searchset') or (type = 'history')",
        "bdl-2": "entry.search.empty() or (type = 'searchset')",
        "bdl-3": "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction'"
        " or %resource.type = 'history'))",
        "bdl-4": "entry.all(response.exists() = (%resource.type = 'batch-response'"
        " or %resource.type = 'transaction-response' or %resource.type = 'history'))",
        "bdl-5": "entry.all(resource.exists() or request.exists() or response.exists())",
        "bdl-7": "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&iif(resource.meta.versionId"
        ".exists(), resource.meta.versionId, '')).isDistinct()",
        "bdl-8": "entry.all(fullUrl.contains('/_history/').not())",
    },
}
MODEL = {"r4": "r4", "r5": "r5"}


@cache
def compiled(expression: str, version: str) -> Any:
    return fhirpath(expression, models[MODEL[version]])


def violations(resource: dict[str, Any], version: str) -> list[str]:
    """The keys of the invariants ``resource`` breaks, with where it is."""
    kind = resource["resourceType"]
    checks = {**INVARIANTS["*"], **INVARIANTS.get(kind, {})}
    if kind in REPEATS:
        checks.update({key: f"{REPEATS[kind]}.{expr}" for key, expr in TIMING.items()})
    context = {"resource": resource, "rootResource": resource}
    broken = [f"{kind} {key}" for key, expr in checks.items() if compiled(expr, version)(resource, context) != [True]]
    return broken + _python_checks(resource, kind)


def _python_checks(resource: dict[str, Any], kind: str) -> list[str]:
    """dom-3 (every contained resource is referenced), ele-1 (no empty element), qty-3
    (a Quantity with a code has a system)."""
    broken = []
    ids = {c["id"] for c in resource.get("contained", [])}
    texts = _strings(resource)
    if any(f"#{i}" not in texts for i in ids):
        broken.append(f"{kind} dom-3")
    broken += [f"{kind} ele-1 at {where}" for where in _empty(resource, kind)]
    broken += [f"{kind} qty-3 at {where}" for where in _uncoded(resource, kind)]
    return broken


def _strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {s for v in value.values() for s in _strings(v)}
    if isinstance(value, list):
        return {s for v in value for s in _strings(v)}
    return {value} if isinstance(value, str) else set()


def _empty(value: Any, where: str) -> list[str]:
    if value in ({}, [], "", None):
        return [where]
    if isinstance(value, dict):
        return [w for k, v in value.items() for w in _empty(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [w for i, v in enumerate(value) for w in _empty(v, f"{where}[{i}]")]
    return []


def _uncoded(value: Any, where: str) -> list[str]:
    if isinstance(value, dict):
        here = (
            [where] if isinstance(value.get("value"), int | float) and "code" in value and "system" not in value else []
        )
        return here + [w for k, v in value.items() for w in _uncoded(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [w for i, v in enumerate(value) for w in _uncoded(v, f"{where}[{i}]")]
    return []


def bundle_violations(bundle: dict[str, Any], version: str) -> list[str]:
    found = violations(bundle, version)
    for entry in bundle["entry"]:
        found += violations(entry["resource"], version)
    return found


def exported() -> list[tuple[str, dict[str, Any], str]]:
    """(name, resource, version) for every export of the samples: order Bundles where the
    order set is exportable, patient Bundles for every sample patient."""
    found = []
    for path, regimen, cycle in ORDER_SETS:
        built = order_set(path, regimen, cycle)
        for version in ("r4", "r5"):
            found.append((f"patient {path.stem} {version}", patient_bundle(load_patient(path), version), version))
            if to_json(built)["status"] == "ok":
                found.append((f"order {path.stem} {regimen} {version}", order_bundle_for(built, version), version))
    return found


EXPORTED = exported()


@pytest.mark.parametrize(("name", "bundle", "version"), EXPORTED, ids=[e[0] for e in EXPORTED])
def test_exported_bundles_satisfy_the_invariants(name: str, bundle: dict[str, Any], version: str) -> None:
    assert bundle_violations(bundle, version) == [], name


def test_the_samples_include_order_bundles_in_both_versions() -> None:
    orders = [name for name, _, _ in EXPORTED if name.startswith("order")]
    assert len(orders) >= 12 and any(n.endswith("r4") for n in orders) and any(n.endswith("r5") for n in orders)


@pytest.mark.parametrize("version", ["r4", "r5"])
def test_every_plan_definition_satisfies_the_invariants(version: str) -> None:
    broken = {}
    for regimen in all_regimens():
        try:
            plan = plan_definition_for(regimen, version)  # type: ignore[arg-type]
        except Refused:  # a reference regimen is never a template
            continue
        found = violations(plan, version) + [v for c in plan["contained"] for v in violations(c, version)]
        if found:
            broken[regimen.id] = found
    assert broken == {}


@pytest.mark.parametrize(
    ("resource", "key"),
    [
        ({"resourceType": "AllergyIntolerance", "patient": {"reference": "p"}, "code": {"text": "x"}}, "ait-1"),
        (
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "valueQuantity": {"value": 1, "code": "kg"},
                "dataAbsentReason": {"text": "error"},
            },
            "obs-6",
        ),
        (
            {
                "resourceType": "MedicationRequest",
                "status": "draft",
                "intent": "proposal",
                "subject": {"reference": "p"},
                "medicationCodeableConcept": {"text": "x"},
                "dosageInstruction": [{"timing": {"repeat": {"duration": 30}}}],
            },
            "tim-1",
        ),
    ],
)
@pytest.mark.parametrize("version", ["r4", "r5"])
def test_the_checks_catch_a_broken_resource(resource: dict[str, Any], key: str, version: str) -> None:
    """The evaluator is not vacuous: each check fails on a resource that breaks it."""
    assert any(key in v for v in violations(resource, version))
