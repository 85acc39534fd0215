"""Organ-function dose modifications as data (``modifications.yaml``), applied to final doses.

A clinical review found cisplatin 100 mg/m² printed at full dose for CrCl 26 mL/min and
hyper-CVAD course B at full dose with creatinine 2.2 mg/dL: the tables existed only as prose.
Here every renal (REN001), hepatic (HEP001) and cardiac (CAR001) band is a cited row, and its
action is applied to the order itself:

- ``{percent: N}``: the final dose becomes N % of the full dose, re-rounded as the line is
  (never above the full dose, so never above a cap); the order shows full dose, percent,
  modified dose, band and source; a pharmacist may keep the full dose only by acknowledging
  the rule with a reason;
- ``omit``: the line leaves the order set, with a finding that says why;
- ``hold`` and ``{substitute: text}``: the order stops until a pharmacist acknowledges it;
- ``contraindicated``: a block, never overridable.

The engine stays a pure function: a calculation and a patient in, a calculation and findings
out. The rules REN001/HEP001/CAR001 report these findings under their own codes.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .dosing import Body, Calculation, Modification, Options, Order
from .drugs import drug_table
from .errors import InputError
from .loader import read_package_yaml
from .models import AnyQuantity, Frozen, validate
from .patient import Patient, creatinine_mg_dl
from .pharmacogenomics import apply_genotype
from .regimen import Reference, Regimen, Route
from .units import (
    MG_PER_DL,
    ML_PER_MIN,
    UMOL_PER_L,
    UNITS,
    Q,
    QuantityClass,
    compare,
    format_number,
    format_quantity,
    format_value,
    magnitude_in,
    same_dimension,
    ureg,
)

UNITS_PER_L = UNITS / ureg.liter

Measure = Literal["crcl", "creatinine", "bilirubin", "ast", "lvef_percent"]
RuleCode = Literal["REN001", "HEP001", "CAR001"]
Severity = Literal["block", "hold", "warn", "info"]
Limit = AnyQuantity | float

_LIMIT_WORDS = {"min": "≥", "above": ">", "max": "≤", "below": "<"}
_MEASURE_NAMES = {
    "crcl": "CrCl",
    "creatinine": "serum creatinine",
    "bilirubin": "bilirubin",
    "ast": "AST",
    "lvef_percent": "LVEF",
}
_ULN_FIELDS = {"bilirubin": "bilirubin_uln", "ast": "ast_uln"}


class Limits(Frozen):
    """A range by the source's own words: ``min`` ≥, ``above`` >, ``max`` ≤, ``below`` <."""

    min: Limit | None = None
    above: Limit | None = None
    max: Limit | None = None
    below: Limit | None = None
    min_uln: float | None = None
    above_uln: float | None = None
    max_uln: float | None = None
    below_uln: float | None = None

    @cached_property
    def fixed_limits(self) -> tuple[tuple[Comparison, Q | float], ...]:
        """Each stated limit with its comparison, a molar creatinine limit in mg/dL (kept: a
        band is checked for every order of every calculation)."""
        return tuple(
            (_OPERATORS[key], _comparable(limit)) for key in _LIMIT_WORDS if (limit := getattr(self, key)) is not None
        )

    @cached_property
    def uln_limits(self) -> tuple[tuple[Comparison, float], ...]:
        """Each limit stated as a multiple of the upper limit of normal, with its comparison."""
        return tuple(
            (_OPERATORS[key], multiple) for key in _LIMIT_WORDS if (multiple := getattr(self, f"{key}_uln")) is not None
        )

    def uses_uln(self) -> bool:
        return bool(self.uln_limits)

    def holds(self, value: Q | float, uln: Q | float | None) -> bool:
        """Whether ``value`` is in range; ULN limits need ``uln`` (the caller checks it is given)."""
        if not all(compare(value, limit, op) for op, limit in self.fixed_limits):
            return False
        return uln is None or all(compare(value, uln * multiple, op) for op, multiple in self.uln_limits)

    def describe(self) -> str:
        given = [k for k in _LIMIT_WORDS if getattr(self, k) is not None]
        parts = [f"{_LIMIT_WORDS[k]} {format_value(getattr(self, k))}" for k in given]
        parts += [
            f"{_LIMIT_WORDS[k]} {format_number(getattr(self, f'{k}_uln'))} × ULN"
            for k in _LIMIT_WORDS
            if getattr(self, f"{k}_uln") is not None
        ]
        return " and ".join(parts)


