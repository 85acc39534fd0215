"""CYC001 and SEQ001: where this course stands among the courses already on the record.

The engine sees the record through ``prior_courses`` (read up front from the order record, or
listed in the patient file for courses given elsewhere): the same cycle prepared twice, a cycle
due in three weeks ordered after four days, or phase II without phase I are held for a
pharmacist, who knows what the record may not (a cancelled course given elsewhere, a delay).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from ..regimen import Regimen, all_regimens
from ..units import ureg
from .base import Context, Finding, Rule
from .sources import ASCO_ONS_2016


def _where(order_id: int | None) -> str:
    return f"order {order_id}" if order_id is not None else "the patient file's prior_courses"


def course_family(regimen: Regimen) -> frozenset[str]:
    """The regimens whose cycles share one numbering with this one: those it requires and those
    that require it (hyper-CVAD course A in cycles 1, 3, 5, 7 and course B in 2, 4, 6, 8)."""
    return frozenset({regimen.id, *(regimen.requires.any_of if regimen.requires else ()), *_requiring(regimen.id)})


@cache
def _requiring(regimen_id: str) -> frozenset[str]:
    """The library's regimens that require ``regimen_id`` (the library is fixed in a process)."""
    return frozenset(r.id for r in all_regimens() if r.requires is not None and regimen_id in r.requires.any_of)


class CycleTiming(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        regimen, cycle, on = ctx.regimen, ctx.options.cycle, ctx.options.on
        if not ctx.patient.prior_courses:
            return
        same = [c for c in ctx.patient.prior_courses if c.regimen == regimen.id]
        for course in same:
            if course.cycle == cycle:
                yield self.finding(
                    "hold",
                    f"{regimen.name} cycle {cycle} is already on the record ({_where(course.order_id)}, "
                    f"{course.date.isoformat()})",
                )
                return
        if regimen.cycle_length is None:
            return
        family = course_family(regimen)
        length = regimen.cycle_length.to(ureg.day).magnitude
        earlier = [c for c in ctx.patient.prior_courses if c.regimen in family and c.cycle < cycle and c.date <= on]
        if not earlier:
            return
        last = max(earlier, key=lambda c: (c.cycle, c.date))
        due_days = length * (cycle - last.cycle)
        elapsed = (on - last.date).days
        if elapsed < due_days:
            yield self.finding(
                "hold",
                f"{regimen.name} cycle {cycle} on {on.isoformat()} is {elapsed} days after cycle {last.cycle} "
                f"({last.regimen}, {last.date.isoformat()}); with {length:g}-day cycles it is due after "
                f"{due_days:g} days",
                references=tuple(ref.citation for ref in regimen.references.values() if ref.level == "primary")[:1]
                or self.references,
            )


class PrerequisiteOnRecord(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        required = ctx.regimen.requires
        if required is None:
            return
        given = {c.regimen for c in ctx.patient.prior_courses if c.date <= ctx.options.on}
        if given & set(required.any_of):
            return
        refs = tuple(ctx.regimen.references[k].citation for k in required.source if k in ctx.regimen.references)
        note = f" ({required.note})" if required.note else ""
        yield self.finding(
            "hold",
            f"{ctx.regimen.name} follows {' or '.join(required.any_of)}, which is not on the record{note}: "
            "confirm it was given (or list it under prior_courses)",
            references=refs or self.references,
        )


CYC001 = CycleTiming(
    code="CYC001",
    name="cycle-timing",
    severity="hold",
    what="Holds an order for a regimen and cycle already on the record for this patient (prepared, verified or "
    "released, not cancelled), or for a later cycle sooner than the regimen's cycle length after the last one "
    "recorded; courses given elsewhere count when the patient file lists them under prior_courses.",
    why="A cycle prepared twice can be given twice; a cycle given early, before counts and organs recover, "
    "compounds toxicity. Both happen when orders are re-entered or dates are mistyped.",
    example="Hyper-CVAD course A cycle 3 four days after cycle 1; R-CHOP cycle 2 prepared twice.",
    use_instead="Cancel the duplicate, correct the cycle or date, or acknowledge with the reason (--acknowledge "
    "CYC001 --reason 'cycle 1 given elsewhere was cancelled').",
    references=(ASCO_ONS_2016,),
)

SEQ001 = PrerequisiteOnRecord(
    code="SEQ001",
    name="prerequisite",
    severity="hold",
    what="Holds a regimen whose file names courses that must come first (requires.any_of: GMALL phase I before "
    "phase II, hyper-CVAD course A before course B) when none of them is on the record or in prior_courses.",
    why="A later phase assumes what the earlier one did (cytoreduction, remission, the prophylaxis given): "
    "ordered alone, it treats a patient it was not designed for.",
    example="GMALL induction phase II for a patient with no phase I on the record.",
    use_instead="Order the first phase, or list the course given elsewhere under prior_courses.",
    references=(ASCO_ONS_2016,),
)
