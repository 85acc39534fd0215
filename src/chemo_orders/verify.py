"""Independent recalculation of a prescribed order (ASCO/ONS independent double check).

The prescription is matched line by line to the engine's own calculation for the same
patient and regimen (by drug, route and day). Each line gets a verdict; a dose above a cap
is always flagged whatever the tolerance, because a cap is a ceiling, not a target.
Tolerance defaults to 5 % (a common query threshold) and may not exceed 10 % (HOPA).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from .dosing import Options, Order
from .errors import InputError
from .loader import read_yaml
from .models import AnyQuantity, Frozen, validate
from .orderset import OrderSet, build
from .patient import Patient
from .regimen import ROUTE_SYNONYMS, Route, load_regimen
from .rounding import HOPA_MAX_DEVIATION_PERCENT, deviation_percent
from .units import Q, format_number, format_quantity, json_quantity

Verdict = Literal[
    "ok",
    "outside tolerance",
    "exceeds cap",
    "wrong unit or dimension",
    "not in regimen",
    "missing from prescription",
    "wrong day",
]


class PrescribedDose(Frozen):
    drug: Annotated[str, BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v)]
    day: Annotated[int, Field(ge=0)]
    dose: AnyQuantity
    route: Annotated[Route, BeforeValidator(lambda v: ROUTE_SYNONYMS.get(str(v).lower(), v))] | None = None


class Prescription(Frozen):
    """A prescribed order written elsewhere (design §4, a contract)."""

    regimen: str
    cycle: Annotated[int, Field(ge=1)] | None = None
    doses: Annotated[tuple[PrescribedDose, ...], Field(min_length=1)]
    patient: str | None = None  # batch mode: the patient file, relative to this file


def load_prescription(path: Path) -> Prescription:
    return validate(Prescription, read_yaml(path, "prescription"), str(path))


def parse_tolerance(text: str) -> float:
    """``"5%"`` or ``"5"`` -> 5.0 percent; at most 10 % (HOPA rounding ceiling)."""
    raw = text.strip().rstrip("%").strip()
    try:
        value = float(raw)
    except ValueError:
        raise InputError("--tolerance", text, "expected a percentage such as 5%") from None
    if not 0 < value <= HOPA_MAX_DEVIATION_PERCENT:
        raise InputError("--tolerance", text, f"must be above 0 and at most {HOPA_MAX_DEVIATION_PERCENT:g}% (HOPA)")
    return value


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
        }


@dataclass(frozen=True)
class Verification:
    order_set: OrderSet
    tolerance_percent: float
    lines: tuple[LineResult, ...]

    @property
    def blocked(self) -> bool:
        return self.order_set.blocked

    @property
    def passed(self) -> bool:
        return not self.blocked and all(line.verdict == "ok" for line in self.lines)

    @property
    def status(self) -> str:
        return "blocked" if self.blocked else "ok" if self.passed else "discrepancy"

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


def _check(dose: PrescribedDose, order: Order, tolerance: float) -> LineResult:
    expected, prescribed, route = order.expected, dose.dose, order.line.route

    def result(change: float | None, verdict: Verdict, detail: str) -> LineResult:
        return LineResult(dose.drug, dose.day, route, prescribed, expected, change, verdict, detail, order.calculation)

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
            f"{tolerance:g}%" + _hint(value, float(expected.magnitude), order),
        )
    return result(change, "ok", "")


def verify(
    patient: Patient, prescription: Prescription, options: Options, tolerance_percent: float, input_text: bytes = b""
) -> Verification:
    regimen = load_regimen(prescription.regimen)
    order_set = build(patient, regimen, options, input_text=input_text)
    if order_set.blocked:
        return Verification(order_set, tolerance_percent, ())
    policy = options.policy
    orders = order_set.orders
    matched: set[tuple[int, int]] = set()  # (order index, day)
    results: list[LineResult] = []
    for dose in prescription.doses:
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
        on_day = [(i, o) for i, o in candidates if dose.day in o.line.days and (i, dose.day) not in matched]
        if not on_day:
            days = ", ".join(map(str, sorted({d for _, o in candidates for d in o.line.days})))
            results.append(_unmatched(dose, "wrong day", f"{dose.drug} is given on days {days} in {regimen.name}"))
            continue
        index, order = min(on_day, key=lambda pair: _distance(dose.dose, pair[1].expected))
        matched.add((index, dose.day))
        rule = policy.drugs.get(dose.drug) if policy else None
        tolerance = rule.max_deviation_percent if rule and rule.max_deviation_percent else tolerance_percent
        results.append(_check(dose, order, tolerance))
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
    return Verification(order_set, tolerance_percent, tuple(results))


def _unmatched(dose: PrescribedDose, verdict: Verdict, detail: str) -> LineResult:
    """A prescribed line with no regimen line to compare against."""
    return LineResult(dose.drug, dose.day, dose.route, dose.dose, None, None, verdict, detail)


def _distance(prescribed: Q, expected: Q) -> float:
    """How far apart two doses are (relative), or infinity when they cannot be compared."""
    if prescribed.dimensionality != expected.dimensionality:
        return float("inf")
    return abs(deviation_percent(float(prescribed.to(expected.units).magnitude), float(expected.magnitude)))


def load_and_verify(patient_path: Path, prescription_path: Path, options_for: Any, tolerance: float) -> Verification:
    """Load both files and verify; ``options_for(regimen)`` builds the calculation options."""
    from .patient import load_patient

    prescription = load_prescription(prescription_path)
    patient = load_patient(patient_path)
    regimen = load_regimen(prescription.regimen)
    options: Options = options_for(prescription.cycle or regimen.first_cycle())
    text = patient_path.read_bytes() + prescription_path.read_bytes()
    return verify(patient, prescription, options, tolerance, text)


def to_json(result: Verification) -> dict[str, Any]:
    from .orderset import to_json as order_set_json

    calc = order_set_json(result.order_set)
    return {
        "status": result.status,
        "disclaimer": calc["disclaimer"],
        "tolerance_percent": result.tolerance_percent,
        "patient": calc["patient"],
        "regimen": calc["regimen"],
        "findings": calc["findings"],
        "lines": [line.as_json() for line in result.lines],
        "summary": result.counts(),
    }