class Condition(Limits):
    """A second condition of a band, on another measure (inotuzumab: bilirubin *and* AST)."""

    measure: Measure


class Percent(Frozen):
    percent: Annotated[float, Field(gt=0, lt=100)]


class Substitute(Frozen):
    substitute: Annotated[str, Field(min_length=3)]


Action = Literal["omit", "contraindicated", "hold"] | Percent | Substitute


class Band(Limits):
    action: Action
    note: str | None = None
    source: str | None = None  # when the band's source differs from its table's
    also: Condition | None = Field(default=None, alias="and")


class Table(Frozen):
    """A drug's bands for one measure, or (``none``) a cited statement that it has none.

    ``none`` rows exist for coverage (design §11.4): a reviewer sees that renal or hepatic
    dosing was looked up and what the source says, rather than a silence that could mean
    either "no adjustment" or "never checked". ``high_dose`` tables apply only when the cycle
    gives the drug at a dose its cited definition calls high (``drugs.yaml`` ``high_dose``),
    and then replace the general table for that drug and measure.
    """

    drug: str
    rule: RuleCode
    measure: Measure | None = None
    none: Annotated[str, Field(min_length=3)] | None = None
    routes: tuple[Route, ...] = ()
    min_dose: AnyQuantity | None = None
    high_dose: bool = False
    # When a band cannot be checked because the laboratory's ULN is not given: warn (default), or
    # hold where the band is a label contraindication that must not pass unchecked.
    unchecked: Literal["warn", "hold"] = "warn"
    regimens: tuple[str, ...] = ()
    source: str
    note: str | None = None
    bands: tuple[Band, ...] = ()

    @model_validator(mode="after")
    def _bands_or_none(self) -> Table:
        if self.none is not None and (self.bands or self.measure is not None):
            raise InputError("none", self.none, "a 'none' row has no measure and no bands")
        if self.none is None and (not self.bands or self.measure is None):
            raise InputError("bands", "", "a table needs a measure and at least one band (or 'none' with its source)")
        return self

    def applies(self, order: Order, regimen: Regimen, high: frozenset[str] = frozenset()) -> bool:
        route = order.line.route
        return (
            self.none is None
            and self.drug == order.drug
            and (route in self.routes if self.routes else route != "intrathecal")
            and (not self.regimens or regimen.id in self.regimens)
            and (not self.high_dose or order.drug in high)
            and (
                self.min_dose is None
                or (same_dimension(order.dose, self.min_dose) and compare(order.dose, self.min_dose, operator.ge))
            )
        )


_DIMENSIONS = {
    "crcl": (ML_PER_MIN.dimensionality,),
    "creatinine": (MG_PER_DL.dimensionality, UMOL_PER_L.dimensionality),
    "bilirubin": (MG_PER_DL.dimensionality,),
    "ast": (UNITS_PER_L.dimensionality,),
    "lvef_percent": (),
}


def _check_units(measure: str, limits: Limits, where: str) -> None:
    """Every limit in a unit of its measure (lvef_percent: plain numbers), refused at load."""
    for key in _LIMIT_WORDS:
        limit = getattr(limits, key)
        if limit is None:
            continue
        allowed = _DIMENSIONS[measure]
        if (isinstance(limit, QuantityClass) and limit.dimensionality not in allowed) or (
            not isinstance(limit, QuantityClass) and allowed
        ):
            raise InputError(f"{where}.{key}", str(limit), f"not a unit of {measure}")


