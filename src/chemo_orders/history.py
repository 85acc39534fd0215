"""What the patient's earlier orders add to a calculation, given to the engine as data.

The order record knows what a patient file cannot: every dose already ordered (DOS002's
lifetime limits), the weight the last released order was dosed on (WGT001's baseline) and
which courses came before (CYC001, SEQ001). It reads them once, up front, and passes them
here as a :class:`History`; the engine stays a pure function of its inputs, and any
interface that has a record (the command line's ``orders``, the workbench, FHIR services)
gives it the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .units import KG, M2, MG, magnitude_in, quantity

if TYPE_CHECKING:
    from .orderset import OrderSet
    from .patient import Patient

MG_PER_M2 = MG / M2


@dataclass(frozen=True)
class History:
    """The record's part of one calculation."""

    prior_mg_per_m2: Mapping[str, float] = field(default_factory=dict)  # drug -> sum of earlier orders
    previous_weight_kg: float | None = None  # the weight the last released order was dosed on
    courses: tuple[Mapping[str, Any], ...] = ()  # {"order_id", "regimen", "cycle", "date"} each


def with_history(patient: Patient, history: History) -> Patient:
    """The patient file plus the record: a new immutable Patient, never a changed one. The
    record's amounts add to the file's ``prior_cumulative`` (given elsewhere); its last dosed
    weight replaces the file's ``previous_weight``. (``model_copy`` does not validate: the
    values are built here as quantities.)"""
    prior = dict(patient.prior_cumulative)
    for drug, recorded in history.prior_mg_per_m2.items():
        elsewhere = prior.get(drug)
        prior[drug] = quantity(
            recorded + (magnitude_in(elsewhere, MG_PER_M2) if elsewhere is not None else 0.0), MG_PER_M2
        )
    update: dict[str, Any] = {"prior_cumulative": prior}
    if history.courses:
        from .patient import PriorCourse

        courses = tuple(
            PriorCourse(
                regimen=c["regimen"], cycle=c["cycle"], date=dt.date.fromisoformat(c["date"]), order_id=c["order_id"]
            )
            for c in history.courses
        )
        update["prior_courses"] = patient.prior_courses + courses
    if history.previous_weight_kg is not None:
        update["previous_weight"] = quantity(history.previous_weight_kg, KG)
    return patient.model_copy(update=update)


def exposures(order_set: OrderSet) -> dict[str, float]:
    """Per drug, this cycle's amount per m² (course total ÷ BSA, as DOS002 counts it); only
    amounts by mass, the unit of ``prior_cumulative``. The record stores them with the order."""
    bsa = order_set.calculation.body.bsa
    totals: dict[str, float] = {}
    for order in order_set.orders:
        per_m2 = order.course_total / bsa
        if per_m2.dimensionality == MG_PER_M2.dimensionality:
            totals[order.drug] = totals.get(order.drug, 0.0) + magnitude_in(per_m2, MG_PER_M2)
    return totals
