"""Thiopurine doses by TPMT and NUDT15 phenotype (PGX001), from CPIC as data.

A review found mercaptopurine at full dose for a TPMT-deficient child: the patient file could
not even say so. ``pharmacogenomics.yaml`` holds CPIC's recommendations per drug, gene and
phenotype: a single cited percent is applied to the dose and shown; where CPIC gives a range
or a drastic change of schedule, the order is held for a pharmacist, who supplies the dose.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from .dosing import Body, Modification, Options, Order
from .loader import read_package_yaml
from .models import AnyQuantity, Frozen, check_cited, validate
from .patient import Patient
from .regimen import CitedTable
from .units import M2, Q, format_number, format_quantity, quantity, ureg

Gene = Literal["tpmt", "nudt15"]
_PER_M2_DAY = ureg.Unit("mg / m ** 2 / day")


class Percent(Frozen):
    percent: Annotated[float, Field(gt=0, lt=100)]


class GenotypeRule(Frozen):
    drug: str
    gene: Gene
    phenotype: Literal["intermediate", "poor"]
    action: Percent | Literal["hold"]
    # CPIC: the reduction is for a normal starting dose at or above this (e.g. 75 mg/m²/day).
    applies_from: AnyQuantity | None = None
    note: str
    source: tuple[str, ...]


class GenotypeTable(CitedTable):
    rules: tuple[GenotypeRule, ...]


@cache
def genotype_table() -> GenotypeTable:
    path = Path(__file__).with_name("pharmacogenomics.yaml")
    table = validate(GenotypeTable, read_package_yaml(path, "pharmacogenomics table"), str(path))
    check_cited(table.sources, ((f"rules.{i}", rule.source) for i, rule in enumerate(table.rules)), str(path))
    return table


@dataclasses.dataclass(frozen=True)
class GenotypeVerdict:
    severity: Literal["hold", "warn", "info"]
    message: str
    references: tuple[str, ...]
    drug: str


def daily_dose_per_m2(order: Order, body: Body) -> Q:
    """The standard (unmodified) dose as mg/m² per day, the unit CPIC states its thresholds in."""
    per_day = 1.0
    if order.line.every is not None:
        per_day = max(1.0, 24 / order.line.every.to(ureg.hour).magnitude)
    amount = (
        order.calculated.to(ureg.mg).magnitude if order.calculated.dimensionality == ureg.mg.dimensionality else 0.0
    )
    return quantity(amount * per_day / body.bsa.to(M2).magnitude, _PER_M2_DAY)


def apply_genotype(
    order: Order, patient: Patient, body: Body, options: Options, acknowledged: bool
) -> tuple[Order, list[GenotypeVerdict]]:
    """The order after CPIC's recommendation for the patient's phenotypes, and the findings."""
    table = genotype_table()
    found = [
        rule
        for rule in table.rules
        if rule.drug == order.drug and getattr(patient.markers, rule.gene) == rule.phenotype
    ]
    if not found:
        return order, []
    verdicts: list[GenotypeVerdict] = []
    refs = tuple(dict.fromkeys(r for rule in found for r in table.cite(rule.source)))
    phenotypes = ", ".join(f"{rule.gene.upper()} {rule.phenotype} metabolizer" for rule in found)
    percents = [rule for rule in found if isinstance(rule.action, Percent)]
    if len(found) > 1 or any(rule.action == "hold" for rule in found) or order.modification is not None:
        notes = "; ".join(rule.note for rule in found)
        message = f"{order.drug}: {phenotypes}: {notes} — a pharmacist supplies the dose (--change)"
        return order, [GenotypeVerdict("hold", message, refs, order.drug)]
    rule = percents[0]
    assert isinstance(rule.action, Percent)
    daily = daily_dose_per_m2(order, body)
    if rule.applies_from is not None and daily.magnitude < rule.applies_from.to(_PER_M2_DAY).magnitude:
        message = (
            f"{order.drug}: {phenotypes}; the standard dose here ({format_quantity(daily)}) is below "
            f"{format_quantity(rule.applies_from)}, where CPIC states its reduction ({rule.note}): full dose, "
            "adjust to myelosuppression"
        )
        return order, [GenotypeVerdict("warn", message, refs, order.drug)]
    if acknowledged:
        message = f"{order.drug}: {phenotypes}: {rule.note}; full dose kept (acknowledged)"
        return order, [GenotypeVerdict("warn", message, refs, order.drug)]
    percent = rule.action.percent
    reduced = order.scaled(percent / 100, options)
    reduced = reduced if reduced.magnitude <= order.final.magnitude else order.final
    band = f"{phenotypes} (CPIC)"
    modification = Modification("PGX001", percent, band, refs[0], order.final)
    text = f"{order.calculation}; {format_number(percent)}% for {phenotypes} (PGX001) = {format_quantity(reduced)}"
    verdicts.append(
        GenotypeVerdict(
            "warn",
            f"{order.drug}: {phenotypes}: give {format_number(percent)}% ({rule.note}) (applied)",
            refs,
            order.drug,
        )
    )
    return dataclasses.replace(order, final=reduced, calculation=text, modification=modification), verdicts
