"""The FHIR REST face of ``serve`` (design §11.7): the CapabilityStatement, the library's
PlanDefinitions, and ``PlanDefinition/ID/$apply``.

Pure functions from a request (path parameters, the raw body, the FHIR version asked for) to
an :class:`Answer` (HTTP status and a JSON resource), so the route handlers stay thin and
the logic is tested without a server. ``$apply`` reads its Parameters as R5 defines them
(``subject`` a Patient reference, ``data`` a Bundle with that Patient and its
Observations), imports the Bundle with the same importer ``calc`` uses on a ``.json``
patient file, and asks the engine through the ``calculate`` it is handed (the web layer hands
it :func:`chemo_orders.service.calculate`): the doses are ``calc --json``'s. A blocked or
held calculation is an OperationOutcome (422) with one issue per finding, because an EHR
must not receive a RequestOrchestration it could sign.

Every problem with the request is an OperationOutcome naming the element, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from .. import DISCLAIMER, __version__
from ..errors import InputError
from .terminology import CANONICAL_BASE, RULE_SYSTEM
from .validation import FhirVersion

if TYPE_CHECKING:
    from ..orderset import OrderSet
    from ..regimen import Regimen

# The engine's one door, ``service.calculate``, as the interface hands it in (patient-file
# fields, regimen id, cycle, date): fhir/ sits below the service layer and never imports it.
Calculate = Callable[[dict[str, Any], str, "int | None", "dt.date | None"], "OrderSet"]

FHIR_JSON = "application/fhir+json"
FHIR_RELEASE = {"r4": "4.0.1", "r5": "5.0.0"}
# Parameters of R5's $apply this server accepts and ignores: it holds no record of
# encounters, practitioners or settings, and reads every input from ``data``.
IGNORED_PARAMETERS = frozenset(
    {
        "encounter",
        "practitioner",
        "organization",
        "userType",
        "userLanguage",
        "userTaskContext",
        "setting",
        "settingContext",
        "useServerData",
    }
)
# Ours (documented in the CapabilityStatement): R5's $apply has no cycle and no date.
EXTENSION_PARAMETERS = frozenset({"cycle", "date"})
APPLY_DOCUMENTATION = (
    "R5 `$apply` with `subject` (valueString or valueReference: the Patient in `data`) and `data` "
    "(resource: a Bundle holding that Patient, its Observations, its diagnosis Condition and any "
    "AllergyIntolerance). Extension parameters of this server: `cycle` (valueInteger or "
    "valuePositiveInt, default the regimen's first cycle) and `date` (valueDate, the calculation "
    "date, default today). `encounter`, `practitioner`, `organization`, `userType`, `userLanguage`, "
    "`userTaskContext`, `setting`, `settingContext` and `useServerData` are accepted and ignored. "
    "Returns a Bundle whose first entry is the RequestOrchestration (R5) or RequestGroup (R4) "
    "with one MedicationRequest per order; a blocked or held calculation returns 422 with an "
    f"OperationOutcome, one issue per finding coded in {RULE_SYSTEM}. {DISCLAIMER}"
)


@dataclass(frozen=True)
class Answer:
    """An HTTP status and the JSON resource to send."""

    status: int
    body: dict[str, Any]


def fhir_version(accept: str) -> FhirVersion:
    """R5 when the client asks for it with the FHIR mime-type parameter
    (``application/fhir+json; fhirVersion=5.0``), else R4, which most EHRs speak."""
    found = re.search(r"fhirVersion\s*=\s*\"?(\d)", accept)
    return "r5" if found is not None and found.group(1) == "5" else "r4"


def outcome(status: int, issues: list[dict[str, Any]]) -> Answer:
    """An OperationOutcome; the disclaimer rides along as an information issue."""
    notice = {"severity": "information", "code": "informational", "diagnostics": DISCLAIMER}
    return Answer(status, {"resourceType": "OperationOutcome", "issue": [*issues, notice]})


def problem(status: int, code: str, element: str, message: str) -> Answer:
    """A one-issue OperationOutcome naming the element at fault."""
    issue = {"severity": "error", "code": code, "diagnostics": f"{element}: {message}", "expression": [element]}
    return outcome(status, [issue])


def input_problem(error: InputError, element: str) -> Answer:
    """422 naming the element; 400 when the body is not JSON at all."""
    if element == "(body)":
        return problem(400, "structure", element, error.problem)
    return problem(422, "invalid", element, f"{error.problem} (got '{_excerpt(error.value)}')")


def capability_statement(version: FhirVersion) -> dict[str, Any]:
    """What this server does: PlanDefinition read and search, and ``$apply``, JSON only."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": dt.date.today().isoformat(),
        "publisher": "chemo-orders",
        "kind": "instance",
        "software": {"name": "chemo-orders", "version": __version__},
        "implementation": {"description": f"chemo-orders FHIR services. {DISCLAIMER}"},
        "fhirVersion": FHIR_RELEASE[version],
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "R4 by default; send `Accept: application/fhir+json; fhirVersion=5.0` for R5.",
                "security": {"description": "Authorization: Bearer TOKEN (chemo-orders users token NAME)."},
                "resource": [
                    {
                        "type": "PlanDefinition",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "operation": [
                            {
                                "name": "apply",
                                "definition": "http://hl7.org/fhir/OperationDefinition/PlanDefinition-apply",
                                "documentation": APPLY_DOCUMENTATION,
                            }
                        ],
                    }
                ],
            }
        ],
    }


