"""A patient's treatment plan: the calendar, the doses given, cumulative anthracycline, lab trends.

What Beacon, ARIA and Cato show first (issue 22): where the patient stands in the protocol.
The calendar is the plan's courses in order (``plans/*.yaml``), each dated by the record when
it was ordered, else one cycle length after the course before (as ``orders next`` dates it);
before the first order, from today or ``?start=``. The day dates come from the regimen's
lines; no dose is calculated for a course not yet ordered (the patient page does that, with
today's measurements). The doses and the anthracycline curve come from the record's orders,
counted as DOS002 counts them; the lab trends from the patient's saved versions.

Who sees what: every role reads the page, as the patient page. A nurse sees the doses of
released orders only; a pharmacist does not see the doses of an order waiting for their own
independent check (it stays blind, as on the patient page) — the page says what it leaves out.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from ..dosing import ADULT_AGE
from ..drugs import drug_table
from ..errors import InputError
from ..plan import Plan, courses, day_date, load_plan, next_start, plan_paths, treatment_days
from ..record.history import GivenCourse, given_courses
from ..rules.dose import WARN_FRACTION, anthracycline_limit, doxorubicin_equivalent
from ..units import KG, M2, MG, MG_PER_DL, PER_L, format_quantity, ureg
from .charts import Chart, Limit, Point, figure
from .orders import blind_for
from .pages import Ctx, render
from .patients import _entry

if TYPE_CHECKING:
    from markupsafe import Markup

    from ..patient import Patient
    from ..record.patients import PatientEntry
    from ..regimen import Regimen


MG_PER_M2 = MG / M2


@dataclass(frozen=True)
class CalendarRow:
    number: int
    regimen: Regimen
    cycle: int
    start: dt.date | None  # None: the course before has no fixed length
    days: tuple[DayRun, ...]
    given: GivenCourse | None


@dataclass(frozen=True)
class DayRun:
    """Consecutive treatment days, read as one: "days 1–28 (22 May–18 Jun)"."""

    first: int
    last: int
    start: dt.date | None
    end: dt.date | None

    @property
    def text(self) -> str:
        days = f"day {self.first}" if self.first == self.last else f"days {self.first}–{self.last}"
        if self.start is None or self.end is None:
            return days
        if self.first == self.last:
            return f"{days} ({self.start:%d %b})"
        return f"{days} ({self.start:%d %b}–{self.end:%d %b})"


def day_runs(days: list[int], start: dt.date | None) -> tuple[DayRun, ...]:
    from ..report import consecutive_runs

    runs = consecutive_runs(days)
    return tuple(
        DayRun(r[0], r[-1], day_date(start, r[0]) if start else None, day_date(start, r[-1]) if start else None)
        for r in runs
    )


def calendar(plan: Plan, given: list[GivenCourse], start: dt.date) -> list[CalendarRow]:
    """The plan's courses with dates: a recorded course keeps its order's date; the next is due
    one cycle length after the course before; the first, if not ordered, starts on ``start``."""
    unmatched = list(given)
    rows = []
    on: dt.date | None = start
    after: dict[str, dt.timedelta | None] = {}  # a regimen's cycle length, converted once per page
    for number, (regimen, cycle) in enumerate(courses(plan), start=1):
        match = next((g for g in unmatched if (g.regimen, g.cycle) == (regimen.id, cycle)), None)
        if match is not None:
            unmatched.remove(match)
            on = match.on
        rows.append(CalendarRow(number, regimen, cycle, on, day_runs(treatment_days(regimen), on), match))
        if regimen.id not in after:
            due = next_start(regimen, start)
            after[regimen.id] = due - start if due else None
        step = after[regimen.id]
        on = on + step if on and step else None
    return rows


def default_plan(given: list[GivenCourse]) -> str:
    """The plan the patient's latest order names, else the first plan that holds one of their
    courses, else the first plan."""
    named = [g.plan for g in given if g.plan]
    if named:
        return named[-1]
    ids = list(plan_paths())
    for plan_id in ids:
        held = {(r.id, c) for r, c in courses(load_plan(plan_id))}
        if any((g.regimen, g.cycle) in held for g in given):
            return plan_id
    return ids[0]


@dataclass(frozen=True)
class DoseHistory:
    columns: tuple[GivenCourse, ...]
    rows: tuple[tuple[str, str, tuple[str, ...]], ...]  # (drug, route, the dose in each column or "")


@lru_cache(maxsize=4096)
def _dose_text(value: float, unit: str) -> str:
    """A calc record's ``{"value", "unit"}`` as the order prints it; cached, because building a
    pint quantity costs more than the rest of the dose table (the same doses recur)."""
    return format_quantity(ureg.Quantity(value, ureg.Unit(unit)))


def dose_history(visible: list[GivenCourse]) -> DoseHistory:
    """One row per drug and route, one column per order, in order given."""
    keys: list[tuple[str, str]] = []
    for course in visible:
        keys += [(d.drug, d.route) for d in course.doses if (d.drug, d.route) not in keys]
    rows = []
    for drug, route in keys:
        cells = []
        for course in visible:
            found = [_dose_text(d.value, d.unit) for d in course.doses if (d.drug, d.route) == (drug, route)]
            cells.append(" + ".join(found))
        rows.append((drug, route, tuple(cells)))
    return DoseHistory(tuple(visible), tuple(rows))


def anthracycline(patient: Patient, visible: list[GivenCourse], today: dt.date) -> tuple[Chart, list[str]] | None:
    """Cumulative doxorubicin equivalents after each order (from the patient file's prior
    exposure on), against DOS002's lifetime limit; with the limit's sources. None when neither
    the record nor the patient file holds an anthracycline."""
    limits = anthracycline_limit(patient.age_years(today) < ADULT_AGE)
    if limits is None:
        return None
    unit = limits.limit.units
    total = 0.0
    points = []
    prior = [doxorubicin_equivalent(drug, dose) for drug, dose in patient.prior_cumulative.items()]
    if any(p is not None for p in prior):
        total = sum(float(p.to(unit).magnitude) for p in prior if p is not None)
        points.append(Point("before", total))
    anthracyclines = {d for d, drug in drug_table().drugs.items() if drug.doxorubicin_equivalent is not None}
    for course in visible:
        amounts = [
            doxorubicin_equivalent(drug, ureg.Quantity(mg, MG_PER_M2))
            for drug, mg in course.mg_per_m2.items()
            if drug in anthracyclines
        ]
        counted = [float(a.to(unit).magnitude) for a in amounts if a is not None]
        if counted:
            total += sum(counted)
            points.append(Point(f"{course.on:%Y-%m-%d} order {course.order_id}", total))
    if not points:
        return None
    limit = float(limits.limit.magnitude)
    chart = Chart(
        "anthracycline",
        "Cumulative anthracycline, doxorubicin equivalents",
        "mg/m²",
        tuple(points),
        (Limit("lifetime limit", limit), Limit(f"DOS002 warns from {WARN_FRACTION:.0%}", limit * WARN_FRACTION)),
        decimals=1,
    )
    return chart, drug_table().cite(limits.source)


# The lab trends: what, from where in the patient file, in which unit.
LABS: tuple[tuple[str, str, str], ...] = (
    ("anc", "ANC", "×10⁹/L"),
    ("platelets", "Platelets", "×10⁹/L"),
    ("creatinine", "Serum creatinine", "mg/dL"),
    ("bilirubin", "Bilirubin", "mg/dL"),
    ("weight", "Weight", "kg"),
)


def _lab_value(patient: Patient, key: str) -> float | None:
    value = {
        "anc": patient.labs.anc,
        "platelets": patient.labs.platelets,
        "creatinine": patient.serum_creatinine,
        "bilirubin": patient.labs.bilirubin,
        "weight": patient.weight,
    }[key]
    if value is None:
        return None
    from ..patient import creatinine_mg_dl

    if key == "creatinine":
        return float(creatinine_mg_dl(value).magnitude)
    if key in ("anc", "platelets"):
        return float(value.to(PER_L).magnitude) / 1e9
    return float(value.to(MG_PER_DL if key == "bilirubin" else KG).magnitude)


@dataclass(frozen=True)
class Readings:
    measured_on: dt.date | None
    values: dict[str, float | None]  # LABS key -> the value in the chart's unit


@lru_cache(maxsize=256)
def _readings(data_json: str) -> Readings | None:
    """A saved version's lab values, read once per content (a version never changes after it
    is saved; pydantic and pint cost more than the page's other work); None when the current
    engine cannot read the file."""
    from ..record.patients import parse

    try:
        patient = parse(json.loads(data_json))
    except InputError:
        return None
    return Readings(patient.measured_on, {key: _lab_value(patient, key) for key, _, _ in LABS})


def lab_charts(entry: PatientEntry) -> list[Chart]:
    """One chart per lab, oldest version first; a version's date is its measurement date, else
    the day it was saved. Versions the current engine cannot read are left out."""
    versions = []
    for version in reversed(entry.versions):
        readings = _readings(json.dumps(version.data, sort_keys=True))
        if readings is not None:
            when = readings.measured_on or version.saved_at.date()
            versions.append((f"{when:%Y-%m-%d} v{version.version}", readings))
    charts = []
    for key, name, unit in LABS:
        found = [(label, r.values[key]) for label, r in versions]
        points = tuple(Point(label, value) for label, value in found if value is not None)
        charts.append(Chart(f"lab-{key}", name, unit, points, empty=f"No {name} value in the saved versions."))
    return charts


def _start(ctx: Ctx) -> dt.date:
    text = ctx.field("start").strip()
    if not text:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError("start", text, "expected a date as YYYY-MM-DD") from None


def plan_page(ctx: Ctx) -> Response:
    entry = _entry(ctx)
    if entry.data is None:
        raise InputError("MRN", entry.patient_id, "no such patient file")
    from ..record.patients import parse

    patient = parse(entry.data)
    given = given_courses(ctx.database, entry.patient_id)
    plan_id = ctx.field("plan").strip() or default_plan(given)
    plan = load_plan(plan_id)
    visible, hidden = _visible(ctx, given)
    charted = anthracycline(patient, visible, dt.date.today())
    start = _start(ctx)
    rows = calendar(plan, given, start)
    in_plan = {r.given.order_id for r in rows if r.given is not None}
    context: dict[str, Any] = {
        "entry": entry,
        "plan": plan,
        "plans": list(plan_paths()),
        "start": start,
        "rows": rows,
        "outside": [g for g in given if g.order_id not in in_plan],  # on the record, not a course of this plan
        "history": dose_history(visible),
        "hidden": hidden,
        "anthracycline": figure(charted[0]) if charted else None,
        "anthracycline_sources": charted[1] if charted else [],
        "labs": [_titled(c) for c in lab_charts(entry)],
        "plan_sources": [ref.citation for ref in plan.references.values()],
    }
    return render(ctx, "plan.html.j2", title=f"Treatment plan — {entry.name}", **context)


def _titled(chart: Chart) -> tuple[Chart, Markup]:
    return chart, figure(chart)


def _visible(ctx: Ctx, given: list[GivenCourse]) -> tuple[list[GivenCourse], int]:
    """The orders whose doses this user may see here, and how many are left out."""
    nurse = ctx.me.role == "nurse"
    shown = [g for g in given if not (nurse and g.state != "released") and not blind_for(ctx, g.state, g.prepared_by)]
    return shown, len(given) - len(shown)
