"""Observations in: which result of each kind is used, and every reason to refuse one.

A dose is computed from these values, so the rules are strict (issue 23):

- only ``final``, ``amended`` or ``corrected`` results; of each kind the latest by
  ``effective[x]`` wins, and two results at the same instant with different values are a
  contradiction the EHR must resolve (exit 2), never a coin toss;
- a result after the calculation date, a ``comparator`` (``< 0.3 mg/dL`` is not 0.3), a
  ``dataAbsentReason`` beside a value (FHIR obs-6), a unit text that disagrees with its UCUM
  code (``unit: lb``, ``code: kg``) are refused naming the element (``Observation[3]…``);
- a result that names a marker we read (CD19/CD20/CD22, MRD, Ph, TPMT, NUDT15, HBsAg) under a
  code we do not read is refused with the code to use: read silently as "not given", a CD20
  of 40 % once blocked a correct order and could as well let a wrong one through;
- any other result we do not read that is newer than every result used becomes a note that
  prints with the calculation (``source_notes``): a newer lab the EHR thinks we saw.

Weights: the latest is ``weight``; an explicit ``previous-dosing-weight`` (local code) is
``previous_weight``; otherwise the weight at or before the last prior course, or else the one
before the latest, is ``previous_weight`` so that WGT001 sees an 85 → 72 kg loss.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..patient import Labs
from ..quantities import parse_quantity
from .elements import check_subject, codings, date, instant, source_reference, text
from .terminology import MARKER_SYSTEM, OBSERVATION_SYSTEM, terminology

FINAL = {"final", "amended", "corrected"}
DERIVED = {"bsa", "crcl"}  # exported for the EHR, recalculated here
VALUE_KEYS = (
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
    "valueAttachment",
    "valueReference",
)
# What a marker result is called in free text: such a result under a code we do not read is refused.
MARKER_WORDS = re.compile(
    r"\bCD ?(19|20|22)\b|\bMRD\b|minimal residual|measurable residual|philadelphia|"
    r"BCR.?ABL|\bTPMT\b|\bNUDT15\b|HBsAg|hepatitis B (virus )?surface",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Reading:
    field: str
    value: Any
    at: dt.datetime | None  # in UTC: the order of results
    day: dt.date | None  # the calendar date as written (local): what dates are compared with
    element: str
    source: str | None = None  # the source record's reference to the Observation


@dataclass(frozen=True)
class Observed:
    """The results chosen, per patient-file field, and what else the Bundle said."""

    chosen: dict[str, Reading]
    weights: list[Reading]
    notes: list[str]
    latest: dt.date | None


def read_observations(
    observations: list[tuple[str, dict[str, Any]]], refs: set[str], evidence: set[str], on: dt.date
) -> Observed:
    candidates: dict[str, list[Reading]] = {}
    unread: list[tuple[dt.datetime, str]] = []
    for index, (url, observation) in enumerate(observations):
        where = f"Observation[{index}]"
        if observation.get("status") not in FINAL:
            continue
        values = [key for key in VALUE_KEYS if key in observation]
        if "dataAbsentReason" in observation:
            if values:
                raise InputError(f"{where}.dataAbsentReason", values[0], "given together with a value (FHIR obs-6)")
            continue
        at, day = _effective(observation, where)
        if day is not None and day > on:
            raise InputError(f"{where}.effective", day.isoformat(), f"after the calculation date {on.isoformat()}")
        if _derived(observation):
            continue
        cited = url in evidence or f"Observation/{observation.get('id')}" in evidence
        found = _read(observation, refs, cited, where)
        if not found:
            _unread(observation, where, at, unread)
        for field, value, element in found:
            reading = Reading(field, value, at, day, element, source_reference(url, observation))
            candidates.setdefault(field, []).append(reading)
    chosen = {field: _latest(field, found) for field, found in candidates.items()}
    used = [r.at for r in chosen.values() if r.at is not None]
    newest = max(used, default=None)
    notes = [f"{what} was not read" for at, what in unread if newest is not None and at > newest]
    dates = [r.day for found in candidates.values() for r in found if r.day is not None]
    return Observed(chosen, candidates.get("weight", []), notes, max(dates, default=None))


def previous_weight(observed: Observed, last_course: dt.date | None) -> Reading | None:
    """The weight the last course was dosed with, as the Observation history tells it."""
    if "previous_weight" in observed.chosen:
        return observed.chosen["previous_weight"]
    current = observed.chosen.get("weight")
    if current is None or current.at is None:
        return None
    older = sorted((w for w in observed.weights if w.at is not None and w.at < current.at), key=lambda w: w.at or 0)
    at_course = [w for w in older if last_course is not None and w.day is not None and w.day <= last_course]
    chosen = at_course or older
    return chosen[-1] if chosen else None


def _derived(observation: dict[str, Any]) -> bool:
    """BSA and creatinine clearance, as we export them: recalculated, so never read."""
    terms = terminology()
    loinc = [code for system, code in codings(observation.get("code")) if system == terms.systems["loinc"]]
    return any(terms.field_for_loinc(code) in DERIVED for code in loinc)


def _latest(field: str, found: list[Reading]) -> Reading:
    latest = max((r.at for r in found if r.at is not None), default=None)
    same = [r for r in found if r.at == latest]
    if len({str(r.value) for r in same}) > 1:
        values = " / ".join(f"{r.value} ({r.element})" for r in same)
        raise InputError(f"Observation[{field}]", values, "different values on the same date: which one is right?")
    return same[0]


def _read(observation: dict[str, Any], refs: set[str], cited: bool, where: str) -> list[tuple[str, Any, str]]:
    return (
        _measurement(observation, refs, cited, where)
        or _marker(observation, refs, where)
        or _local(observation, refs, where)
        or _pregnancy(observation, refs)
    )


def _unread(
    observation: dict[str, Any], where: str, at: dt.datetime | None, unread: list[tuple[dt.datetime, str]]
) -> None:
    concept = observation.get("code")
    words = " ".join(
        [str(concept.get("text", ""))]
        + [str(c.get("display", "")) for c in concept.get("coding") or [] if isinstance(c, dict)]
        if isinstance(concept, dict)
        else []
    )
    named = ", ".join(f"{system}|{code}" for system, code in codings(concept)) or "no coding"
    if MARKER_WORDS.search(words):
        raise InputError(
            f"{where}.code",
            f"{words.strip()} ({named})",
            f"a marker under a code this importer does not read: send it coded in {MARKER_SYSTEM} "
            f"({', '.join(m.code for m in terminology().markers.values())}) or {OBSERVATION_SYSTEM} (hbsag)",
        )
    if at is not None:
        unread.append(
            (at, f"{where} {words.strip() or named} ({named}) of {at.date().isoformat()}, newer than the results used,")
        )


def _measurement(observation: dict[str, Any], refs: set[str], cited: bool, where: str) -> list[tuple[str, Any, str]]:
    """A LOINC-coded measurement as (field, ``"168 cm"``, element), with the laboratory's
    upper limit of normal (``referenceRange.high``) where the patient file has one; [] if the
    Observation is not one we read. A WBC the diagnosis cites is the WBC at diagnosis."""
    terms = terminology()
    loinc = [code for system, code in codings(observation.get("code")) if system == terms.systems["loinc"]]
    key = next((f for f in map(terms.field_for_loinc, loinc) if f is not None), None)
    if key is None:
        return []
    key = "labs.wbc_at_diagnosis" if key == "labs.wbc" and cited else key
    field = key.removesuffix("_molar")
    element = f"Observation[{field}]"
    check_subject(observation.get("subject"), refs, f"{element}.subject")
    kind = terms.loinc[key].kind
    if kind == "score":  # ECOG: an integer (mCODE ECOGPerformanceStatus)
        return [(field, observation.get("valueInteger"), f"{element}.valueInteger")]
    quantity = ucum_quantity(observation, element, where)
    if kind == "percent":
        return [(field, percent(quantity, element), f"{element}.valueQuantity")]
    value = terms.patient_value(quantity.get("value"), quantity.get("code"), kind, f"{element}.valueQuantity")
    unit_agrees(quantity, kind, where)
    found = [(field, value, f"{element}.valueQuantity")]
    limit_field = f"{field}_uln"
    ranges = [r for r in observation.get("referenceRange") or [] if isinstance(r, dict) and "high" in r]
    if ranges and field.startswith("labs.") and limit_field.removeprefix("labs.") in Labs.model_fields:
        high, at = ranges[0]["high"], f"{element}.referenceRange.high"
        if not isinstance(high, dict) or high.get("system") != terms.systems["ucum"]:
            raise InputError(at, str(high), "expected a UCUM quantity")
        found.append((limit_field, terms.patient_value(high.get("value"), high.get("code"), kind, at), at))
    return found


def _marker(observation: dict[str, Any], refs: set[str], where: str) -> list[tuple[str, Any, str]]:
    """A marker in the local code system: a percentage, or a coded value (Ph, TPMT, NUDT15)."""
    codes = [code for system, code in codings(observation.get("code")) if system == MARKER_SYSTEM]
    name = next((n for n, m in terminology().markers.items() if m.code in codes), None)
    if name is None:
        return []
    field = f"markers.{name}"
    element = f"Observation[{field}]"
    check_subject(observation.get("subject"), refs, f"{element}.subject")
    if "valueCodeableConcept" in observation:
        return [(field, _coded(observation, MARKER_SYSTEM, element), f"{element}.valueCodeableConcept")]
    return [(field, percent(ucum_quantity(observation, element, where), element), f"{element}.valueQuantity")]


def _local(observation: dict[str, Any], refs: set[str], where: str) -> list[tuple[str, Any, str]]:
    """A field of the local observation code system: measured GFR, previous dosing weight, HBsAg."""
    terms = terminology()
    codes = [code for system, code in codings(observation.get("code")) if system == OBSERVATION_SYSTEM]
    field = next((f for f, local in terms.local_observations.items() if local.code in codes), None)
    if field is None:
        return []
    element = f"Observation[{field}]"
    check_subject(observation.get("subject"), refs, f"{element}.subject")
    kind = terms.local_observations[field].kind
    if kind == "coded":
        return [(field, _coded(observation, OBSERVATION_SYSTEM, element), f"{element}.valueCodeableConcept")]
    quantity = ucum_quantity(observation, element, where)
    value = terms.patient_value(quantity.get("value"), quantity.get("code"), kind, f"{element}.valueQuantity")
    unit_agrees(quantity, kind, where)
    return [(field, value, f"{element}.valueQuantity")]


def _pregnancy(observation: dict[str, Any], refs: set[str]) -> list[tuple[str, Any, str]]:
    """LOINC 82810-3 with SNOMED CT pregnant / not pregnant; any other value is refused."""
    terms = terminology()
    preg = terms.pregnancy
    if (terms.systems["loinc"], preg.code) not in codings(observation.get("code")):
        return []
    element = "Observation[pregnant]"
    check_subject(observation.get("subject"), refs, f"{element}.subject")
    values = {
        code for system, code in codings(observation.get("valueCodeableConcept")) if system == terms.systems["snomed"]
    }
    answers = {preg.pregnant: True, preg.not_pregnant: False}
    known = [answers[code] for code in values if code in answers]
    if len(known) != 1:
        raise InputError(
            f"{element}.valueCodeableConcept",
            sorted(values),
            f"expected SNOMED CT {preg.pregnant} or {preg.not_pregnant}",
        )
    return [("pregnant", known[0], f"{element}.valueCodeableConcept")]


def _coded(observation: dict[str, Any], system: str, element: str) -> str:
    concept = observation.get("valueCodeableConcept")
    coded = [code for s, code in codings(concept) if s == system]
    return coded[0] if coded else text(concept, f"{element}.valueCodeableConcept")


def percent(quantity: dict[str, Any], element: str) -> Any:
    if quantity.get("code") != "%":
        raise InputError(f"{element}.valueQuantity.code", quantity.get("code", ""), "expected UCUM %")
    number = quantity.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise InputError(f"{element}.valueQuantity.value", number, "expected a number")
    return number


def ucum_quantity(observation: dict[str, Any], element: str, where: str) -> dict[str, Any]:
    """The valueQuantity of a result used for dosing: UCUM, and exact (no comparator)."""
    quantity = observation.get("valueQuantity")
    if not isinstance(quantity, dict):
        raise InputError(f"{element}.valueQuantity", "", "required: the measurement as a quantity with a UCUM code")
    if "comparator" in quantity:
        raise InputError(
            f"{where}.valueQuantity.comparator",
            quantity["comparator"],
            "a bound, not a measurement: a dose cannot be calculated from it",
        )
    if quantity.get("system") != terminology().systems["ucum"]:
        raise InputError(f"{element}.valueQuantity.system", quantity.get("system", ""), "expected UCUM")
    return quantity


def unit_agrees(quantity: dict[str, Any], kind: str, where: str) -> None:
    """The human-readable ``unit`` must say the same as the UCUM ``code`` (``lb`` is not kg)."""
    unit, code = quantity.get("unit"), quantity.get("code")
    ours = terminology().units[kind].get(str(code))
    if unit is None or ours is None or unit in (code, ours):
        return
    if not any(_same_unit(f"1 {text}", ours) for text in (unit, f"x{unit}")):  # 10^9/L is x10^9/L
        raise InputError(f"{where}.valueQuantity.unit", unit, f"disagrees with the UCUM code {code} ({ours})")


def _same_unit(text: str, ours: str) -> bool:
    try:
        ratio = parse_quantity(text, "unit") / parse_quantity(f"1 {ours}", "unit")
        return abs(float(ratio.to("dimensionless").magnitude) - 1) < 1e-9
    except Exception:  # unparsable, or pint's DimensionalityError: not the same unit
        return False


def _effective(observation: dict[str, Any], where: str) -> tuple[dt.datetime | None, dt.date | None]:
    """(instant in UTC, calendar date as written) of ``effective[x]``; a period by its start."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        if observation.get(key):
            return instant(observation[key], f"{where}.{key}"), date(observation[key], f"{where}.{key}")
    period = observation.get("effectivePeriod")
    if isinstance(period, dict) and period.get("start"):
        where = f"{where}.effectivePeriod.start"
        return instant(period["start"], where), date(period["start"], where)
    return None, None
