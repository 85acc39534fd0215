"""The OrderSet: everything one patient's cycle needs, computed once; outputs only read it.

``status`` is ``blocked`` when any finding is a block, ``held`` when a hold-level finding has
not been acknowledged by a pharmacist (design §10.2); either way the order set keeps its
findings but exposes no orders, so no output format can print a dose that must not be given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from . import DISCLAIMER, __version__
from .body import BSA_FORMULAS, COCKCROFT_GAULT_CITATION
from .changes import DoseChange, apply_changes
from .dosing import Calculation, Options, Order, calculate_regimen
from .drugs import drug_table
from .errors import InputError
from .modifications import adjust
from .patient import Patient
from .regimen import ROUTE_DISPLAY, Regimen
from .rules import BY_CODE, Context, Finding, run_rules
from .units import CM, KG, M2, ML_PER_MIN, json_quantity, magnitude_in


@dataclass(frozen=True)
class Acknowledgement:
    code: str
    reason: str


@dataclass(frozen=True)
class OrderSet:
    patient: Patient
    regimen: Regimen
    options: Options
    calculation: Calculation
    findings: tuple[Finding, ...]
    acknowledgements: tuple[Acknowledgement, ...]
    input_hash: str
    omitted: tuple[Order, ...] = ()  # lines a band's "omit" removed (shown, never ordered)
    changes: tuple[DoseChange, ...] = ()  # the prescriber's changes asked for (applied to orders)

    @property
    def blocked(self) -> bool:
        return any(f.severity == "block" for f in self.findings)

    @property
    def held(self) -> bool:
        """A hold not yet acknowledged: the order stops until a pharmacist gives a reason."""
        acknowledged = {a.code for a in self.acknowledgements}
        return any(f.severity == "hold" and f.rule not in acknowledged for f in self.findings)

    @property
    def status(self) -> str:
        return "blocked" if self.blocked else "held" if self.held else "ok"

    @property
    def stopped(self) -> bool:
        """Blocked or held: nothing may be printed or prepared."""
        return self.status != "ok"

    @property
    def orders(self) -> tuple[Order, ...]:
        return () if self.stopped else self.calculation.orders

    @property
    def holding(self) -> tuple[Finding, ...]:
        acknowledged = {a.code for a in self.acknowledgements}
        return tuple(f for f in self.findings if f.severity == "hold" and f.rule not in acknowledged)

    @property
    def blocking(self) -> tuple[Finding, ...]:
        """The findings that stop this order: every block, and every hold not acknowledged."""
        return tuple(f for f in self.findings if f.severity == "block") + self.holding


def build(
    patient: Patient,
    regimen: Regimen,
    options: Options,
    acknowledgements: tuple[Acknowledgement, ...] = (),
    input_text: bytes = b"",
    changes: tuple[DoseChange, ...] = (),
) -> OrderSet:
    """Calculate, apply the organ-function bands and then the prescriber's changes, run every
    rule, and check the acknowledgements.

    An acknowledgement names a hold or a warning and carries a reason; acknowledging a rule
    whose band reduced or omitted a dose keeps the full dose (the reason prints on the order).
    A change acts on the dose the order would print (after the bands); see :mod:`.changes`.
    """
    regimen.check_cycle(options.cycle)
    if regimen.status != "reference" and not regimen.lines_for_cycle(options.cycle):
        raise InputError("--cycle", options.cycle, f"{regimen.name} gives no drugs in cycle {options.cycle}")
    for ack in acknowledgements:
        if ack.code not in BY_CODE:
            raise InputError("--acknowledge", ack.code, "no such rule")
        if not ack.reason.strip():
            raise InputError("--reason", ack.reason, "an acknowledgement needs a reason")
    calculation = calculate_regimen(patient, regimen, options)
    if regimen.status == "reference":
        # Nothing is calculated from a regimen whose doses no source confirms: REG001 says why.
        calculation = dataclasses.replace(calculation, orders=(), missing=())
    adjusted = adjust(calculation, patient, regimen, options, frozenset(a.code for a in acknowledgements))
    changed = apply_changes(adjusted.calculation, changes, options)
    context = Context(patient, regimen, changed, options, adjusted.verdicts)
    findings = tuple(run_rules(context))
    for ack in acknowledgements:
        raised = {f.severity for f in findings if f.rule == ack.code}
        if "block" in raised:
            raise InputError("--acknowledge", ack.code, "block-level findings cannot be overridden")
        if not raised & {"hold", "warn"}:
            raise InputError("--acknowledge", ack.code, "no hold or warning with this code to acknowledge")
    # Indicated, nothing stops it, and still nothing to give: the cycle is the problem (a
    # regimen not meant for the patient is blocked by its rule above instead).
    blocked = any(f.severity == "block" for f in findings)
    if regimen.status == "active" and not calculation.orders and not calculation.missing and not blocked:
        problem = f"{regimen.name} gives this patient no drugs in cycle {options.cycle}"
        raise InputError("--cycle", options.cycle, problem)
    digest = hashlib.sha256(input_text).hexdigest()[:16]
    return OrderSet(patient, regimen, options, changed, findings, acknowledgements, digest, adjusted.omitted, changes)


def order_json(order: Order) -> dict[str, Any]:
    line = order.line
    data: dict[str, Any] = {
        "drug": order.drug,
        "display_name": drug_table().display_name(order.drug),
        "role": line.role,
        "route": line.route,
        "route_display": ROUTE_DISPLAY[line.route],
        "days": list(line.days),
        "basis": order.basis,
        "dose": json_quantity(order.dose),
        "calculated": json_quantity(order.calculated),
        "final": json_quantity(order.final),
        "capped": order.capped,
        "rounded": order.rounded,
        "calculation": order.calculation,
        "administrations": order.administrations,
        "course_total": json_quantity(order.course_total),
    }
    if order.cap is not None:
        data["cap"] = json_quantity(order.cap)
    if order.per_administration is not None and line.divided is not None:
        data["divided"] = line.divided
        data["per_administration"] = json_quantity(order.per_administration)
    if line.every is not None:
        data["every"] = json_quantity(line.every)
    for key in ("duration",):
        value = getattr(line, key)
        if value is not None:
            data[key] = json_quantity(value)
    for key in ("rate", "diluent", "sequence", "note"):
        value = getattr(line, key)
        if value is not None:
            data[key] = value
    if order.notes:
        data["notes"] = list(order.notes)
    if order.modification is not None:
        change = order.modification
        data["modified"] = {
            "percent": change.percent,
            "rule": change.rule,
            "band": change.band,
            "source": change.source,
            "full": json_quantity(change.full),
        }
    if order.change is not None:
        applied = order.change
        data["changed"] = {
            "rule": "DOS003",
            "change": applied.requested,
            "reason": applied.reason,
            "percent": round(applied.percent, 2),
            "before": json_quantity(applied.before),
            "standard": json_quantity(applied.standard),
        }
    data["sources"] = list(line.source)
    return data


def to_json(order_set: OrderSet) -> dict[str, Any]:
    """The ``calc --json`` contract (design §5), with extra fields added, never renamed.
    ``changes`` appears only when a change was asked for (stored records stay comparable)."""
    data = _to_json(order_set)
    if order_set.changes:
        data["changes"] = [c.as_json() for c in order_set.changes]
    return data


def _to_json(order_set: OrderSet) -> dict[str, Any]:
    body = order_set.calculation.body
    patient, regimen = order_set.patient, order_set.regimen
    return {
        "status": order_set.status,
        "disclaimer": DISCLAIMER,
        "patient": {
            "id": patient.id,
            "age_years": body.age_years,
            "sex": patient.sex,
            "diagnosis": patient.diagnosis,
            "disease_status": patient.disease_status,
            "height_cm": round(float(magnitude_in(patient.height, CM)), 1),
            "weight_kg": round(float(magnitude_in(patient.weight, KG)), 2),
            "bsa_m2": float(magnitude_in(body.bsa, M2)),
            "bsa_formula": body.bsa_formula,
            "bsa_formula_citation": BSA_FORMULAS[body.bsa_formula].citation,
            "crcl_ml_min": float(magnitude_in(body.crcl, ML_PER_MIN)) if body.crcl is not None else None,
            "crcl_method": body.crcl_note,
            "crcl_citation": COCKCROFT_GAULT_CITATION,
            "bmi": round(body.bmi, 1),
            **({"source_notes": list(patient.source_notes)} if patient.source_notes else {}),
        },
        "regimen": {
            "id": regimen.id,
            "name": regimen.name,
            "version": regimen.version,
            "category": regimen.category,
            "cycle": order_set.options.cycle,
        },
        "calculated_on": order_set.options.on.isoformat(),
        "findings": [f.as_json() for f in order_set.findings],
        "acknowledgements": [{"rule": a.code, "reason": a.reason} for a in order_set.acknowledgements],
        "orders": [order_json(o) for o in order_set.orders],
        "omitted": [{"drug": o.drug, "days": list(o.line.days)} for o in order_set.omitted],
        "input_hash": order_set.input_hash,
        "engine": f"chemo-orders {__version__}",
    }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def calc_record(order_set: OrderSet) -> bytes:
    """The calc JSON as attached to the PDF: the machine-readable record of the calculation."""
    return dumps(to_json(order_set)).encode("utf-8")