class ModificationTable(Frozen):
    sources: dict[str, Reference]
    tables: tuple[Table, ...]

    @cached_property
    def by_drug(self) -> dict[str, tuple[Table, ...]]:
        """Tables per drug, in file order (an order set asks once per order: hot path)."""
        index: dict[str, list[Table]] = {}
        for entry in self.tables:
            index.setdefault(entry.drug, []).append(entry)
        return {drug: tuple(entries) for drug, entries in index.items()}

    @model_validator(mode="after")
    def _units_and_sources(self) -> ModificationTable:
        for index, entry in enumerate(self.tables):
            where = f"tables.{index}"
            for key in [entry.source, *(band.source for band in entry.bands if band.source)]:
                if key not in self.sources:
                    raise InputError(f"{where}.source", key, "no such key in sources")
            for number, band in enumerate(entry.bands):
                assert entry.measure is not None  # a table with bands has a measure (Table validator)
                _check_units(entry.measure, band, f"{where}.bands.{number}")
                if band.also is not None:
                    _check_units(band.also.measure, band.also, f"{where}.bands.{number}.and")
        return self

    def cite(self, key: str) -> str:
        ref = self.sources[key]
        ids = (f". PMID {ref.pmid}" if ref.pmid else "") + (f". doi:{ref.doi}" if ref.doi else "")
        secondary = " (SECONDARY)" if ref.level == "secondary" else ""
        return ref.citation + ids + (f". {ref.url}" if ref.url and not ids else "") + secondary


@cache
def modification_table() -> ModificationTable:
    path = Path(__file__).with_name("modifications.yaml")
    return validate(ModificationTable, read_package_yaml(path, "modification table"), str(path))


@dataclass(frozen=True)
class Verdict:
    """One table's finding about one order (the rules report these under their codes)."""

    rule: str
    severity: Severity
    message: str
    references: tuple[str, ...]
    drug: str
    unchecked: str = ""  # why a table could not be checked (verdicts with one reason are merged)


@dataclass(frozen=True)
class Adjusted:
    calculation: Calculation
    verdicts: tuple[Verdict, ...]
    omitted: tuple[Order, ...]


def adjust(
    calculation: Calculation, patient: Patient, regimen: Regimen, options: Options, acknowledged: frozenset[str]
) -> Adjusted:
    """Apply every matching band to every order; acknowledged rule codes keep the full dose."""
    table = modification_table()
    verdicts: list[Verdict] = []
    orders: list[Order] = []
    omitted: list[Order] = []
    high = high_dose_drugs(calculation)
    for order in calculation.orders:
        tables = _tables_for(order, regimen, table.by_drug.get(order.drug, ()), high)
        reductions: list[tuple[float, Table, Band, str]] = []
        omit = False
        for entry in tables:
            for found in _evaluate(entry, order, patient, calculation.body, table):
                verdict, band, value_text = found
                if band is None:
                    verdicts.append(verdict)
                    continue
                kept = entry.rule in acknowledged and verdict.severity != "block"
                if isinstance(band.action, Percent):
                    verdicts.append(verdict)
                    if not kept:
                        reductions.append((band.action.percent, entry, band, value_text))
                elif band.action == "omit":
                    verdicts.append(verdict)
                    omit = omit or not kept
                else:
                    verdicts.append(verdict)
        if omit:
            omitted.append(order)
            continue
        if reductions:
            order = _reduce(order, reductions, table, options, verdicts)
        order, genotype = apply_genotype(order, patient, calculation.body, options, "PGX001" in acknowledged)
        verdicts += [Verdict("PGX001", v.severity, v.message, v.references, v.drug) for v in genotype]
        orders.append(order)
    orders = _follow(orders, options)
    adjusted = dataclasses.replace(calculation, orders=tuple(orders))
    return Adjusted(adjusted, _merge_unchecked(verdicts), tuple(omitted))


def _follow(orders: list[Order], options: Options) -> list[Order]:
    """A line that ``scales_with`` a modified drug (mesna with ifosfamide) takes the same percent."""
    changed = {o.drug: o.modification for o in orders if o.modification is not None}
    followed: list[Order] = []
    for order in orders:
        leader = changed.get(order.line.scales_with or "")
        if leader is None or order.modification is not None:
            followed.append(order)
            continue
        full = order.final
        reduced = order.scaled(leader.percent / 100, options)
        reduced = reduced if reduced.magnitude <= full.magnitude else full
        band = f"follows {order.line.scales_with} ({leader.band})"
        modification = Modification(leader.rule, leader.percent, band, leader.source, full)
        text = (
            f"{order.calculation}; {format_number(leader.percent)}% with {order.line.scales_with} "
            f"({leader.rule}) = {format_quantity(reduced)}"
        )
        followed.append(dataclasses.replace(order, final=reduced, calculation=text, modification=modification))
    return followed


