"""LAB001: the regimen's criteria to treat against the patient's labs."""

from __future__ import annotations

from collections.abc import Iterator

from ..regimen import Criterion
from ..units import format_value as show
from .base import Context, Finding, Rule
from .sources import ASCO_ONS_2016


class CriteriaToTreat(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        for criterion in ctx.regimen.criteria_to_treat:
            value = getattr(ctx.patient.labs, criterion.lab)
            refs = tuple(ctx.regimen.references[k].citation for k in criterion.source)
            if value is None:
                yield self.finding(
                    "hold",
                    f"{criterion.lab} not given; criterion to treat: {criterion_text(criterion)}",
                    references=refs,
                )
            elif criterion.min is not None and value < criterion.min:
                note = f" ({criterion.note})" if criterion.note else ""
                yield self.finding(
                    "hold", f"hold: {criterion.lab} {show(value)} is below {show(criterion.min)}{note}", references=refs
                )
            elif criterion.max is not None and value > criterion.max:
                yield self.finding(
                    "hold", f"hold: {criterion.lab} {show(value)} is above {show(criterion.max)}", references=refs
                )


def criterion_text(criterion: Criterion) -> str:
    """``"≥ 1 x10^9/L"``: one wording for findings, the order set and ``show``."""
    low, high = criterion.min, criterion.max
    return " and ".join(
        part
        for part in (f"≥ {show(low)}" if low is not None else "", f"≤ {show(high)}" if high is not None else "")
        if part
    )


LAB001 = CriteriaToTreat(
    code="LAB001",
    name="criteria-to-treat",
    severity="hold",
    what="Holds the order (until a pharmacist acknowledges with a reason) when a criterion to treat is not met or "
    "its lab is not given. Compares the patient's labs with the regimen's criteria to treat and says 'hold' when one is not met or not given.",
    why="Giving myelosuppressive chemotherapy before counts recover risks neutropenic sepsis and bleeding; "
    "ASCO/ONS requires criteria to treat on the order.",
    example="ANC 0.6 x10^9/L against a criterion of ≥ 1 x10^9/L.",
    use_instead="Hold and repeat the labs, or document the decision to treat (--acknowledge LAB001 --reason ...).",
    references=(ASCO_ONS_2016,),
)
