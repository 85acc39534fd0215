"""WGT001: weight change since the last dose calculation."""

from __future__ import annotations

from collections.abc import Iterator

from ..units import KG, format_number, format_quantity, magnitude_in
from .base import Context, Finding, Rule
from .sources import ASCO_ONS_2016, COSA_WEIGHT, PEDIATRIC_WEIGHT

ADULT_THRESHOLD_PERCENT = 10.0
CHILD_THRESHOLD_PERCENT = 5.0


class WeightChange(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        previous = ctx.patient.previous_weight
        if previous is None:
            return
        current = ctx.patient.weight
        now, before = magnitude_in(current, KG), magnitude_in(previous, KG)
        change = float((now - before) / before * 100)
        limit = ADULT_THRESHOLD_PERCENT if ctx.calculation.body.adult else CHILD_THRESHOLD_PERCENT
        if abs(change) >= limit:
            sign = "+" if change > 0 else "−"
            yield self.finding(
                "warn",
                f"weight {format_quantity(current)} changed {sign}{format_number(abs(change), 1)}% "
                f"since the last calculation ({format_quantity(previous)}); threshold {limit:g}%: recalculate doses",
            )


WGT001 = WeightChange(
    code="WGT001",
    name="weight-change",
    severity="warn",
    what="Warns when weight changed by ≥ 10% (adults) or ≥ 5% (children) since the weight used for the last calculation.",
    why="BSA- and weight-based doses follow weight; a large change means the previous doses no longer fit, and "
    "ASCO/ONS requires a policy for re-checking doses on weight change.",
    example="85 kg at the last calculation, 75 kg today (−11.8%).",
    use_instead="Confirm the weight and recalculate; record previous_weight each cycle.",
    references=(ASCO_ONS_2016, COSA_WEIGHT, PEDIATRIC_WEIGHT),
)
