"""Independent recalculation of a prescribed order (ASCO/ONS independent double check).

The prescription is matched line by line to the engine's own calculation for the same
patient and regimen (by drug, route and day). Each line gets a verdict; a dose above a cap
is always flagged whatever the tolerance, because a cap is a ceiling, not a target.
Tolerance defaults to 5 % (a common query threshold) and may not exceed 10 % (HOPA); when a
rounding policy allows less, the stricter applies and the report says which one did.

A malformed dose (``0 mg``, ``mg``, text, a negative number) or a drug name the drug table
does not know is bad input (exit 2), never a verdict. A line prescribed twice is a
``duplicate line``; a route the drug's rules forbid (a vinca alkaloid not IV, a drug
intrathecally that is never given so) is a ``wrong route`` and the verification is refused
(exit 3), as ROU001/ROU002 refuse it in a regimen.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from .dosing import Order
from .drugs import drug_table
from .errors import InputError
from .loader import read_yaml
from .models import AnyQuantity, Frozen, validate
from .orderset import OrderSet
from .regimen import ROUTE_SYNONYMS, DoseLine, Route
from .rounding import HOPA_MAX_DEVIATION_PERCENT, RoundingPolicy, deviation_percent
from .rules.route import intrathecal_problem, vinca_problem
from .text import decimal_number
from .units import Q, format_number, format_quantity, json_quantity

Verdict = Literal[
    "ok",
    "outside tolerance",
    "exceeds cap",
    "wrong unit or dimension",
    "not in regimen",
    "missing from prescription",
    "wrong day",
    "duplicate line",
    "wrong route",
]


def _positive(value: Q) -> Q:
    if not value.magnitude > 0:
        raise InputError("dose", format_quantity(value), "a dose must be above zero")
    return value


class PrescribedDose(Frozen):
    drug: Annotated[str, Field(min_length=1)]  # as written; verify() canonicalises it
    day: Annotated[int, Field(ge=0)]
    dose: Annotated[AnyQuantity, AfterValidator(_positive)]
    route: Annotated[Route, BeforeValidator(lambda v: ROUTE_SYNONYMS.get(str(v).lower(), v))] | None = None


class Prescription(Frozen):
    """A prescribed order written elsewhere (design §4, a contract)."""

    regimen: str
    cycle: Annotated[int, Field(ge=1)] | None = None
    doses: Annotated[tuple[PrescribedDose, ...], Field(min_length=1)]
    patient: str | None = None  # batch mode: the patient file, relative to this file


def load_prescription(path: Path) -> Prescription:
    return validate(Prescription, read_yaml(path, "prescription"), str(path))


DEFAULT_TOLERANCE = "5%"  # ``verify --tolerance``'s default; the CDS Hooks dose check uses it too


def parse_tolerance(text: str) -> float:
    """``"5%"`` or ``"5"`` -> 5.0 percent; at most 10 % (HOPA rounding ceiling)."""
    value = decimal_number(text.strip().removesuffix("%"), "--tolerance")
    if not 0 < value <= HOPA_MAX_DEVIATION_PERCENT:
        raise InputError("--tolerance", text, f"must be above 0 and at most {HOPA_MAX_DEVIATION_PERCENT:g}% (HOPA)")
    return value


@dataclass(frozen=True)
class Tolerance:
    """The deviation allowed for a line, and which setting gave it (the stricter wins)."""

    percent: float
    applied: str  # "option --tolerance", or the policy field that was stricter


def tolerance_for(cli_percent: float, policy: RoundingPolicy | None, drug: str | None = None) -> Tolerance:
    """The strictest of ``--tolerance``, the policy's ``max_deviation_percent`` and the
    policy's own limit for ``drug``; a tie goes to ``--tolerance``."""
    choices = [Tolerance(cli_percent, "option --tolerance")]
    if policy is not None:
        choices.append(Tolerance(policy.max_deviation_percent, f"max_deviation_percent of policy {policy.name!r}"))
        rule = policy.drugs.get(drug) if drug is not None else None
        if rule is not None and rule.max_deviation_percent is not None:
            where = f"drugs.{drug}.max_deviation_percent of policy {policy.name!r}"
            choices.append(Tolerance(rule.max_deviation_percent, where))
    return min(choices, key=lambda choice: choice.percent)


