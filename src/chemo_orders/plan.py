"""Treatment plans (``plans/*.yaml``): the courses of a protocol in order, as a calendar.

A regimen file is one course; a plan says what comes after it — hyper-CVAD's courses A and B
alternate for eight courses, then maintenance — so that a pharmacist can see which course is
next, when it is due, and what each day gives. Each course is calculated by the same engine as
``calc``, with the plan's earlier courses as its prior courses (so SEQ001 and CYC001 see the
sequence the plan describes); a course the engine stops shows its findings, never a dose.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from .diagnosis import DiseaseStatus
from .dosing import Options
from .errors import InputError
from .loader import read_yaml
from .models import Frozen, validate
from .orderset import OrderSet, build, order_json
from .patient import Patient, PriorCourse
from .regimen import Reference, Regimen, load_regimen
from .units import ureg


class Phase(Frozen):
    """Regimens whose cycles interleave by cycle number (A 1, 3, 5, 7 with B 2, 4, 6, 8)."""

    regimens: Annotated[tuple[str, ...], Field(min_length=1)]
    # The disease status the phase is given in (maintenance: in-remission), for the calendar.
    disease_status: DiseaseStatus | None = None
    note: str | None = None


class Plan(Frozen):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    name: str
    title: str
    phases: Annotated[tuple[Phase, ...], Field(min_length=1)]
    source: tuple[str, ...]
    references: dict[str, Reference]


def plan_dirs() -> list[Path]:
    """Where bundled plans live: inside the installed wheel, else the checkout."""
    installed = Path(__file__).resolve().parent / "plans"
    checkout = Path(__file__).resolve().parents[2] / "plans"
    return [d for d in (installed, checkout) if d.is_dir()][:1]


def plan_paths() -> dict[str, Path]:
    return {p.stem: p for d in plan_dirs() for p in sorted(d.glob("*.yaml"))}


@cache
def load_plan(plan_id: str) -> Plan:
    paths = plan_paths()
    if plan_id not in paths:
        raise InputError("--plan", plan_id, f"unknown plan; known: {', '.join(paths)}")
    plan = validate(Plan, read_yaml(paths[plan_id], "plan file"), str(paths[plan_id]))
    for key in plan.source:
        if key not in plan.references:
            raise InputError("source", key, "no such key in references", source=str(paths[plan_id]))
    for phase in plan.phases:
        for regimen in phase.regimens:
            load_regimen(regimen)  # an unknown regimen id is refused naming it
    return plan


@dataclass(frozen=True)
class Course:
    number: int  # 1, 2, 3 … in the plan
    regimen: Regimen
    cycle: int
    start: dt.date
    order_set: OrderSet


def _cycles(regimen: Regimen) -> list[int]:
    if regimen.cycle_numbers:
        return list(regimen.cycle_numbers)
    return list(range(1, (regimen.cycles or 1) + 1))


def courses(plan: Plan) -> list[tuple[Regimen, int]]:
    """Every course of the plan in order: each phase's regimens interleaved by cycle number."""
    return [(regimen, cycle) for _, regimen, cycle in _phased(plan)]


def _phased(plan: Plan) -> list[tuple[Phase, Regimen, int]]:
    ordered: list[tuple[Phase, Regimen, int]] = []
    for phase in plan.phases:
        regimens = [load_regimen(r) for r in phase.regimens]
        ordered += sorted(((phase, r, c) for r in regimens for c in _cycles(r)), key=lambda prc: prc[2])
    return ordered


