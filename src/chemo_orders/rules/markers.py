"""MRK001 and MRK002: drugs that only make sense for a marker or a lineage."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnosis import DIAGNOSIS_NAMES, FAMILIES
from ..drugs import drug_table
from .base import Context, Finding, Rule
from .sources import BLINATUMOMAB_LABEL, INOTUZUMAB_LABEL, NELARABINE_LABEL, THOMAS_2010

# Thomas 2010: rituximab was given in ALL only when CD20 was expressed on >= 20% of blasts.
CD20_THRESHOLD_PERCENT = 20.0
# "CD22-positive" (the inotuzumab label) made operational: Alliance A041703 (NCT03739814)
# enrolled "CD22+ (>= 20% of blasts)". Used where a regimen file states no threshold of its own.
CD22_THRESHOLD_PERCENT = 20.0
ALLIANCE_A041703 = (
    "Wieduwilt MJ, et al. Chemotherapy-free treatment with inotuzumab ozogamicin and blinatumomab for older "
    "adults with newly diagnosed, Ph-negative, CD22-positive B-cell ALL: Alliance A041703. J Clin Oncol "
    "2023;41(16_suppl):7006 (abstract): eligibility 'CD22+ (>=20% of blasts)'. NCT03739814"
)


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


def _population_sources(ctx: Context, attribute: str) -> tuple[str, ...]:
    """The citations behind a population threshold in the regimen's indications."""
    keys = [
        k for i in ctx.regimen.indications if getattr(i.population, attribute) is not None for k in i.population.source
    ]
    return tuple(ctx.regimen.references[k].citation for k in dict.fromkeys(keys) if k in ctx.regimen.references)


class PhiladelphiaNeedsTki(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        patient, regimen = ctx.patient, ctx.regimen
        if patient.diagnosis not in FAMILIES["all"]:
            return
        table = drug_table()
        tkis = table.groups["tki"].drugs if "tki" in table.groups else ()
        has_tki = any(line.drug in tkis for line in regimen.drugs)
        ph = patient.markers.philadelphia
        if ph == "positive" and not has_tki:
            yield self.finding(
                "block",
                f"Philadelphia-positive ALL: {regimen.name} contains no BCR::ABL1 tyrosine kinase inhibitor",
                use_instead="a Ph-positive regimen with a TKI (imatinib, dasatinib or ponatinib with chemotherapy "
                "or blinatumomab)",
            )
        elif ph is None and regimen.category == "all-induction" and ctx.calculation.body.adult:
            yield self.finding(
                "warn",
                f"Philadelphia status not given (markers.philadelphia) before adult ALL induction with {regimen.name}",
            )


class Cd22ForInotuzumab(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        drugs = sorted({line.drug for line in ctx.regimen.drugs if line.drug == "inotuzumab ozogamicin"})
        if not drugs:
            return
        stated = [i.population.cd22_percent_min for i in ctx.regimen.indications]
        known = [t for t in stated if t is not None]
        needed = min(known) if known else CD22_THRESHOLD_PERCENT
        refs = _population_sources(ctx, "cd22_percent_min") if known else (ALLIANCE_A041703, INOTUZUMAB_LABEL)
        cd22 = ctx.patient.markers.cd22_percent
        if cd22 is None or cd22 < needed:
            got = "not given (markers.cd22_percent)" if cd22 is None else f"{cd22:g}%"
            yield self.finding(
                "block",
                f"inotuzumab ozogamicin needs CD22 on ≥ {needed:g}% of blasts; CD22 {got}",
                drug=drugs[0],
                references=refs or self.references,
            )


class MrdThreshold(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        patient = ctx.patient
        if patient.disease_status != "mrd-positive":
            return
        thresholds = [
            i.population.mrd_percent_min
            for i in ctx.regimen.indications
            if "mrd-positive" in i.status and i.population.mrd_percent_min is not None
        ]
        if not thresholds:
            return
        needed, mrd = min(thresholds), patient.markers.mrd_percent
        if mrd is None or mrd < needed:
            got = "not given (markers.mrd_percent)" if mrd is None else f"{mrd:g}%"
            yield self.finding(
                "block",
                f"{ctx.regimen.name} for MRD-positive disease needs MRD ≥ {needed:g}%; MRD {got}",
                references=_population_sources(ctx, "mrd_percent_min") or self.references,
            )


MRK003 = PhiladelphiaNeedsTki(
    code="MRK003",
    name="philadelphia",
    severity="block / warn",
    what="Blocks a regimen without a BCR::ABL1 tyrosine kinase inhibitor (drugs.yaml group tki) for "
    "Philadelphia-positive ALL; warns when Ph status is not given before adult ALL induction.",
    why="Ph-positive ALL treated with chemotherapy alone has a far worse outcome than with a TKI; the Ph status "
    "decides the whole treatment approach and must be known before induction.",
    example="Hyper-CVAD course A for Ph-positive B-ALL.",
    use_instead="A TKI-containing regimen for Ph-positive ALL.",
    references=(THOMAS_2010,),
)

MRK004 = Cd22ForInotuzumab(
    code="MRK004",
    name="cd22-for-inotuzumab",
    severity="block",
    what="Blocks inotuzumab ozogamicin when CD22 is not given or below the regimen's cited threshold (indication "
    "population cd22_percent_min), else below 20 % of blasts (the label's 'CD22-positive' as Alliance A041703 "
    "defined it).",
    why="Inotuzumab is an anti-CD22 antibody-drug conjugate: without the target it gives hepatotoxicity and "
    "veno-occlusive disease risk for no benefit.",
    example="Inotuzumab ozogamicin for relapsed B-ALL with CD22 on 0 % of blasts.",
    use_instead="Measure CD22; blinatumomab (CD19) or chemotherapy when CD22 is absent.",
    references=(INOTUZUMAB_LABEL, ALLIANCE_A041703),
)

MRK005 = MrdThreshold(
    code="MRK005",
    name="mrd-threshold",
    severity="block",
    what="Blocks a regimen ordered for MRD-positive disease when MRD is not given or below the indication's cited "
    "threshold (population mrd_percent_min: blinatumomab ≥ 0.1 %).",
    why="The MRD-positive indications were studied and approved above a measured threshold; below it the patient "
    "is not in the population that benefited and bears cytokine release and neurotoxicity risk.",
    example="Blinatumomab for MRD-positive B-ALL with MRD 0.01 %.",
    use_instead="Repeat MRD by a validated assay; continue the planned therapy.",
    references=(BLINATUMOMAB_LABEL,),
)