@dataclass(frozen=True)
class LineResult:
    drug: str
    day: int
    route: str | None
    prescribed: Q | None
    expected: Q | None
    deviation_percent: float | None
    verdict: Verdict
    detail: str  # the problem in words ("" when ok)
    calculation: str = ""  # the engine's arithmetic for the matched regimen line
    days: tuple[int, ...] = ()  # for "missing from prescription": every missing day of the line
    tolerance: Tolerance | None = None  # the tolerance a compared line was held to

    def as_json(self) -> dict[str, Any]:
        return {
            "drug": self.drug,
            "day": self.day,
            "route": self.route,
            "prescribed": json_quantity(self.prescribed) if self.prescribed is not None else None,
            "expected": json_quantity(self.expected) if self.expected is not None else None,
            "deviation_percent": round(self.deviation_percent, 2) if self.deviation_percent is not None else None,
            "verdict": self.verdict,
            "detail": self.detail,
            "calculation": self.calculation,
            "days": list(self.days or (self.day,)),
            "tolerance_percent": self.tolerance.percent if self.tolerance else None,
            "tolerance_applied": self.tolerance.applied if self.tolerance else None,
        }

    def report_cells(self) -> dict[str, object]:
        """The line as cells of the batch CSV report: quantities as text, as printed."""
        return {
            **self.as_json(),
            "prescribed": format_quantity(self.prescribed) if self.prescribed is not None else "",
            "expected": format_quantity(self.expected) if self.expected is not None else "",
        }


@dataclass(frozen=True)
class Verification:
    order_set: OrderSet
    tolerance: Tolerance  # --tolerance or the policy's, whichever is stricter
    lines: tuple[LineResult, ...]

    @property
    def tolerance_percent(self) -> float:
        return self.tolerance.percent

    @property
    def blocked(self) -> bool:
        """The order set itself is blocked or held by a safety rule (nothing was compared)."""
        return self.order_set.stopped

    @property
    def wrong_route(self) -> bool:
        return any(line.verdict == "wrong route" for line in self.lines)

    @property
    def refused(self) -> bool:
        """Blocked or held, or a prescribed line by a route its drug must never take (exit 3)."""
        return self.blocked or self.wrong_route

    @property
    def passed(self) -> bool:
        return not self.refused and all(line.verdict == "ok" for line in self.lines)

    @property
    def status(self) -> str:
        """``blocked`` or ``held`` as the order set is, ``blocked`` for a wrong route, else the verdicts'."""
        if self.blocked:
            return self.order_set.status
        return "blocked" if self.wrong_route else "ok" if self.passed else "discrepancy"

    def counts(self) -> dict[str, int]:
        return dict(Counter(line.verdict for line in self.lines))


def _hint(prescribed: float, expected: float, order: Order) -> str:
    """Name the classic slips: ten-fold, mg/g (thousand-fold), per-m² written as the total."""
    ratio = prescribed / expected if expected else 0
    if order.basis in ("bsa", "weight") and abs(prescribed - float(order.dose.magnitude)) < 1e-9:
        return f": looks like the per-{'m²' if order.basis == 'bsa' else 'kg'} dose written as the total"
    for factor, name in ((1000, "a unit slip (mg/g or mcg/mg)"), (10, "a ten-fold error")):
        if abs(ratio / factor - 1) < 0.15 or (ratio and abs(factor * ratio - 1) < 0.15):
            return f": looks like {name}"
    return ""


def check_line(dose: PrescribedDose, order: Order, allowed: Tolerance) -> LineResult:
    """One prescribed dose against the engine's order for its line: the comparison ``verify``
    makes, for callers that matched the line themselves (the CDS Hooks draft-order check)."""
    return _check(dose, order, allowed)


def _check(dose: PrescribedDose, order: Order, allowed: Tolerance) -> LineResult:
    expected, prescribed, route, tolerance = order.expected, dose.dose, order.line.route, allowed.percent

    def result(change: float | None, verdict: Verdict, detail: str) -> LineResult:
        return LineResult(
            dose.drug, dose.day, route, prescribed, expected, change, verdict, detail, order.calculation, (), allowed
        )

    if prescribed.dimensionality != expected.dimensionality:
        per_basis = prescribed.dimensionality == order.dose.dimensionality and order.basis in ("bsa", "weight")
        hint = " (a per-basis dose where the calculated total is expected)" if per_basis else ""
        return result(
            None,
            "wrong unit or dimension",
            f"prescribed {format_quantity(prescribed)}, expected a dose like {format_quantity(expected)}{hint}",
        )
    value = float(prescribed.to(expected.units).magnitude)
    change = deviation_percent(value, float(expected.magnitude))
    if abs(float(prescribed.to(order.final.units).magnitude) - float(order.final.magnitude)) < 1e-9:
        # The engine's own dose is never a discrepancy: a whole syringe or tablets the regimen's
        # source asks for may sit beyond the tolerance of the arithmetic (filgrastim 300 mcg for 360).
        return result(change, "ok", "")
    ceiling = order.maximum
    if ceiling is not None and prescribed.to(ceiling.units) > ceiling:
        return result(
            change, "exceeds cap", f"{format_quantity(prescribed)} is above the {format_quantity(ceiling)} cap"
        )
    if abs(change) > tolerance:
        sign = "+" if change >= 0 else "−"
        return result(
            change,
            "outside tolerance",
            f"{sign}{format_number(abs(change), 1)}% against a tolerance of "
            f"{tolerance:g}% ({allowed.applied})" + _hint(value, float(expected.magnitude), order),
        )
    return result(change, "ok", "")


