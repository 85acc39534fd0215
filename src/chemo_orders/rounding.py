"""Dose rounding: a default that never moves a dose more than 0.5 %, or a pharmacy policy.

Default: three significant figures, half up (739.5 mg -> 740 mg; 2.84 mg -> 2.84 mg), so the
change is at most 0.5 % - well inside the 1 % a default may move a dose without a policy.

Policy (``--policy FILE``): per-drug increments (e.g. vial-friendly 10 mg for carboplatin)
and a maximum deviation, at most 10 % (HOPA position statement: Fahrenbruch R et al.
J Oncol Pract 2018;14(3):e130-e136, doi:10.1200/JOP.2017.025411). If the increment would
move a dose further than the policy allows, the default rounding is used and the order says
so. Rounding never takes a dose above its cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from .errors import InputError
from .loader import read_yaml
from .models import AnyQuantity, Frozen, validate
from .units import DIM_ACTIVITY, DIM_MASS, Q, format_number, format_quantity, format_unit, magnitude_in, quantity

HOPA_MAX_DEVIATION_PERCENT = 10.0
DEFAULT_SIGNIFICANT_FIGURES = 3


def _dose_step(value: Q) -> Q:
    """An increment is an amount a dose can be rounded to: above zero, a mass or units.
    ``0 mg`` divided by zero and ``5 mL`` could not be compared with a dose in mg: both
    stopped the calculation as an internal error instead of naming the policy's field."""
    if value.dimensionality not in (DIM_MASS, DIM_ACTIVITY):
        raise InputError("increment", format_quantity(value), "expected a dose amount such as '10 mg' or '1000 units'")
    if not value.magnitude > 0:
        raise InputError("increment", format_quantity(value), "must be above zero")
    return value


class DrugRounding(Frozen):
    increment: Annotated[AnyQuantity, AfterValidator(_dose_step)]
    max_deviation_percent: Annotated[float, Field(gt=0, le=HOPA_MAX_DEVIATION_PERCENT)] | None = None


def _canonical_drugs(value: object) -> object:
    """Drug names as a pharmacy writes them (``CARBOplatin``, ``Paraplatin``) → generic names;
    an unknown name is refused, never a rule that silently applies to nothing."""
    from .drugs import drug_table

    if not isinstance(value, dict):
        return value
    named: dict[str, object] = {}
    for name, rule in value.items():
        drug = drug_table().canonical(name, str(name))
        if drug in named:
            raise InputError(name, name, f"{drug} is given twice")
        named[drug] = rule
    return named


class RoundingPolicy(Frozen):
    """An institution's rounding policy file (sample: ``samples/rounding-policy.yaml``)."""

    name: str
    source: str
    max_deviation_percent: Annotated[float, Field(gt=0, le=HOPA_MAX_DEVIATION_PERCENT)]
    drugs: Annotated[dict[str, DrugRounding], BeforeValidator(_canonical_drugs), Field(default_factory=dict)]


def load_policy(path: Path) -> RoundingPolicy:
    return validate(RoundingPolicy, read_yaml(path, "rounding policy"), str(path))


@dataclass(frozen=True)
class Rounded:
    value: Q
    note: str  # "" when the dose was not changed


def significant(value: float, figures: int = DEFAULT_SIGNIFICANT_FIGURES) -> Decimal:
    """``value`` to ``figures`` significant figures, half up, as an exact Decimal."""
    exact = Decimal(str(value))
    if exact == 0:
        return exact
    step = Decimal(1).scaleb(exact.adjusted() - figures + 1)
    return (
        exact.quantize(step, rounding=ROUND_HALF_UP)
        if step < 1
        else (exact / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step
    )


def deviation_percent(final: float, calculated: float) -> float:
    return 0.0 if calculated == 0 else (final - calculated) / calculated * 100


def round_dose(drug: str, calculated: Q, cap: Q | None, policy: RoundingPolicy | None) -> Rounded:
    """Round ``calculated`` by the policy (or the default) and keep it at or below ``cap``."""
    magnitude = float(calculated.magnitude)
    units = calculated._units  # a Unit is built (format_unit) only for a note
    note = ""
    chosen = significant(magnitude)
    rule = policy.drugs.get(drug) if policy else None
    if policy is not None and rule is not None:
        if rule.increment.dimensionality != calculated.dimensionality:
            raise InputError(
                f"drugs.{drug}.increment",
                format_quantity(rule.increment),
                f"cannot round a dose in {format_unit(calculated.units)}",
                source=policy.name,
            )
        increment = magnitude_in(rule.increment, units)
        step = Decimal(str(increment))
        by_policy = (Decimal(str(magnitude)) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step
        limit = rule.max_deviation_percent or policy.max_deviation_percent
        if by_policy > 0 and abs(deviation_percent(float(by_policy), magnitude)) <= limit:
            chosen = by_policy
            note = f"to {format_quantity(rule.increment)} increments per {policy.name}"
        else:
            note = f"{policy.name} increment would move the dose more than {limit:g}%; default rounding"
    final = float(chosen)
    if cap is not None:
        final = min(final, magnitude_in(cap, units))
    if final == magnitude:
        return Rounded(calculated, "")
    change = deviation_percent(final, magnitude)
    sign = "+" if change >= 0 else "−"
    text = f"rounded to {format_number(final)} {format_unit(calculated.units)} ({sign}{format_number(abs(change), 2)}%)"
    return Rounded(quantity(final, units), f"{text} {note}".strip() if note else text)
