"""Regimen files (``regimens/*.yaml``): the model, its validation, and where files are found.

A regimen file is the thing a P&T committee reviews, so the model is strict: unknown keys,
unit strings of the wrong kind, days outside the cycle and source keys that point nowhere
are all refused with the field path. Doses are parsed into pint quantities once, here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from .diagnosis import FAMILIES, LINEAGE_UNKNOWN, DiseaseStatus, covered, parse_diagnosis
from .errors import InputError, Problems
from .loader import read_yaml
from .models import Duration, Frozen, Mass, validate
from .patient import Patient
from .quantities import parse_quantity
from .units import (
    DIM_ACTIVITY,
    DIM_AUC,
    DIM_LENGTH,
    DIM_MASS,
    Q,
    QuantityClass,
    format_quantity,
    quantity,
    time_power,
    unit_powers,
    ureg,
)

Basis = Literal["bsa", "weight", "flat", "auc"]
Route = Literal["IV", "PO", "SC", "IM", "intrathecal"]
ROUTE_SYNONYMS = {
    "iv": "IV",
    "po": "PO",
    "oral": "PO",
    "sc": "SC",
    "subcut": "SC",
    "im": "IM",
    "it": "intrathecal",
    "intrathecal": "intrathecal",
}
ROUTE_DISPLAY = {"IV": "IV", "PO": "oral", "SC": "subcut", "IM": "IM", "intrathecal": "intrathecal"}

Category = Literal[
    "lymphoma-salvage",
    "lymphoma-first-line",
    "all-induction",
    "all-consolidation",
    "all-maintenance",
    "all-salvage",
    "all-cns-prophylaxis",
    "cellular-therapy-referral",
    "burkitt",
]


def dose_basis(dose: Q) -> Basis:
    """What a dose is per: m² of BSA, kg of weight, nothing (flat), or a carboplatin AUC.

    A dose may also be per unit of time (``15 mcg/m**2/day``, a continuous infusion). mg/kg
    is dimensionless to pint, so the units themselves, not the dimensionality, decide.
    """
    try:
        return _basis_of_units(dose._units)
    except InputError:
        raise InputError("dose", format_quantity(dose), "not a dose per m², per kg, flat, or AUC") from None


@cache
def _basis_of_units(units: Any) -> Basis:
    """The basis depends only on the units (a pint units container), so it is worked out once
    per unit (hot path)."""
    dose = quantity(1, units)
    dims = dose.dimensionality
    if dims == DIM_AUC:
        return "auc"
    per_time = {k: v for k, v in dims.items() if k != "[time]"}
    amount = (DIM_MASS, DIM_ACTIVITY)
    if any(per_time == (a / DIM_LENGTH**2) for a in amount):
        return "bsa"
    if any(per_time == a for a in amount):
        return "flat"
    powers = unit_powers(dose)
    masses = [name for name, power in powers.items() if power < 0 and ureg.Unit(name).dimensionality == DIM_MASS]
    numerators = [name for name, power in powers.items() if power > 0]
    if masses and numerators and ureg.Unit(numerators[0]).dimensionality in amount:
        return "weight"
    raise InputError("dose", str(units), "not a dose per m², per kg, flat, or AUC")


def _dose(value: object) -> Q:
    if isinstance(value, QuantityClass):
        return value
    quantity = parse_quantity(value, "dose")
    dims = quantity.dimensionality
    if dims != DIM_AUC and time_power(quantity) > 0:
        raise InputError("dose", value, "time in the numerator; write a rate as '/day'")
    dose_basis(quantity)
    return quantity


def _amount(value: object) -> Q:
    """A cap: a mass, an activity, or either per unit of time."""
    if isinstance(value, QuantityClass):
        return value
    quantity = parse_quantity(value, "cap")
    per_time = {k: v for k, v in quantity.dimensionality.items() if k != "[time]"}
    if per_time not in (DIM_MASS, DIM_ACTIVITY):
        raise InputError("cap", value, "expected a mass such as '2 mg' (or per day)")
    return quantity


_RANGE = re.compile(r"^\s*([0-9]{1,4})\s*(?:-|–|to)\s*([0-9]{1,4})\s*$")
_DAY = re.compile(r"^\s*[0-9]{1,4}\s*$")  # ASCII digits: str.isdigit() also accepts '²' and '٣'


def parse_days(value: object, field: str = "days") -> tuple[int, ...]:
    """``[1, 2, 3]``, ``"1-3"``, ``"1-4, 11-14"`` or ``8`` as a sorted tuple of day numbers."""
    items: list[object] = list(value) if isinstance(value, list | tuple) else [value]
    days: set[int] = set()
    for item in items:
        if isinstance(item, bool):
            raise InputError(field, item, "expected day numbers")
        if isinstance(item, int):
            days.add(item)
            continue
        if not isinstance(item, str):
            raise InputError(field, item, "expected day numbers such as [1, 8] or '1-4'")
        for part in item.split(","):
            match = _RANGE.match(part)
            if match:
                low, high = int(match.group(1)), int(match.group(2))
                if high < low:
                    raise InputError(field, part.strip(), "range runs backwards")
                days.update(range(low, high + 1))
            elif _DAY.match(part):
                days.add(int(part))
            else:
                raise InputError(field, part.strip(), "expected day numbers such as [1, 8] or '1-4'")
    if not days or min(days) < 0:
        raise InputError(field, value, "expected one or more day numbers, 0 or more")
    return tuple(sorted(days))


Days = Annotated[tuple[int, ...], BeforeValidator(parse_days)]
Dose = Annotated[Q, BeforeValidator(_dose)]
Amount = Annotated[Q, BeforeValidator(_amount)]
Sources = Annotated[tuple[str, ...], BeforeValidator(lambda v: (v,) if isinstance(v, str) else v)]


class Reference(Frozen):
    """A citation a reviewer can find: PMID or DOI for papers, an address for protocols."""

    citation: Annotated[str, Field(min_length=5)]
    pmid: int | None = None
    doi: str | None = None
    url: str | None = None
    level: Literal["primary", "label", "guideline", "secondary"] = "primary"
    note: str | None = None

    @model_validator(mode="after")
    def _findable(self) -> Reference:
        if self.pmid is None and self.doi is None and self.url is None:
            raise InputError("pmid", "", "a reference needs a pmid, doi or url")
        return self


class CitedTable(Frozen):
    """A data table whose rows cite keys of its ``sources`` (interactions, CPIC phenotypes,
    presentations): one way to turn keys into the citations a finding prints."""

    sources: dict[str, Reference]

    def cite(self, keys: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(
            self.sources[k].citation + (f". PMID {self.sources[k].pmid}" if self.sources[k].pmid else "") for k in keys
        )


def _regimen_disease(value: object) -> str:
    """A disease a regimen file names (an indication, a line's condition): a family (``all``) or a
    diagnosis; never ALL of unstated lineage, which is the patient's unknown, not a disease a
    regimen was studied in (and "all" there is the family, not that synonym)."""
    if isinstance(value, str) and value in FAMILIES:
        return value
    disease = parse_diagnosis(value, "disease")
    if disease == LINEAGE_UNKNOWN:
        raise InputError("disease", value, "a regimen is indicated for b-all, t-all or the family all")
    return disease


class When(Frozen):
    """A patient condition; ``min`` bounds are inclusive and ``below`` bounds exclusive."""

    age_min: float | None = None
    age_below: float | None = None
    weight_min: Mass | None = None
    weight_below: Mass | None = None
    disease_status: tuple[DiseaseStatus, ...] = ()
    diagnosis: tuple[Annotated[str, BeforeValidator(_regimen_disease)], ...] = ()

    def matches(self, patient: Patient, age_years: int) -> bool:
        weight = patient.weight
        return (
            (self.age_min is None or age_years >= self.age_min)
            and (self.age_below is None or age_years < self.age_below)
            and (self.weight_min is None or weight >= self.weight_min)
            and (self.weight_below is None or weight < self.weight_below)
            and (not self.disease_status or patient.disease_status in self.disease_status)
            and (not self.diagnosis or covered(patient.diagnosis, self.diagnosis))
        )

    def describe(self) -> str:
        parts = []
        if self.age_min is not None:
            parts.append(f"age ≥ {self.age_min:g} years")
        if self.age_below is not None:
            parts.append(f"age < {self.age_below:g} years")
        if self.weight_min is not None:
            parts.append(f"weight ≥ {format_quantity(self.weight_min)}")
        if self.weight_below is not None:
            parts.append(f"weight < {format_quantity(self.weight_below)}")
        if self.disease_status:
            parts.append(f"disease status {' or '.join(self.disease_status)}")
        if self.diagnosis:
            parts.append(f"diagnosis {' or '.join(self.diagnosis)}")
        return " and ".join(parts) or "always"


class Alternative(Frozen):
    """A dose that replaces the line's default for patients matching ``when``."""

    when: When
    dose: Dose
    cap: Amount | None = None
    source: Sources
    note: str | None = None


class DoseLine(Frozen):
    """One drug of a regimen: dose, route, schedule and the sources that say so."""

    drug: Annotated[str, Field(pattern=r"^[a-z][a-z0-9 -]*$")]
    role: Literal["antineoplastic", "supportive"] = "antineoplastic"
    dose: Dose | None = None
    cap: Amount | None = None
    alternatives: tuple[Alternative, ...] = ()
    only_when: When | None = None  # the line applies only to patients matching this
    route: Annotated[Route, BeforeValidator(lambda v: ROUTE_SYNONYMS.get(str(v).lower(), v))]
    days: Days
    cycles: Days | None = None
    every: Duration | None = None
    doses: Annotated[int, Field(ge=1, le=100)] | None = None
    # The dose is per day, given in this many equal parts (prednisone "divided twice daily"):
    # the order prints each administration's amount beside the daily total.
    divided: Annotated[int, Field(ge=2, le=6)] | None = None
    # ``nearest``: the source says to give the nearest whole presentation (filgrastim "round to
    # nearest whole syringe"); oral lines are made of their tablets without being asked.
    presentation: Literal["nearest"] | None = None
    # What no retrieved source states for this line (an infusion time, a dose for a cohort): the
    # line is held (DOS004) while the rest of the regimen is orderable.
    missing: Annotated[str, Field(min_length=3)] | None = None
    duration: Duration | None = None
    rate: str | None = None
    diluent: str | None = None
    sequence: int | None = None
    round: bool = True
    # Mesna is given as a percentage of the ifosfamide dose: when an organ-function band
    # reduces the drug named here, this line follows by the same percent.
    scales_with: str | None = None
    source: Sources
    note: str | None = None

    @model_validator(mode="after")
    def _dose_given(self) -> DoseLine:
        if (self.every is None) != (self.doses is None):
            raise InputError("every", self.every, "'every' and 'doses' go together (q12h × 6)")
        if not self.source:
            raise InputError("source", "", "every drug line needs a source")
        return self

    def dose_for(self, patient: Patient, age_years: int) -> tuple[Q | None, Q | None, Alternative | None]:
        """(dose, cap, alternative used) for a patient: the first matching alternative wins.

        The dose is ``None`` when the file defines none for this patient (e.g. an age band
        the sources do not cover); the caller reports that instead of guessing.
        """
        for alternative in self.alternatives:
            if alternative.when.matches(patient, age_years):
                return alternative.dose, alternative.cap if alternative.cap is not None else self.cap, alternative
        return self.dose, self.cap, None

    def applies_to(self, patient: Patient, age_years: int) -> bool:
        return self.only_when is None or self.only_when.matches(patient, age_years)


class Population(Frozen):
    """Who an indication covers beyond the diagnosis."""

    age_min: float | None = None
    age_below: float | None = None
    cd20_percent_min: float | None = None
    cd22_percent_min: float | None = None  # inotuzumab (MRK004)
    mrd_percent_min: float | None = None  # an MRD-positive indication's threshold (MRK005)
    philadelphia: Literal["positive", "negative"] | None = None
    nci_risk: Literal["standard", "high"] | None = None  # children's induction (RSK001)
    ecog_max: int | None = None  # fitness for the intensity (options)
    source: Sources = ()  # where the thresholds above come from


class Indication(Frozen):
    """A disease (or family, e.g. ``all``) and the disease statuses the regimen is for."""

    disease: Annotated[str, BeforeValidator(_regimen_disease)]
    status: tuple[DiseaseStatus, ...] = ()
    line: str | None = None
    population: Population = Population()
    # The intensity for this indication where it differs from the regimen's (design §11.2).
    intensity: Literal["high", "standard", "moderate", "low"] | None = None
    note: str | None = None


CriterionLab = Literal["anc", "platelets", "wbc", "hemoglobin", "bilirubin", "creatinine", "lvef_percent"]


_COUNT = "1 / [length] ** 3"
_CONCENTRATION = "[mass] / [length] ** 3"
_CRITERION_DIMENSIONS: dict[str, tuple[Any, ...]] = {
    "anc": (ureg.get_dimensionality(_COUNT),),
    "platelets": (ureg.get_dimensionality(_COUNT),),
    "wbc": (ureg.get_dimensionality(_COUNT),),
    "hemoglobin": (ureg.get_dimensionality(_CONCENTRATION),),
    "bilirubin": (ureg.get_dimensionality(_CONCENTRATION),),
    "creatinine": (
        ureg.get_dimensionality("[mass] / [length] ** 3"),
        ureg.get_dimensionality("[substance] / [length] ** 3"),
    ),
    "lvef_percent": (),  # a plain number
}


def _limit(value: object) -> object:
    return value if isinstance(value, int | float | QuantityClass) else parse_quantity(value, "min")


class Criterion(Frozen):
    """A criterion to treat: a lab at or above (``min``) or at or below (``max``) a limit,
    in the cycles its source states it for (absent: every cycle)."""

    lab: CriterionLab
    min: Annotated[Any, BeforeValidator(_limit)] = None
    max: Annotated[Any, BeforeValidator(_limit)] = None
    cycles: Days | None = None
    note: str | None = None
    source: Sources

    @model_validator(mode="after")
    def _bounded(self) -> Criterion:
        if self.min is None and self.max is None:
            raise InputError("min", "", "a criterion needs min or max")
        allowed = _CRITERION_DIMENSIONS[self.lab]
        for key in ("min", "max"):
            limit = getattr(self, key)
            plain = isinstance(limit, int | float)
            if limit is not None and (plain != (not allowed) or (not plain and limit.dimensionality not in allowed)):
                raise InputError(key, str(limit), f"not a unit of {self.lab}")
        return self

    def covers(self, cycle: int) -> bool:
        return self.cycles is None or cycle in self.cycles


class Exemption(Frozen):
    """No laboratory criteria in these cycles, in the source's own words (acute leukaemia
    induction starts whatever the counts: the disease is why they are low)."""

    none: Annotated[str, Field(min_length=3)]
    cycles: Days | None = None
    source: Sources

    def covers(self, cycle: int) -> bool:
        return self.cycles is None or cycle in self.cycles


class DefaultCriteria(Frozen):
    """An explicit statement that no retrieved source gives this regimen's criteria, so the
    institution's default policy applies (shown as a hole in docs/coverage.md)."""

    default: Annotated[str, Field(min_length=3)]  # what was searched, and why nothing is stated
    cycles: Days | None = None

    def covers(self, cycle: int) -> bool:
        return self.cycles is None or cycle in self.cycles


class Prerequisite(Frozen):
    """Courses that must be on the record before this one (any one of them): GMALL phase I
    before phase II, hyper-CVAD course A before course B (SEQ001)."""

    any_of: Annotated[tuple[str, ...], Field(min_length=1)]
    note: str | None = None
    source: Sources


class Supportive(Frozen):
    """Supportive care that is ordered by the team but not calculated here."""

    text: Annotated[str, Field(min_length=3)]
    source: Sources


class Regimen(Frozen):
    """A regimen file: identity, indications, schedule, drugs, supportive care, sources."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    name: str
    title: str
    version: Annotated[str, BeforeValidator(str)]
    # ``reference``: the regimen is known (indication, drugs, the paper) but no retrievable
    # source confirms its doses; it is listed by ``options`` and refused by calc and render.
    status: Literal["active", "draft", "retired", "reference"] = "active"
    reference_reason: str | None = None
    reviewed: dt.date | None = None
    category: Category
    intensity: Literal["high", "standard", "moderate", "low"] = "standard"
    population: Literal["adult", "pediatric", "any"] = "adult"
    indications: Annotated[tuple[Indication, ...], Field(min_length=1)]
    cycle_length: Duration | None = None  # None: a single course, or not fixed by the sources
    cycle_note: str | None = None
    cycles: Annotated[int, Field(ge=1)] | None = None
    cycle_numbers: Days | None = None  # e.g. course A of hyper-CVAD is given in cycles 1, 3, 5, 7
    drugs: tuple[DoseLine, ...]  # at least one, except in a reference regimen nothing doses
    supportive: tuple[Supportive, ...] = ()
    criteria_to_treat: tuple[Criterion | Exemption | DefaultCriteria, ...] = ()
    requires: Prerequisite | None = None
    notes: tuple[str, ...] = ()
    references: Annotated[dict[str, Reference], Field(min_length=1)]

    @field_validator("cycle_length")
    @classmethod
    def _positive(cls, value: Q | None) -> Q | None:
        if value is not None and value.magnitude <= 0:
            raise InputError("cycle_length", str(value), "must be positive")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Regimen:
        """Every cross-field problem at once: a reviewer fixing a file sees them all."""
        problems = list(self._problems())
        if problems:
            raise Problems(problems)
        return self

    def _problems(self) -> Iterator[InputError]:
        if not self.drugs and self.status != "reference":
            yield InputError("drugs", [], "at least one drug line (only a reference regimen may have none)")
        named = {line.drug for line in self.drugs}
        for index, line in enumerate(self.drugs):
            if line.scales_with is not None and line.scales_with not in named:
                yield InputError(f"drugs.{index}.scales_with", line.scales_with, "no such drug in this regimen")
        if (self.status == "reference") != (self.reference_reason is not None):
            problem = "required with, and only with, status reference"
            yield InputError("reference_reason", self.reference_reason or "", problem)
        length_days = self.cycle_length.to(ureg.day).magnitude if self.cycle_length is not None else None
        for index, line in enumerate(self.drugs):
            where = f"drugs.{index}"
            if line.dose is None and not line.alternatives and self.status != "reference":
                yield InputError(f"{where}.dose", "", "required unless alternatives give every dose")
            if length_days is not None and max(line.days) > length_days:
                yield InputError(f"{where}.days", list(line.days), f"beyond the {length_days:g}-day cycle")
            for key in _all_sources(line):
                if key not in self.references:
                    yield InputError(f"{where}.source", key, "no such key in references")
            if line.cycles and self.cycles and max(line.cycles) > self.cycles:
                yield InputError(f"{where}.cycles", list(line.cycles), f"beyond the {self.cycles} cycles")
        cited: list[tuple[str, tuple[str, ...]]] = [
            *((f"supportive.{i}", item.source) for i, item in enumerate(self.supportive)),
            *(
                (f"criteria_to_treat.{i}", item.source)
                for i, item in enumerate(self.criteria_to_treat)
                if not isinstance(item, DefaultCriteria)
            ),
            *((f"indications.{i}.population", item.population.source) for i, item in enumerate(self.indications)),
            *([("requires", self.requires.source)] if self.requires else []),
        ]
        for where, sources in cited:
            for key in sources:
                if key not in self.references:
                    yield InputError(f"{where}.source", key, "no such key in references")

    def check_cycle(self, cycle: int) -> None:
        """Refuse a cycle number this regimen file does not describe."""
        if self.cycle_numbers is not None and cycle not in self.cycle_numbers:
            allowed = ", ".join(str(c) for c in self.cycle_numbers)
            raise InputError("--cycle", cycle, f"{self.name} is given in cycles {allowed}")
        if cycle < 1 or (self.cycles is not None and cycle > self.cycles):
            raise InputError("--cycle", cycle, f"{self.name} has cycles 1-{self.cycles}")

    def first_cycle(self) -> int:
        return self.cycle_numbers[0] if self.cycle_numbers else 1

    def lines_for_cycle(self, cycle: int) -> tuple[DoseLine, ...]:
        return tuple(line for line in self.drugs if line.cycles is None or cycle in line.cycles)

    def needs_renal_function(self) -> bool:
        return any(line.dose is not None and line.dose.dimensionality == DIM_AUC for line in self.drugs)


def _all_sources(line: DoseLine) -> tuple[str, ...]:
    return line.source + tuple(key for alt in line.alternatives for key in alt.source)


def regimen_dirs() -> list[Path]:
    """Where bundled regimen files live: inside the installed wheel, else the checkout."""
    installed = Path(__file__).resolve().parent / "regimens"  # the wheel puts them in the package
    checkout = Path(__file__).resolve().parents[2] / "regimens"
    return [d for d in (installed, checkout) if d.is_dir()][:1]


def regimen_paths() -> dict[str, Path]:
    """Bundled regimen files by id (the file stem is the id; the linter checks they agree)."""
    return dict(_bundled_paths())


@cache
def _bundled_paths() -> dict[str, Path]:
    """Listed once a process: the bundled library is part of the installed package (as each
    regimen, once loaded, is kept), and a rule asks for every regimen on each calculation."""
    return {p.stem: p for d in regimen_dirs() for p in sorted(d.glob("*.yaml"))}


def load_regimen_file(path: Path) -> Regimen:
    return validate(Regimen, read_yaml(path, "regimen file"), str(path))


@cache
def load_regimen(regimen_id: str) -> Regimen:
    """The bundled regimen with this id; an unknown id names the nearest ones."""
    paths = regimen_paths()
    if regimen_id not in paths:
        import difflib  # only on the error path

        near = difflib.get_close_matches(regimen_id, list(paths), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(near)}?" if near else f"; known: {', '.join(paths)}"
        raise InputError("regimen", regimen_id, f"unknown regimen{hint}")
    return load_regimen_file(paths[regimen_id])


def all_regimens() -> list[Regimen]:
    return [load_regimen(rid) for rid in regimen_paths()]