def _merge_unchecked(verdicts: list[Verdict]) -> tuple[Verdict, ...]:
    """One "not checked" warning per rule and reason, naming every drug it concerns."""
    groups: dict[tuple[str, str], list[Verdict]] = {}
    for verdict in verdicts:
        if verdict.unchecked:
            groups.setdefault((verdict.rule, verdict.unchecked), []).append(verdict)
    out: list[Verdict] = []
    for verdict in verdicts:
        if not verdict.unchecked:
            out.append(verdict)
            continue
        group = groups.pop((verdict.rule, verdict.unchecked), None)
        if group is None:
            continue  # already merged into the first of its group
        drugs = ", ".join(dict.fromkeys(v.drug for v in group))
        refs = tuple(dict.fromkeys(r for v in group for r in v.references))
        out.append(dataclasses.replace(verdict, message=f"{drugs}: {verdict.unchecked}", references=refs))
    return tuple(out)


def _tables_for(order: Order, regimen: Regimen, tables: tuple[Table, ...], high: frozenset[str]) -> list[Table]:
    """Matching tables; a protocol's own table, or the high-dose table when the drug is given at
    high dose, replaces the general one for that drug and measure."""
    matching = [t for t in tables if t.applies(order, regimen, high)]
    specific = {(t.drug, t.measure) for t in matching if t.regimens or t.high_dose}
    return [t for t in matching if t.regimens or t.high_dose or (t.drug, t.measure) not in specific]


def high_dose_drugs(calculation: Calculation) -> frozenset[str]:
    """The drugs this cycle gives at a dose their cited definition calls high (``drugs.yaml``
    ``high_dose``): per administration, or per day for systemic lines given on the same day
    (hyper-CVAD's methotrexate 200 mg/m² loading dose and 800 mg/m² infusion are 1 g/m²)."""
    drugs = drug_table()
    high: set[str] = set()
    for drug in {o.drug for o in calculation.orders}:
        definition = drugs.get(drug).high_dose
        if definition is None:
            continue
        systemic = [
            o
            for o in calculation.orders
            if o.drug == drug and o.line.route != "intrathecal" and same_dimension(o.dose, definition.min)
        ]
        unit = definition.min.units
        if definition.per == "dose":
            amounts = [magnitude_in(o.dose, unit) for o in systemic]
        else:
            per_day: dict[int, float] = {}
            for o in systemic:
                for day in o.line.days:
                    times = o.administrations / len(o.line.days) if o.line.every is not None else 1
                    per_day[day] = per_day.get(day, 0.0) + magnitude_in(o.dose, unit) * times
            amounts = list(per_day.values())
        if any(amount >= definition.min.magnitude for amount in amounts):
            high.add(drug)
    return frozenset(high)


