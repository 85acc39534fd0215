"""What can actually be given: tablets, syringes and vials per drug (``products.yaml``, cited).

A review found 51.5 mg/day of mercaptopurine and 13.7 mg of oral methotrexate printed on orders
(no tablet makes them) and filgrastim at 360 mcg under a note saying "round to a whole
syringe": the nurse was left to do arithmetic the order should have done. Here an oral dose is
made of its listed tablets (halves only where the label says the tablet is scored), the
nearest amount within the rounding limit, with the tablets written out; a line whose source
says "nearest whole syringe" gets the nearest single presentation. Where no combination is
within the limit, the dose is left as calculated and the order says so: a pharmacist decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from .loader import read_package_yaml
from .models import AnyQuantity, Frozen, check_cited, validate
from .regimen import CitedTable, Route
from .units import Q, format_number, format_quantity, quantity

SOLID_FORMS = ("tablet", "capsule")
MAX_UNITS = 12  # tablets in one administration a pharmacy would dispense before asking for another strength


class Presentation(Frozen):
    form: Literal["tablet", "capsule", "syringe", "vial", "oral solution", "oral suspension", "injection"]
    route: Route
    strength: AnyQuantity  # per tablet, syringe or vial; per mL for a liquid
    scored: bool = False
    note: str | None = None
    source: Annotated[tuple[str, ...], Field(min_length=1)]


class ProductTable(CitedTable):
    products: dict[str, tuple[Presentation, ...]]

    def presentations(self, drug: str, route: str, forms: tuple[str, ...]) -> tuple[Presentation, ...]:
        return tuple(p for p in self.products.get(drug, ()) if p.route == route and p.form in forms)


@cache
def product_table() -> ProductTable:
    path = Path(__file__).with_name("products.yaml")
    table = validate(ProductTable, read_package_yaml(path, "product table"), str(path))
    cited = ((f"products.{d}.{i}", p.source) for d, items in table.products.items() for i, p in enumerate(items))
    check_cited(table.sources, cited, str(path))
    return table


@dataclass(frozen=True)
class Made:
    """A dose made of presentations: the amount and how (``2 × 20 mg + 1 × 5 mg tablets``)."""

    amount: Q
    text: str
    deviation_percent: float


Piece = tuple[float, str, bool]  # a presentation as the arithmetic sees it: strength, label, scored


def _units_of(presentations: tuple[Presentation, ...], unit: object) -> tuple[Piece, ...]:
    return tuple((_strength(p, unit), f"{format_quantity(p.strength)} {p.form}", p.scored) for p in presentations)


def make_from_tablets(target: Q, presentations: tuple[Presentation, ...], limit_percent: float) -> Made | None:
    """The amount nearest ``target`` made of at most MAX_UNITS units (fewest units for that
    amount), within ``limit_percent``; ties go to the lower dose."""
    if target.magnitude <= 0:
        return None
    found = _combination(float(target.magnitude), _units_of(presentations, target.units), limit_percent)
    if found is None:
        return None
    total, text, deviation = found
    return Made(quantity(total, target.units), text, deviation)


@lru_cache(maxsize=4096)
def _combination(goal_amount: float, units: tuple[Piece, ...], limit_percent: float) -> tuple[float, str, float] | None:
    """The search of :func:`make_from_tablets` over plain values, kept per question: a flat
    oral dose (dexamethasone 40 mg) is asked again on every recalculation, and the search over
    up to MAX_UNITS tablets is the costliest step of an order line."""
    steps = _steps(units)
    if not steps:
        return None
    goal = Decimal(str(goal_amount))
    best: dict[Decimal, tuple[int, ...]] = {Decimal(0): ()}
    frontier: dict[Decimal, tuple[int, ...]] = {Decimal(0): ()}
    ceiling = goal * Decimal(1 + limit_percent / 100)
    for _ in range(MAX_UNITS):
        grown: dict[Decimal, tuple[int, ...]] = {}
        for total, used in frontier.items():
            for index, (amount, _) in enumerate(steps):
                if used and index < used[-1]:
                    continue  # combinations, not orderings: larger units first
                new = total + amount
                if new <= ceiling and new not in best and new not in grown:
                    grown[new] = (*used, index)
        best.update(grown)
        frontier = grown
        if not frontier:
            break
    candidates = [(abs(total - goal), total) for total in best if total > 0]
    if not candidates:
        return None
    _, total = min(candidates)
    deviation = float((total - goal) / goal * 100)
    if abs(deviation) > limit_percent:
        return None
    counts: dict[str, int] = {}
    for index in best[total]:
        counts[steps[index][1]] = counts.get(steps[index][1], 0) + 1
    made = " + ".join(f"{n} × {label}" for label, n in counts.items())
    return float(total), made.replace("1 × ½ ×", "½ ×"), deviation


def _steps(units: tuple[Piece, ...]) -> list[tuple[Decimal, str]]:
    """(amount in the dose's unit, label) of each unit a dose can be made of: whole tablets, and
    half tablets where the label says scored."""
    steps: list[tuple[Decimal, str]] = []
    for strength, label, scored in units:
        whole = Decimal(str(strength))
        steps.append((whole, label))
        if scored:
            steps.append((whole / 2, f"½ × {label}"))
    return sorted(set(steps), reverse=True)


def _strength(presentation: Presentation, units: object) -> float:
    """A presentation's strength in the dose's unit, converted once per unit (hot path)."""
    key = (id(presentation), units)
    if key not in _STRENGTHS:
        _STRENGTHS[key] = float(presentation.strength.to(units).magnitude)  # type: ignore[arg-type]
    return _STRENGTHS[key]


_STRENGTHS: dict[tuple[int, object], float] = {}


def nearest_single(target: Q, presentations: tuple[Presentation, ...]) -> Made | None:
    """The single presentation nearest ``target`` (a whole syringe), ties to the lower."""
    if not presentations or target.magnitude <= 0:
        return None
    goal = float(target.magnitude)
    amounts = [(_strength(p, target.units), index) for index, p in enumerate(presentations)]
    _, amount, index = min((abs(amount - goal), amount, index) for amount, index in amounts)
    chosen = presentations[index]
    deviation = (amount - goal) / goal * 100
    return Made(quantity(amount, target.units), f"1 × {format_quantity(chosen.strength)} {chosen.form}", deviation)


def describe(made: Made, calculated: Q) -> str:
    sign = "+" if made.deviation_percent >= 0 else "−"
    return (
        f"made as {made.text} = {format_quantity(made.amount)} "
        f"({sign}{format_number(abs(made.deviation_percent), 1)}% of {format_quantity(calculated)})"
    )
