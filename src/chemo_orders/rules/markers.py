"""MRK001 and MRK002: drugs that only make sense for a marker or a lineage."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnosis import DIAGNOSIS_NAMES, FAMILIES
from ..drugs import drug_table
from .base import Context, Finding, Rule
from .sources import NELARABINE_LABEL, THOMAS_2010

# Thomas 2010: rituximab was given in ALL only when CD20 was expressed on >= 20% of blasts.
CD20_THRESHOLD_PERCENT = 20.0


class RituximabNeedsCd20(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.patient.diagnosis not in FAMILIES["all"]:
            return
        table = drug_table()
        drugs = sorted({line.drug for line in ctx.regimen.drugs if table.get(line.drug).drug_class == "anti-cd20"})
        cd20 = ctx.patient.markers.cd20_percent
        for drug in drugs:
            if cd20 is None:
                yield self.finding(
                    "block",
                    f"{drug} in ALL needs CD20 on ≥ {CD20_THRESHOLD_PERCENT:g}% of blasts; "
                    "CD20 not given (markers.cd20_percent)",
                    drug=drug,
                    use_instead="measure CD20 by flow cytometry, or use the regimen without rituximab",
                )
            elif cd20 < CD20_THRESHOLD_PERCENT:
                yield self.finding(
                    "block",
                    f"{drug} in ALL needs CD20 ≥ {CD20_THRESHOLD_PERCENT:g}% of blasts; patient's CD20 is {cd20:g}%",
                    drug=drug,
                    use_instead="the same backbone without rituximab (e.g. hyper-cvad-a)",
                )


class LineageRestricted(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        table = drug_table()
        for drug in sorted({line.drug for line in ctx.regimen.drugs}):
            allowed = table.get(drug).restricted_to
            if allowed and ctx.patient.diagnosis not in allowed:
                names = ", ".join(DIAGNOSIS_NAMES[d] for d in allowed)
                yield self.finding(
                    "block",
                    f"{drug} is only for {names}; patient has {DIAGNOSIS_NAMES[ctx.patient.diagnosis]}",
                    drug=drug,
                )


MRK001 = RituximabNeedsCd20(
    code="MRK001",
    name="rituximab-needs-cd20",
    severity="block",
    what="Blocks an anti-CD20 antibody (rituximab) in B-ALL or T-ALL unless CD20 is known and ≥ 20% of blasts.",
    why="The benefit of adding rituximab in ALL was shown only for CD20-positive disease (≥ 20% of blasts, "
    "Thomas 2010); without the target the antibody adds infusion reactions, infection and HBV reactivation risk for no benefit.",
    example="R-hyper-CVAD course A for B-ALL with CD20 on 5% of blasts, or with CD20 not reported.",
    use_instead="hyper-CVAD without rituximab, or measure CD20 first.",
    references=(THOMAS_2010,),
)

MRK002 = LineageRestricted(
    code="MRK002",
    name="nelarabine-t-lineage-only",
    severity="block",
    what="Blocks drugs restricted to one lineage (nelarabine: T-ALL / T-LBL) for any other diagnosis.",
    why="Nelarabine is a T-cell-selective purine analogue indicated only for T-lineage disease, with a boxed "
    "warning for severe neurotoxicity; in B-lineage or other disease it gives that risk without the indication.",
    example="Nelarabine ordered for relapsed B-ALL.",
    use_instead="B-ALL salvage options (inotuzumab ozogamicin, blinatumomab) per indication.",
    references=(NELARABINE_LABEL,),
)