def calendar(plan: Plan, patient: Patient, start: dt.date) -> list[Course]:
    """Each course with its start date (the previous start plus the previous course's cycle
    length) and its calculation; dates stop being given after a course with no fixed length.
    Only the first course is checked against today's blood counts."""
    result: list[Course] = []
    given: list[PriorCourse] = list(patient.prior_courses)
    on: dt.date | None = start
    later = _without_counts(patient)
    for number, (phase, regimen, cycle) in enumerate(_phased(plan), start=1):
        if on is None:
            break
        base = patient if number == 1 else later
        update: dict[str, Any] = {"prior_courses": tuple(given)}
        if phase.disease_status is not None:
            update["disease_status"] = phase.disease_status
        with_prior = base.model_copy(update=update)
        order_set = build(with_prior, regimen, Options(on=on, cycle=cycle))
        result.append(Course(number, regimen, cycle, on, order_set))
        given.append(PriorCourse(regimen=regimen.id, cycle=cycle, date=on))
        on = next_start(regimen, on)
    return result


def next_start(regimen: Regimen, start: dt.date) -> dt.date | None:
    """When the course after one of ``regimen`` begun on ``start`` is due: one cycle length
    later; None when the sources fix no cycle length."""
    length = regimen.cycle_length
    return start + dt.timedelta(days=int(length.to(ureg.day).magnitude)) if length is not None else None


def treatment_days(regimen: Regimen) -> list[int]:
    """The days of a course on which something is given, in order."""
    return sorted({day for line in regimen.drugs for day in line.days})


# Blood counts recover between courses: today's counts say nothing about a course weeks away, so
# later courses print their criteria to treat for the day (LAB001 warns) instead of being held.
_COUNTS = ("anc", "platelets", "wbc", "hemoglobin")


def _without_counts(patient: Patient) -> Patient:
    labs = patient.labs.model_copy(update={name: None for name in _COUNTS})
    return patient.model_copy(update={"labs": labs})


def day_date(start: dt.date, day: int) -> dt.date:
    """Day 1 is the course's first day (a day 0, as in paediatric tables, is the day before)."""
    return start + dt.timedelta(days=day - 1)


def calendar_json(plan: Plan, patient: Patient, items: list[Course]) -> dict[str, Any]:
    from . import DISCLAIMER

    out = []
    for course in items:
        order_set = course.order_set
        entry: dict[str, Any] = {
            "course": course.number,
            "regimen": course.regimen.id,
            "name": course.regimen.name,
            "cycle": course.cycle,
            "start": course.start.isoformat(),
            "status": order_set.status,
        }
        if order_set.stopped:
            entry["findings"] = [f.as_json() for f in order_set.blocking]
            entry["days"] = []
        else:
            days = sorted({d for o in order_set.orders for d in o.line.days})
            entry["days"] = [
                {
                    "day": day,
                    "date": day_date(course.start, day).isoformat(),
                    "orders": [order_json(o) for o in order_set.orders if day in o.line.days],
                }
                for day in days
            ]
        out.append(entry)
    return {
        "plan": {"id": plan.id, "name": plan.name, "title": plan.title},
        "patient": {"id": patient.id},
        "courses": out,
        "references": [ref.citation for ref in plan.references.values()],
        "disclaimer": DISCLAIMER,
    }


def calendar_text(data: dict[str, Any]) -> str:
    """The calendar as a pharmacist reads it: course, cycle, day and date, drug and dose."""
    from .units import format_number

    lines = [f"{data['plan']['name']}: {data['plan']['title']} ({data['patient']['id']})", ""]
    previous: list[str] = []
    for course in data["courses"]:
        lines.append(f"Course {course['course']}: {course['name']} cycle {course['cycle']}, from {course['start']}")
        if course["status"] != "ok":
            stops = [f"  {course['status'].upper()}: {f['rule']} {f['message']}" for f in course.get("findings", [])]
            lines += ["  stopped as the course before (same findings)"] if stops == previous else stops
            previous = stops
            continue
        previous = []
        for day in course["days"]:
            doses = "; ".join(
                f"{o['display_name']} {format_number(o['final']['value'])} {o['final']['unit']} {o['route_display']}"
                for o in day["orders"]
            )
            lines.append(f"  day {day['day']} ({day['date']}): {doses}")
    lines += ["", data["disclaimer"]]
    return "\n".join(lines)
