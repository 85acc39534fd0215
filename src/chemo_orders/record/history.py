"""A patient's treatment as the record holds it: each course given, its date and exposure.

The treatment-plan page puts the plan's calendar beside what was actually ordered, so it
needs each order's calculation date (the ``on`` of its stored options, not the time it was
prepared: an order may be prepared days ahead) and the amount per m² it counts towards
cumulative limits, exactly the ``exposures`` rows DOS002 sums through :func:`read_basis`.
Cancelled orders are left out, as DOS002 leaves them out.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select

from .db import Database
from .tables import Exposure, Order, User


@dataclass(frozen=True)
class GivenCourse:
    """One order that is not cancelled: its course, its date and what it counts per m²."""

    order_id: int
    state: str
    prepared_by: str  # the preparer's user name (an order waiting for another's check is blind to them)
    regimen: str
    cycle: int
    on: dt.date
    plan: str | None
    mg_per_m2: dict[str, float]  # drug -> amount per m² this order gives (the record's exposures)
    doses: tuple[Dose, ...]  # the final dose of each line, as the order prints it


@dataclass(frozen=True)
class Dose:
    drug: str  # Tall Man where listed (the order's display name)
    route: str  # as printed: "IV", "intrathecal"
    value: float  # the final dose, as the calc record states it
    unit: str


def given_courses(database: Database, patient_id: str) -> list[GivenCourse]:
    """Every order of the patient that is not cancelled, oldest first."""
    with database.read() as session:
        rows = session.execute(
            select(Order.id, Order.state, User.name, Order.regimen_id, Order.cycle, Order.options_json, Order.calc_json)
            .join(User, User.id == Order.prepared_by)
            .where(Order.patient_id == patient_id, Order.state != "cancelled")
            .order_by(Order.id)
        ).all()
        ids = [row[0] for row in rows]
        exposure: dict[int, dict[str, float]] = {i: {} for i in ids}
        for order_id, drug, amount in session.execute(
            select(Exposure.order_id, Exposure.drug, Exposure.mg_per_m2)
            .where(Exposure.order_id.in_(ids))
            .order_by(Exposure.order_id, Exposure.drug)
        ):
            exposure[order_id][drug] = float(amount)
    courses = []
    for order_id, state, preparer, regimen, cycle, options_text, calc_text in rows:
        options = json.loads(options_text)
        on = dt.date.fromisoformat(options["on"])
        doses = tuple(
            Dose(o["display_name"], o["route_display"], float(o["final"]["value"]), str(o["final"]["unit"]))
            for o in json.loads(calc_text).get("orders", [])
        )
        courses.append(
            GivenCourse(order_id, state, preparer, regimen, cycle, on, options.get("plan"), exposure[order_id], doses)
        )
    return courses
