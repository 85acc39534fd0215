"""What the record adds to a calculation, read once under the patient's lock (design §10.8).

* ``prior_cumulative``: per drug, the per-m² amount of every order of this patient id that is
  not cancelled (released ones were given; prepared and verified ones are committed to and
  counted so that two orders for one patient cannot each pass a lifetime limit only one
  fits), added to the patient file's own ``prior_cumulative`` (what was given elsewhere).
* ``previous_weight``: the weight the last released order was dosed on (WGT001's baseline);
  the patient file's value only when the record has none.
* the courses on the record, with their dates (CYC001, SEQ001).

A :class:`Basis` is stored with each order, so the order recalculates with what the record
held then; :meth:`Basis.history` is the engine's view of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ..history import History
from .db import rows
from .tables import Exposure, Measurement, Order


@dataclass(frozen=True)
class Basis:
    """The record's contribution to one calculation, stored with the order to recalculate it."""

    prior_mg_per_m2: dict[str, float]  # drug -> sum over the counted orders
    counted_orders: tuple[int, ...]
    previous_weight_kg: float | None
    previous_weight_order: int | None
    # Every counted order's regimen, cycle and date (CYC001, SEQ001); absent in older records.
    courses: tuple[dict[str, Any], ...] = ()

    def history(self) -> History:
        """What the engine is given: the amounts, the last dosed weight, the courses."""
        return History(self.prior_mg_per_m2, self.previous_weight_kg, self.courses)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "prior_cumulative_mg_per_m2": dict(sorted(self.prior_mg_per_m2.items())),
            "counted_orders": list(self.counted_orders),
            "previous_weight_kg": self.previous_weight_kg,
            "previous_weight_order": self.previous_weight_order,
        }
        if self.courses:
            data["courses"] = list(self.courses)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Basis:
        return cls(
            dict(data["prior_cumulative_mg_per_m2"]),
            tuple(data["counted_orders"]),
            data["previous_weight_kg"],
            data["previous_weight_order"],
            tuple(data.get("courses", ())),
        )


# Built once: the live preview reads the basis on every change, and building a statement costs
# more than running it (SQLAlchemy then finds its compiled form in its cache).
_COUNTED = select(Order.id).where(Order.patient_id == bindparam("patient_id"), Order.state != "cancelled")
_ORDERS = (
    select(Order.id, Order.regimen_id, Order.cycle, Order.options_json, Order.state, Order.released_at)
    .add_columns(Measurement.weight_kg)
    .outerjoin(Measurement, Measurement.order_id == Order.id)
    .where(Order.patient_id == bindparam("patient_id"), Order.state != "cancelled")
    .order_by(Order.id)
)
_SUMS = (
    select(Exposure.drug, func.sum(Exposure.mg_per_m2))
    .where(Exposure.order_id.in_(_COUNTED))
    .group_by(Exposure.drug)
    .order_by(Exposure.drug)
)


def read_basis(session: Session, patient_id: str) -> Basis:
    """Exposure of every order of this patient that is not cancelled; the last dosed weight
    (the weight of the released order released last)."""
    orders = rows(session, _ORDERS, patient_id=patient_id)
    sums = rows(session, _SUMS, patient_id=patient_id)
    released = [row for row in orders if row.state == "released" and row.weight_kg is not None]
    last = max(released, key=lambda row: (row.released_at is not None, row.released_at or 0, row.id), default=None)
    courses = tuple(
        {"order_id": row.id, "regimen": row.regimen_id, "cycle": row.cycle, "date": json.loads(row.options_json)["on"]}
        for row in orders
    )
    return Basis(
        {drug: float(total) for drug, total in sums},
        tuple(row.id for row in orders),
        None if last is None else float(last.weight_kg),
        None if last is None else int(last.id),
        courses,
    )