@cache
def search(version: FhirVersion) -> dict[str, Any]:
    """Every active regimen as a PlanDefinition, in a searchset Bundle (the library is read
    once per process, as ``all_regimens`` is)."""
    from ..regimen import all_regimens
    from .export import plan_definition_for

    entries = [
        {
            "fullUrl": f"{CANONICAL_BASE}/PlanDefinition/{regimen.id}",
            "resource": plan_definition_for(regimen, version),
            "search": {"mode": "match"},
        }
        for regimen in all_regimens()
        if regimen.status == "active"
    ]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def read(regimen_id: str, version: FhirVersion) -> Answer:
    """One PlanDefinition; 404 for an id the library lacks or a reference-only regimen."""
    from .export import Refused, plan_definition_for

    regimen = library_regimen(regimen_id)
    if regimen is None:
        return problem(404, "not-found", "PlanDefinition.id", f"no regimen {_excerpt(regimen_id)!r} in the library")
    try:
        return Answer(200, plan_definition_for(regimen, version))
    except Refused as refused:
        return problem(404, "not-found", "PlanDefinition.id", str(refused))


def apply(regimen_id: str, raw: bytes, version: FhirVersion, calculate: Calculate) -> Answer:
    """``$apply``: the order Bundle, or an OperationOutcome saying why not."""
    from .export import Refused, order_bundle_for

    regimen = library_regimen(regimen_id)
    if regimen is None or regimen.status == "reference":
        return problem(404, "not-found", "PlanDefinition.id", f"no orderable regimen {_excerpt(regimen_id)!r}")
    elements: dict[str, str] = {}  # patient-file field → the FHIR element it came from
    try:
        request = _apply_request(parse_body(raw, "Parameters"))
        patient, elements = _patient(request.data, request.subject)
        order_set = calculate(patient, regimen.id, request.cycle, request.on)
    except InputError as error:
        return input_problem(error, _element(error, elements))
    if order_set.stopped:
        return outcome(422, [finding_issue(f.as_json(), f in order_set.blocking) for f in order_set.findings])
    try:
        bundle = order_bundle_for(order_set, version)
    except Refused as refused:  # order_set.stopped said otherwise: never send a partial Bundle
        return problem(422, "business-rule", "PlanDefinition", str(refused))
    group = [e for e in bundle["entry"] if e["resource"]["resourceType"] in ("RequestOrchestration", "RequestGroup")]
    bundle["entry"] = group + [e for e in bundle["entry"] if e not in group]  # R5: the request first
    return Answer(200, bundle)


def finding_issue(finding: dict[str, Any], stops: bool) -> dict[str, Any]:
    """One engine finding as an OperationOutcome issue coded with its rule."""
    severity = "error" if stops else "warning" if finding["severity"] == "warn" else "information"
    return {
        "severity": severity,
        "code": "business-rule" if stops else "informational",
        "details": {
            "coding": [{"system": RULE_SYSTEM, "code": finding["rule"], "display": finding["name"]}],
            "text": f"{finding['rule']} ({finding['severity']}): {finding['message']}",
        },
        "diagnostics": finding["message"],
    }


def parse_body(raw: bytes, resource_type: str | None) -> dict[str, Any]:
    """The request body as a JSON object, read by the bounded loader that reads patient files
    (nesting and size bounded, duplicate keys, NaN and infinities refused)."""
    from ..loader import decode, parse_json

    data = parse_json(decode(raw, "(body)", "request body"), "(body)", "request body")
    if not isinstance(data, dict):
        raise InputError("(body)", type(data).__name__, "expected a JSON object")
    if resource_type is not None and data.get("resourceType") != resource_type:
        raise InputError("resourceType", data.get("resourceType", ""), f"expected {resource_type}")
    return data


@dataclass(frozen=True)
class ApplyRequest:
    subject: str
    data: dict[str, Any]
    cycle: int | None
    on: dt.date | None


