"""REN001: kidney function — required creatinine, and the cited CrCl/creatinine bands."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Context, Finding, Rule
from .organ import BandRule
from .sources import CALVERT_1989, FDA_CARBOPLATIN_2010


class RenalFunction(BandRule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        for gap in ctx.calculation.missing:
            if gap.rule == self.code:
                yield self.finding("block", f"{gap.drug}: {gap.needs}", drug=gap.drug)
        yield from super().check(ctx)


REN001: Rule = RenalFunction(
    code="REN001",
    name="renal-function",
    severity="warn / hold / block",
    what="Blocks a dose that needs kidney function the file lacks (carboplatin AUC dosing without creatinine, or "
    "under 18 without a measured GFR). Applies the cited per-drug renal bands of modifications.yaml (CrCl by "
    "Cockcroft-Gault or a measured GFR; serum creatinine where a protocol states it): a reduction to N % is applied "
    "to the final dose and shown on the order; 'omit' removes the line; 'hold' stops the order until a pharmacist "
    "acknowledges it; 'contraindicated' blocks.",
    why="Renally cleared drugs accumulate when clearance falls: cisplatin nephrotoxicity, ifosfamide neurotoxicity, "
    "methotrexate and fludarabine toxicity all rise at low CrCl.",
    example="Methotrexate IV with CrCl 15 mL/min (contraindicated); etoposide in R-ICE at CrCl 50 mL/min (80 %).",
    use_instead="Record serum creatinine (or a measured GFR); give the modified dose, or keep the full dose only "
    "with --acknowledge REN001 --reason TEXT.",
    references=(CALVERT_1989, FDA_CARBOPLATIN_2010),
)
