"""LAB001: the cycle's criteria to treat (the regimen's, else the institution's) against the labs."""

from __future__ import annotations

from collections.abc import Iterator

from ..criteria import criterion_text, default_policy, for_cycle, lab_value, met
from ..units import format_value as show
from .base import Context, Finding, Rule
from .sources import ASCO_ONS_2016


class CriteriaToTreat(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        cycle = for_cycle(ctx.regimen, ctx.options.cycle)
        disease = default_policy().active_leukaemia_first_cycle
        expected = disease is not None and disease.applies(ctx.patient, ctx.regimen, ctx.options.cycle)
        for applied in cycle.applied:
            criterion = applied.criterion
            value = lab_value(ctx.patient, criterion.lab)
            origin = (
                " (institutional default: the regimen's source states none for this cycle)" if applied.default else ""
            )
            note = f" ({criterion.note})" if criterion.note else ""
            if value is None:
                yield self.finding(
                    "warn",
                    f"{criterion.lab} not given: check on the day of administration that {criterion.lab} is "
                    f"{criterion_text(criterion)}{origin}",
                    references=applied.references,
                )
            elif not met(criterion, value) and applied.default and expected:
                assert disease is not None
                yield self.finding(
                    "warn",
                    f"{criterion.lab} {show(value)} does not meet {criterion_text(criterion)}{origin}; first cycle "
                    "with active acute leukaemia: cytopenia is expected from the disease — confirm before giving",
                    references=(*applied.references, disease.source.citation),
                )
            elif not met(criterion, value):
                yield self.finding(
                    "hold",
                    f"hold: {criterion.lab} {show(value)} does not meet {criterion_text(criterion)}{note}{origin}",
                    references=applied.references,
                )


LAB001 = CriteriaToTreat(
    code="LAB001",
    name="criteria-to-treat",
    severity="warn / hold",
    what="Checks the labs against the criteria to treat of the cycle being ordered: the regimen's own (per cycle "
    "where its source differs), else the institution's default criteria (criteria-default.yaml, cited), unless the "
    "regimen's source exempts the cycle (acute leukaemia induction). A criterion given and not met holds the order "
    "until a pharmacist acknowledges it with a reason; a criterion whose lab is not given is a warning printed on "
    "the order, to be checked on the day of administration (an order is often prepared before the day's labs). "
    "Releasing a recorded order needs those labs.",
    why="Giving myelosuppressive chemotherapy before counts recover risks neutropenic sepsis and bleeding; "
    "ASCO/ONS requires criteria to treat on the order.",
    example="Hyper-CVAD course A cycle 3 with ANC 0.2 x10^9/L and platelets 15 x10^9/L; R-CHOP with ANC 0.8 x10^9/L.",
    use_instead="Hold and repeat the labs, or document the decision to treat (--acknowledge LAB001 --reason ...).",
    references=(ASCO_ONS_2016,),
)
