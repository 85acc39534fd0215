"""A prescriber's or pharmacist's dose change: by percent or to an amount, always with a reason.

Order-entry systems let a clinician lower a dose from the regimen's (a reduction for toxicity
seen in the last cycle, say) but treat a dose above the standard as an exception that needs
someone to stand behind it (DOS003 cites the practice). Here a change:

- acts on the final dose the order would print, after the organ-function bands, so that a
  "−20 %" on a renally reduced dose is −20 % of what would be given;
- needs a reason, which prints on the order and in the calc record;
- may never go above the line's hard ceiling (its cap, or the carboplatin FDA maximum):
  refused as bad input, so nothing can print it;
- above the dose before the change is a DOS003 hold until acknowledged with a reason.

A change names a drug of the order set (by any name ``drugs.yaml`` knows) and, when the drug
has lines by several routes in the cycle (methotrexate IV and intrathecal), the route: a
reduction meant for a systemic dose must never reach an intrathecal one by accident.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .dosing import Calculation, Change, MissingInput, Options, Order
from .drugs import drug_table
from .errors import InputError
from .quantities import parse_quantity
from .regimen import ROUTE_SYNONYMS, dose_basis
from .units import Q, format_number, format_quantity

_PERCENT = re.compile(r"^\s*([+-]\s*\d+(?:\.\d+)?)\s*%\s*$", re.ASCII)  # "-٢٠%" is not -20 %
_MAX_REASON = 500


@dataclass(frozen=True)
class DoseChange:
    """One requested change: exactly one of ``percent`` (−20 = a fifth less) or ``dose``."""

    drug: str
    percent: float | None
    dose: Q | None
    reason: str
    route: str | None = None

    def __post_init__(self) -> None:
        field = f"--change {self.drug}"
        if (self.percent is None) == (self.dose is None):
            raise InputError(field, self.requested, "give a percent (-20%) or a dose (600 mg), not both or neither")
        if self.percent is not None and not -100 < self.percent <= 100:
            raise InputError(field, self.requested, "a percent change must be above -100% and at most +100%")
        if self.dose is not None and not self.dose.magnitude > 0:
            raise InputError(field, self.requested, "a changed dose must be above zero (omit the drug instead)")
        if not self.reason.strip():
            raise InputError("--change-reason", self.reason, f"a change to {self.drug} needs a reason")
        if len(self.reason) > _MAX_REASON:
            raise InputError("--change-reason", self.reason[:40] + "…", f"at most {_MAX_REASON} characters")

    @property
    def requested(self) -> str:
        if self.percent is not None:
            return f"{self.percent:+g}%"
        assert self.dose is not None
        return format_quantity(self.dose).replace(",", "")  # parsed again: no thousands separator

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {"drug": self.drug, "change": self.requested, "reason": self.reason}
        if self.route is not None:
            data["route"] = self.route
        return data


def parse_change(text: str, reason: str) -> DoseChange:
    """``DRUG=-20%``, ``DRUG=600 mg`` or ``DRUG@ROUTE=…``, by the strict quantity grammar.

    A percent needs its sign (``-20%`` or ``+10%``): "20%" could mean "to 20 %" or "by 20 %".
    """
    name, equals, value = text.partition("=")
    if not equals or not name.strip() or not value.strip():
        raise InputError("--change", text, "expected DRUG=-20% or DRUG=600mg")
    drug_text, at, route_text = name.partition("@")
    drug = drug_table().canonical(drug_text.strip(), "--change")
    route = None
    if at:
        route = ROUTE_SYNONYMS.get(route_text.strip().lower())
        if route is None:
            raise InputError("--change", text, f"unknown route {route_text.strip()!r}")
    match = _PERCENT.match(value)
    if match:
        return DoseChange(drug, float(match.group(1).replace(" ", "")), None, reason, route)
    if "%" in value:
        raise InputError("--change", text, "a percent needs its sign: -20% (less) or +10% (more)")
    return DoseChange(drug, None, parse_quantity(value.strip(), "--change"), reason, route)


def from_json(data: dict[str, object]) -> DoseChange:
    """A change as stored with an order (``as_json``), parsed again by the same grammar."""
    route = data.get("route")
    text = f"{data['drug']}{'@' + str(route) if route else ''}={data['change']}"
    return parse_change(text, str(data["reason"]))


def apply_changes(calculation: Calculation, changes: Sequence[DoseChange], options: Options) -> Calculation:
    """Each change applied to the final doses of its lines; bad or unsafe requests exit 2."""
    if not changes:
        return calculation
    seen: set[tuple[str, str | None]] = set()
    orders = list(calculation.orders)
    missing = list(calculation.missing)
    for change in changes:
        if any(d == change.drug and (None in (r, change.route) or r == change.route) for d, r in seen):
            raise InputError("--change", change.drug, "one change per drug (and route)")
        seen.add((change.drug, change.route))
        gap = _gap_for(change, orders, missing)
        if gap is not None:
            missing.remove(gap)
            orders.append(_supply(gap, change))
            continue
        indexes = _lines_for(change, orders)
        for index in indexes:
            orders[index] = _apply(orders[index], change, options)
    return dataclasses.replace(calculation, orders=tuple(_follow(orders, options)), missing=tuple(missing))


def _gap_for(change: DoseChange, orders: list[Order], missing: list[MissingInput]) -> MissingInput | None:
    """The line held by DOS004 (no dose in the library for this patient) this change supplies."""
    gaps = [
        g
        for g in missing
        if g.rule == "DOS004" and g.line is not None and g.drug == change.drug
        if change.route is None or g.line.route == change.route
    ]
    if not gaps:
        return None
    field = f"--change {change.drug}"
    if change.route is None and any(o.drug == change.drug for o in orders):
        routes = sorted(
            {o.line.route for o in orders if o.drug == change.drug} | {g.line.route for g in gaps if g.line}
        )
        raise InputError(field, change.requested, f"{change.drug} is given by {', '.join(routes)}: name the route")
    if change.dose is None:
        raise InputError(field, change.requested, "the library gives no dose to change by a percent: give the amount")
    if len(gaps) > 1:
        raise InputError(field, change.requested, f"{change.drug} has {len(gaps)} lines without a dose here")
    return gaps[0]


def _supply(gap: MissingInput, change: DoseChange) -> Order:
    """An order line whose dose a pharmacist supplied, with its source, where the library has none."""
    assert gap.line is not None and change.dose is not None
    dose = change.dose
    if dose_basis(dose) != "flat":
        raise InputError(f"--change {change.drug}", change.requested, "give the amount to give (e.g. 30 mg)")
    text = f"not in the library for this patient; {format_quantity(dose)} supplied ({change.reason})"
    applied = Change(change.requested, change.reason, 100.0, dose, dose)
    line = gap.line
    administrations = line.doses if line.doses is not None else len(line.days)
    return Order(
        line=line,
        basis="flat",
        dose=dose,
        alternative=None,
        calculated=dose,
        final=dose,
        cap=line.cap,
        capped=False,
        rounded=False,
        calculation=text,
        administrations=administrations,
        change=applied,
    )


def _follow(orders: list[Order], options: Options) -> list[Order]:
    """A line given as a percentage of a changed drug (mesna with ifosfamide) changes with it."""
    leaders = {o.drug: o for o in orders if o.change is not None}
    followed = []
    for order in orders:
        leader = leaders.get(order.line.scales_with or "")
        if leader is None or leader.change is None or order.change is not None:
            followed.append(order)
            continue
        factor = leader.final.magnitude / leader.change.before.to(leader.final.units).magnitude
        new = order.scaled(factor, options)
        standard = order.modification.full if order.modification is not None else order.final
        percent = float(new.magnitude / order.final.magnitude * 100)
        requested = f"follows {leader.drug}"
        applied = Change(requested, leader.change.reason, percent, order.final, standard)
        text = f"{order.calculation}; {requested} ({leader.change.reason}) = {format_quantity(new)}"
        followed.append(dataclasses.replace(order, final=new, calculation=text, change=applied))
    return followed


def _lines_for(change: DoseChange, orders: list[Order]) -> list[int]:
    field = f"--change {change.drug}"
    found = [i for i, o in enumerate(orders) if o.drug == change.drug]
    if not found:
        raise InputError(field, change.requested, "this drug is not in the order set for this cycle")
    routes = {orders[i].line.route for i in found}
    if change.route is not None:
        found = [i for i in found if orders[i].line.route == change.route]
        if not found:
            raise InputError(field, change.route, f"{change.drug} is given here by {', '.join(sorted(routes))} only")
    elif len(routes) > 1:
        raise InputError(
            field,
            change.requested,
            f"{change.drug} is given by {', '.join(sorted(routes))}: name the route, e.g. {change.drug}@IV=…",
        )
    if change.dose is not None and len(found) > 1:
        raise InputError(field, change.requested, f"{change.drug} has {len(found)} lines here: change it by a percent")
    return found


def _apply(order: Order, change: DoseChange, options: Options) -> Order:
    field = f"--change {change.drug}"
    before = order.final
    standard = order.modification.full if order.modification is not None else before
    if change.dose is not None:
        if change.dose.dimensionality != before.dimensionality:
            raise InputError(
                field, change.requested, f"the order is in {before.units:~P}: give the dose in that kind of unit"
            )
        new = change.dose.to(before.units)
    else:
        assert change.percent is not None
        new = order.scaled((100 + change.percent) / 100, options)
    ceiling = order.maximum
    if ceiling is not None and ceiling.dimensionality == new.dimensionality and new > ceiling:
        raise InputError(
            field, change.requested, f"{format_quantity(new)} is above the {format_quantity(ceiling)} maximum: refused"
        )
    percent = float(new.magnitude / before.magnitude * 100)
    applied = Change(change.requested, change.reason, percent, before, standard)
    text = (
        f"{order.calculation}; prescriber's change {change.requested} ({change.reason}) = {format_quantity(new)} "
        f"({format_number(percent, 1)}% of {format_quantity(before)})"
    )
    return dataclasses.replace(order, final=new, calculation=text, change=applied)