def _evaluate(
    entry: Table, order: Order, patient: Patient, body: Body, table: ModificationTable
) -> Iterator[tuple[Verdict, Band | None, str]]:
    refs = (table.cite(entry.source),)
    assert entry.measure is not None  # 'none' rows never apply (Table.applies)
    value = _measure(entry.measure, patient, body)
    name = _MEASURE_NAMES[entry.measure]
    if value is None:
        if entry.measure != "lvef_percent":  # CAR001 itself reports a missing LVEF
            why = f"not available: {body.crcl_note}" if entry.measure == "crcl" else "not given"
            reason = f"dose-modification bands not checked ({name} {why})"
            yield Verdict(entry.rule, "warn", f"{order.drug}: {reason}", refs, order.drug, reason), None, ""
        return
    for band in entry.bands:
        missing = _missing_uln(entry.measure, band, patient) or (
            _missing_uln(band.also.measure, band.also, patient) if band.also else None
        )
        if missing:
            message = f"{order.drug}: a {name} band is stated in multiples of ULN; give labs.{missing} to check it"
            yield Verdict(entry.rule, entry.unchecked, message, refs, order.drug), None, ""
            return
        if not band.holds(value, _uln(entry.measure, patient)):
            continue
        if band.also is not None:
            second = _measure(band.also.measure, patient, body)
            if second is None or not band.also.holds(second, _uln(band.also.measure, patient)):
                continue
        band_refs = (table.cite(band.source),) if band.source else refs
        value_text = f"{name} {format_value(value)}"
        where = f"band {band.describe()}"
        if band.also is not None:
            where += f" with {_MEASURE_NAMES[band.also.measure]} {band.also.describe()}"
        note = f" ({band.note})" if band.note else ""
        severity, action = _action(band)
        message = f"{order.drug}: {value_text}, {where}: {action}{note}"
        yield Verdict(entry.rule, severity, message, band_refs, order.drug), band, value_text
        return


def _action(band: Band) -> tuple[Severity, str]:
    action = band.action
    if isinstance(action, Percent):
        return "warn", f"give {format_number(action.percent)}% of the dose (applied)"
    if isinstance(action, Substitute):
        return "hold", f"substitute: {action.substitute}"
    if action == "omit":
        return "warn", "omit this drug (removed from the order set)"
    if action == "hold":
        return "hold", "hold: a pharmacist must decide and acknowledge"
    return "block", "contraindicated"


def _reduce(
    order: Order,
    reductions: list[tuple[float, Table, Band, str]],
    table: ModificationTable,
    options: Options,
    verdicts: list[Verdict],
) -> Order:
    """The lowest percent wins; two reductions are not multiplied without a pharmacist."""
    percent, entry, band, value_text = min(reductions, key=lambda r: r[0])
    if len(reductions) > 1:
        names = ", ".join(f"{format_number(p)}% ({t.rule})" for p, t, _, _ in reductions)
        verdicts.append(
            Verdict(
                entry.rule,
                "hold",
                f"{order.drug}: several reductions apply ({names}); the lowest is applied, not their product: "
                "a pharmacist must decide",
                (table.cite(entry.source),),
                order.drug,
            )
        )
    full = order.final
    reduced = order.scaled(percent / 100, options)
    if reduced.magnitude > full.magnitude:  # rounding must never undo a reduction
        reduced = full
    source = table.cite(band.source or entry.source)
    modification = Modification(entry.rule, percent, f"{value_text}: {band.describe()}", source, full)
    text = (
        f"{order.calculation}; {format_number(percent)}% for {value_text} ({entry.rule}) = {format_quantity(reduced)}"
    )
    return dataclasses.replace(order, final=reduced, calculation=text, modification=modification)


def _measure(measure: str, patient: Patient, body: Body) -> Q | float | None:
    if measure == "crcl":
        return patient.measured_gfr.to(ML_PER_MIN) if patient.measured_gfr is not None else body.crcl
    if measure == "creatinine":
        return body.creatinine
    value: Any = getattr(patient.labs, measure)
    return value  # type: ignore[no-any-return]


def _uln(measure: str, patient: Patient) -> Q | None:
    field = _ULN_FIELDS.get(measure)
    value: Any = getattr(patient.labs, field) if field else None
    return value  # type: ignore[no-any-return]


def _missing_uln(measure: str, limits: Limits, patient: Patient) -> str | None:
    if limits.uses_uln() and _uln(measure, patient) is None:
        return _ULN_FIELDS.get(measure, f"{measure}_uln")
    return None


Comparison = Callable[[Any, Any], bool]
_OPERATORS: dict[str, Comparison] = {"min": operator.ge, "above": operator.gt, "max": operator.le, "below": operator.lt}


def _comparable(limit: Q | float) -> Q | float:
    if isinstance(limit, QuantityClass) and limit.dimensionality == UMOL_PER_L.dimensionality:
        return creatinine_mg_dl(limit)  # only creatinine limits may be molar (checked at load)
    return limit
