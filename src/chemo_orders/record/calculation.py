"""The bridge between stored text and the engine: parse what an order keeps, recalculate it.

An order keeps text (the patient file's bytes, the regimen file's text, options as JSON) and
not pickled models, so that it stays readable by any later version; everything here turns
that text back into the engine's validated models through the same validators the command
line uses, and :func:`rebuild` recalculates a stored order from it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from ..models import validate
from ..units import KG, M2, MG, Q, magnitude_in, quantity, ureg
from . import Refused
from .orders import Basis

if TYPE_CHECKING:
    from ..dosing import Options
    from ..orderset import OrderSet
    from ..patient import Patient
    from ..regimen import Regimen
    from .tables import Order

MG_PER_M2 = MG / M2


def parse_yaml(data: bytes | str, what: str, source: str) -> Any:
    """Stored or posted YAML through the same hardened loader as a file on disk."""
    from ..loader import decode
    from ..loader import parse_yaml as parse

    return parse(decode(data, what, source) if isinstance(data, bytes) else data, what, source)


def parse_patient(data: bytes, source: str) -> Patient:
    from ..patient import Patient

    return validate(Patient, parse_yaml(data, "patient file", source), source)


def regimen_text(regimen_id: str) -> str:
    """The library's regimen file, as text; an unknown id names the nearest ones."""
    from ..regimen import load_regimen, regimen_paths

    path = regimen_paths().get(regimen_id)
    if path is None:
        load_regimen(regimen_id)  # raises the InputError with suggestions
        raise AssertionError("unreachable")  # pragma: no cover
    return path.read_text(encoding="utf-8")


def parse_regimen(text: str, source: str) -> Regimen:
    from ..regimen import Regimen

    return validate(Regimen, parse_yaml(text, "regimen file", source), source)


def options_json(on: dt.date, cycle: int) -> dict[str, Any]:
    """The calculation options, every one written out: a later change of a default must not
    change a stored order. (prepare takes the defaults; a rounding policy is not stored.)"""
    from ..dosing import Options

    options = Options(on=on, cycle=cycle)
    return {
        "on": on.isoformat(),
        "cycle": cycle,
        "bsa_formula": options.bsa_formula,
        "bsa_cap": _quantity_json(options.bsa_cap),
        "carboplatin_weight": options.carboplatin_weight,
        "scr_floor": _quantity_json(options.scr_floor),
    }


def options_from_json(data: dict[str, Any]) -> Options:
    from ..dosing import Options

    return Options(
        on=dt.date.fromisoformat(data["on"]),
        cycle=int(data["cycle"]),
        bsa_formula=data["bsa_formula"],
        bsa_cap=_quantity_from(data["bsa_cap"]),
        carboplatin_weight=data["carboplatin_weight"],
        scr_floor=_quantity_from(data["scr_floor"]),
    )


def _quantity_json(value: Q | None) -> dict[str, Any] | None:
    return None if value is None else {"value": float(value.magnitude), "unit": str(value.units)}


def _quantity_from(data: dict[str, Any] | None) -> Q | None:
    return None if data is None else quantity(data["value"], ureg.Unit(data["unit"]))


def exposures(order_set: OrderSet) -> dict[str, float]:
    """Per drug, this cycle's amount per m² (course total ÷ BSA, as DOS002 counts it); only
    amounts by mass, the unit of ``prior_cumulative``."""
    bsa = order_set.calculation.body.bsa
    totals: dict[str, float] = {}
    for order in order_set.orders:
        per_m2 = order.course_total / bsa
        if per_m2.dimensionality == MG_PER_M2.dimensionality:
            totals[order.drug] = totals.get(order.drug, 0.0) + magnitude_in(per_m2, MG_PER_M2)
    return totals


def patient_with_basis(patient: Patient, basis: Basis) -> Patient:
    """The patient file plus the record: a new immutable Patient, never a changed one.
    (``model_copy`` does not validate: the values are built here as quantities.)"""
    prior = dict(patient.prior_cumulative)
    for drug, recorded in basis.prior_mg_per_m2.items():
        elsewhere = prior.get(drug)
        prior[drug] = quantity(
            recorded + (magnitude_in(elsewhere, MG_PER_M2) if elsewhere is not None else 0.0), MG_PER_M2
        )
    update: dict[str, Any] = {"prior_cumulative": prior}
    if basis.courses:
        from ..patient import PriorCourse

        courses: tuple[PriorCourse, ...] = tuple(
            PriorCourse(
                regimen=c["regimen"], cycle=c["cycle"], date=dt.date.fromisoformat(c["date"]), order_id=c["order_id"]
            )
            for c in basis.courses
        )
        update["prior_courses"] = patient.prior_courses + courses
    if basis.previous_weight_kg is not None:
        update["previous_weight"] = quantity(basis.previous_weight_kg, KG)
    return patient.model_copy(update=update)


def rebuild(order: Order) -> OrderSet:
    """Recalculate a stored order from its stored inputs (pinned regimen text, the record's
    contribution as it was then) and check that it gives the stored calc record."""
    from ..changes import from_json
    from ..orderset import Acknowledgement, build, to_json

    source = f"order {order.id}"
    patient = patient_with_basis(
        parse_patient(order.patient_file, source), Basis.from_json(json.loads(order.basis_json))
    )
    regimen = parse_regimen(order.regimen_text, f"{source} regimen {order.regimen_id} v{order.regimen_version}")
    acks = tuple(Acknowledgement(a.rule, a.reason) for a in order.acknowledgements)
    changes = tuple(from_json(c) for c in json.loads(order.changes_json)["changes"]) if order.changes_json else ()
    options = options_from_json(json.loads(order.options_json))
    order_set = build(patient, regimen, options, acks, order.patient_file, changes)
    stored = json.loads(order.calc_json)
    again = to_json(order_set)
    changed = sorted(k for k in set(stored) | set(again) if k != "engine" and stored.get(k) != again.get(k))
    if changed:
        raise RecalculationMismatch(
            f"order {order.id}: this version of chemo-orders calculates {', '.join(changed)} differently "
            "from the stored record; nothing rendered"
        )
    return order_set


class RecalculationMismatch(Refused):
    """The engine no longer reproduces a stored order: rendering it would not be the order."""