def _apply_request(parameters: dict[str, Any]) -> ApplyRequest:
    """The Parameters of ``$apply``: each named once; unknown names refused, naming them."""
    listed = parameters.get("parameter")
    if not isinstance(listed, list):
        raise InputError("Parameters.parameter", "", "required: a list of parameters")
    found: dict[str, dict[str, Any]] = {}
    for index, parameter in enumerate(listed):
        where = f"Parameters.parameter[{index}]"
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if not isinstance(name, str) or not isinstance(parameter, dict):
            raise InputError(f"{where}.name", "", "required: each parameter has a name")
        if name in IGNORED_PARAMETERS:
            continue
        if name not in {"subject", "data"} | EXTENSION_PARAMETERS:
            raise InputError(f"{where}.name", name, "unknown parameter of $apply (see the CapabilityStatement)")
        if name in found:
            raise InputError(f"{where}.name", name, "given more than once")
        found[name] = parameter
    return ApplyRequest(
        _subject(found.get("subject")), _data(found.get("data")), _cycle(found.get("cycle")), _date(found.get("date"))
    )


def _subject(parameter: dict[str, Any] | None) -> str:
    if parameter is None:
        raise InputError("subject", "", "required: the Patient reference (valueString or valueReference)")
    reference = parameter.get("valueReference")
    value = reference.get("reference") if isinstance(reference, dict) else parameter.get("valueString")
    if not isinstance(value, str) or not value.strip():
        raise InputError("subject", "", "expected valueString or valueReference.reference naming the Patient")
    return value.strip()


def _data(parameter: dict[str, Any] | None) -> dict[str, Any]:
    resource = parameter.get("resource") if parameter is not None else None
    if not isinstance(resource, dict) or resource.get("resourceType") != "Bundle":
        raise InputError("data", "", "required: resource, a Bundle holding the Patient and its Observations")
    return resource


def _cycle(parameter: dict[str, Any] | None) -> int | None:
    if parameter is None:
        return None
    value = parameter.get("valueInteger", parameter.get("valuePositiveInt"))
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError("cycle", value, "expected valueInteger, a whole number from 1")
    return value


def _date(parameter: dict[str, Any] | None) -> dt.date | None:
    if parameter is None:
        return None
    value = parameter.get("valueDate")
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad_date(value)
    except ValueError:
        return _bad_date(value)


def _bad_date(value: object) -> dt.date:
    raise InputError("date", value, "expected valueDate YYYY-MM-DD")


def _patient(bundle: dict[str, Any], subject: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The patient-file fields of ``bundle`` (validated, errors naming the FHIR element), after
    checking that ``subject`` is the Bundle's Patient: never calculate for someone else."""
    from .importer import patient_data, patient_from_bundle

    check_resource_types(bundle, "data")
    patient_from_bundle(bundle, "")  # the importer's checks, with its FHIR element names
    data, elements = patient_data(bundle)
    if subject not in patient_refs(bundle):
        raise InputError("subject", subject, "not the Patient in data (its fullUrl or Patient/id)")
    return data, elements


def check_resource_types(bundle: dict[str, Any], element: str) -> None:
    """Every entry's ``resourceType`` a string, before the FHIR models see the Bundle (they
    fail with a TypeError, not a validation error, on anything else)."""
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InputError(f"{element}.entry", "", "expected a list")
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and not isinstance(resource.get("resourceType"), str):
            raise InputError(f"{element}.entry[{index}].resource.resourceType", "", "required: a resource type")


def patient_refs(bundle: dict[str, Any]) -> set[str]:
    """Every way a reference may name the Bundle's Patients: fullUrl and ``Patient/id``."""
    refs: set[str] = set()
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
            refs.update(x for x in (entry.get("fullUrl"), f"Patient/{resource.get('id')}") if isinstance(x, str))
    return refs


def _element(error: InputError, elements: dict[str, str]) -> str:
    """The request's own name for what an error is about: a Parameters element, or the FHIR
    element of ``data`` a patient-file field came from."""
    name = error.field.removeprefix("--")
    if error.source == "patient":
        key = max((k for k in elements if name == k or name.startswith(f"{k}.")), key=len, default=None)
        return f"data.{elements[key]}{name.removeprefix(key)}" if key else f"data ({name})"
    if name.startswith(("Observation", "Patient", "Condition", "AllergyIntolerance", "Bundle")):
        return f"data.{name}"
    return name


def library_regimen(regimen_id: str) -> Regimen | None:
    """The library's regimen with this id, or None (``load_regimen`` caches the known ones,
    so a request does not list the regimen folder again)."""
    from ..regimen import load_regimen

    try:
        return load_regimen(regimen_id)
    except InputError:
        return None


def _excerpt(value: object) -> str:
    from ..errors import excerpt

    return excerpt(value)