def canonical_prescription(prescription: Prescription) -> Prescription:
    """Drug names as the drug table spells them (an unknown name is bad input, exit 2)."""
    doses = tuple(
        dose.model_copy(update={"drug": drug_table().canonical(dose.drug, f"doses.{n}.drug")})
        for n, dose in enumerate(prescription.doses)
    )
    return prescription.model_copy(update={"doses": doses})


def compare(order_set: OrderSet, prescription: Prescription, tolerance_percent: float) -> Verification:
    """Compare a prescription (drug names canonical) line by line with the independent
    recalculation; the order set carries the preparer's acknowledgements of holds and the
    prescriber's dose changes, each with its reason, as they apply to the recalculation."""
    regimen, options = order_set.regimen, order_set.options
    overall = tolerance_for(tolerance_percent, options.policy)
    if order_set.stopped:
        return Verification(order_set, overall, ())
    policy = options.policy
    doses = prescription.doses
    orders = order_set.orders
    matched: set[tuple[int, int]] = set()  # (order index, day)
    results: list[LineResult] = []
    for dose in doses:
        problem = route_problem(dose)
        if problem is not None:
            results.append(_unmatched(dose, "wrong route", problem))
            continue
        candidates = [
            (i, o)
            for i, o in enumerate(orders)
            if o.drug == dose.drug and (dose.route is None or o.line.route == dose.route)
        ]
        if not candidates:
            where = f"{dose.drug}{' ' + dose.route if dose.route else ''}"
            results.append(
                _unmatched(dose, "not in regimen", f"{where} is not part of {regimen.name} cycle {options.cycle}")
            )
            continue
        on_day = [(i, o) for i, o in candidates if dose.day in o.line.days]
        if not on_day:
            days = ", ".join(map(str, sorted({d for _, o in candidates for d in o.line.days})))
            results.append(_unmatched(dose, "wrong day", f"{dose.drug} is given on days {days} in {regimen.name}"))
            continue
        free = [(i, o) for i, o in on_day if (i, dose.day) not in matched]
        if not free:
            lines = f"{len(on_day)} line{'s' if len(on_day) > 1 else ''}"
            detail = f"{dose.drug} day {dose.day} is prescribed more than once ({regimen.name} has {lines} that day)"
            results.append(_unmatched(dose, "duplicate line", detail))
            continue
        index, order = min(free, key=lambda pair: _distance(dose.dose, pair[1].expected))
        matched.add((index, dose.day))
        results.append(_check(dose, order, tolerance_for(tolerance_percent, policy, dose.drug)))
    for index, order in enumerate(orders):
        missing = tuple(day for day in order.line.days if (index, day) not in matched)
        if missing:
            listed = ", ".join(map(str, missing))
            results.append(
                LineResult(
                    order.drug,
                    missing[0],
                    order.line.route,
                    None,
                    order.expected,
                    None,
                    "missing from prescription",
                    f"{format_quantity(order.final)} on day(s) {listed} is in the regimen",
                    order.calculation,
                    missing,
                )
            )
    return Verification(order_set, overall, tuple(results))


def route_problem(dose: PrescribedDose) -> str | None:
    """Why the prescribed route is never allowed for this drug (the ROU001/ROU002 checks)."""
    if dose.route is None:
        return None
    line = DoseLine.model_construct(drug=dose.drug, route=dose.route, days=(dose.day,), source=())
    return vinca_problem(line) or intrathecal_problem(line)


def _unmatched(dose: PrescribedDose, verdict: Verdict, detail: str) -> LineResult:
    """A prescribed line with no regimen line to compare against."""
    return LineResult(dose.drug, dose.day, dose.route, dose.dose, None, None, verdict, detail)


def _distance(prescribed: Q, expected: Q) -> float:
    """How far apart two doses are (relative), or infinity when they cannot be compared."""
    if prescribed.dimensionality != expected.dimensionality:
        return float("inf")
    return abs(deviation_percent(float(prescribed.to(expected.units).magnitude), float(expected.magnitude)))


def to_json(result: Verification) -> dict[str, Any]:
    from .orderset import to_json as order_set_json

    calc = order_set_json(result.order_set)
    return {
        "status": result.status,
        "disclaimer": calc["disclaimer"],
        "tolerance_percent": result.tolerance_percent,
        "tolerance_applied": result.tolerance.applied,
        "patient": calc["patient"],
        "regimen": calc["regimen"],
        "findings": calc["findings"],
        "lines": [line.as_json() for line in result.lines],
        "summary": result.counts(),
    }
