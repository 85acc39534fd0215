"""Reading FHIR JSON elements defensively: shared by the importer's modules.

An EHR's Bundle is untrusted input: any element may be missing, of the wrong type or empty,
and each helper answers with a value or an InputError naming the element, never a crash.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..errors import InputError


def codings(concept: object) -> list[tuple[str, str]]:
    """(system, code) of each coding of a CodeableConcept, tolerating absent parts."""
    found = concept.get("coding") if isinstance(concept, dict) else None
    return [(str(c.get("system")), str(c.get("code"))) for c in found or [] if isinstance(c, dict)]


def status_code(concept: object) -> str | None:
    return next((code for _, code in codings(concept)), None)


def text(concept: object, element: str) -> str:
    """A CodeableConcept as words: its text, else the first coding's display."""
    if isinstance(concept, dict):
        if concept.get("text"):
            return str(concept["text"])
        display = next(
            (c.get("display") for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("display")), None
        )
        if display:
            return str(display)
    raise InputError(element, "", "required: a text or a coding with a display")


def check_subject(reference: object, refs: set[str], element: str) -> None:
    """Every resource must be about the Bundle's one Patient."""
    target = reference.get("reference") if isinstance(reference, dict) else None
    if target not in refs:
        problem = "required: a reference to the Bundle's Patient" if target is None else "not the Bundle's Patient"
        raise InputError(element, target or "", problem)


def date(value: object, element: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InputError(element, value, "expected a date YYYY-MM-DD") from None


def instant(value: object, element: str) -> dt.datetime:
    """A FHIR date or dateTime as a naive UTC datetime (a date alone is its midnight), so
    that observations order by time and two results at the same instant can be compared."""
    textual = str(value)
    try:
        if len(textual) <= 10:
            return dt.datetime.combine(dt.date.fromisoformat(textual), dt.time())
        moment = dt.datetime.fromisoformat(textual)
    except ValueError:
        raise InputError(element, value, "expected a date or dateTime (YYYY-MM-DD[Thh:mm:ss+zz:zz])") from None
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def medication(resource: dict[str, Any]) -> object:
    """The medication CodeableConcept of an R5 (``medication.concept``) or R4 resource."""
    concept = resource.get("medicationCodeableConcept")
    if concept is None and isinstance(resource.get("medication"), dict):
        concept = resource["medication"].get("concept")
    return concept


def source_reference(url: str, resource: dict[str, Any]) -> str | None:
    """How the source record names a resource: ``Type/id``, else an absolute fullUrl; None
    for a Bundle-local ``urn:uuid`` (meaningless outside the Bundle)."""
    if isinstance(resource.get("id"), str) and resource["id"]:
        return f"{resource.get('resourceType')}/{resource['id']}"
    return url if url.startswith(("http://", "https://")) else None
