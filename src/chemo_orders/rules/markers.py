"""MRK001 and MRK002: drugs that only make sense for a marker or a lineage."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnosis import DIAGNOSIS_NAMES, FAMILIES, may_be
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
        if ctx.patient.diagnosis not in FAMILIES["all"]:  # B-ALL, T-ALL or lineage not stated
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
        diagnosis = ctx.patient.diagnosis
        for drug in sorted({line.drug for line in ctx.regimen.drugs}):
            allowed = table.get(drug).restricted_to
            if not allowed or diagnosis in allowed:
                continue
            names = ", ".join(DIAGNOSIS_NAMES[d] for d in allowed)
            if any(may_be(diagnosis, d) for d in allowed):
                # ALL of unstated lineage may be the lineage the drug is for: a pharmacist decides.
                yield self.finding(
                    "hold",
                    f"{drug} is only for {names}; ALL lineage not stated: give the lineage (immunophenotype)",
                    drug=drug,
                )
            else:
                yield self.finding(
                    "block", f"{drug} is only for {names}; patient has {DIAGNOSIS_NAMES[diagnosis]}", drug=drug
                )


MRK001 = RituximabNeedsCd20(
    code="MRK001",
    name="rituximab-needs-cd20",
    severity="block",
    what="Blocks an anti-CD20 antibody (rituximab) in any ALL (B, T or lineage not stated) unless CD20 is known and ≥ 20% of blasts.",
    why="The benefit of adding rituximab in ALL was shown only for CD20-positive disease (≥ 20% of blasts, "
    "Thomas 2010); without the target the antibody adds infusion reactions, infection and HBV reactivation risk for no benefit.",
    example="R-hyper-CVAD course A for B-ALL with CD20 on 5% of blasts, or with CD20 not reported.",
    use_instead="hyper-CVAD without rituximab, or measure CD20 first.",
    references=(THOMAS_2010,),
)

MRK002 = LineageRestricted(
    code="MRK002",
    name="nelarabine-t-lineage-only",
    severity="block / hold",
    what="Blocks drugs restricted to one lineage (nelarabine: T-ALL / T-LBL) for any other diagnosis; holds them "
    "for ALL whose lineage is not stated.",
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
        if ph == "positive" and not has_tki and self._label_covers(ctx):
            return
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

    @staticmethod
    def _label_covers(ctx: Context) -> bool:
        """Relapsed/refractory disease treated only with drugs whose labels cover Ph-positive disease
        (blinatumomab, inotuzumab ozogamicin: design §11.3) needs no TKI in the regimen."""
        antineoplastic = {line.drug for line in ctx.regimen.drugs if line.role == "antineoplastic"}
        return (
            ctx.patient.disease_status in ("relapsed", "refractory")
            and bool(antineoplastic)
            and antineoplastic <= set(PH_POSITIVE_RELAPSE_LABELS)
        )


# Labels whose relapsed/refractory indication includes Philadelphia-positive B-ALL.
PH_POSITIVE_RELAPSE_LABELS = {
    "blinatumomab": BLINATUMOMAB_LABEL,
    "inotuzumab ozogamicin": INOTUZUMAB_LABEL,
}


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
    "Philadelphia-positive ALL, except relapsed or refractory disease treated with blinatumomab or inotuzumab "
    "ozogamicin alone, whose labels cover Ph-positive disease; warns when Ph status is not given before adult ALL induction.",
    why="Ph-positive ALL treated with chemotherapy alone has a far worse outcome than with a TKI; the Ph status "
    "decides the whole treatment approach and must be known before induction.",
    example="Hyper-CVAD course A for Ph-positive B-ALL.",
    use_instead="A TKI-containing regimen for Ph-positive ALL.",
    references=(THOMAS_2010, BLINATUMOMAB_LABEL, INOTUZUMAB_LABEL),
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


# EGIL: a marker is positive on a blast population when >= 20 % of blasts express it; below
# that the disease is CD19-negative for a CD19-directed therapy (blinatumomab, CAR-T).
CD19_THRESHOLD_PERCENT = 20.0
EGIL_1995 = (
    "Bene MC, Castoldi G, Knapp W, et al. Proposals for the immunological classification of acute leukemias. "
    "European Group for the Immunological Characterization of Leukemias (EGIL). Leukemia 1995;9(10):1783-1786. "
    "PMID 7564526: a marker is considered positive when expressed on at least 20% of blasts"
)


class Cd19Directed(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        directed = drug_table().members("anti-cd19")
        lines = ctx.regimen.lines_for_cycle(ctx.options.cycle)
        drugs = sorted({line.drug for line in lines if line.drug in directed})
        if not drugs:
            return
        cd19 = ctx.patient.markers.cd19_percent
        names = ", ".join(drugs)
        if cd19 is None:
            yield self.finding(
                "warn",
                f"{names} targets CD19; CD19 not given (markers.cd19_percent): confirm CD19-positive disease, "
                "especially after a CD19-directed therapy",
                drug=drugs[0],
            )
        elif cd19 < CD19_THRESHOLD_PERCENT:
            yield self.finding(
                "block",
                f"{names} targets CD19; patient's CD19 is {cd19:g}% of blasts (< {CD19_THRESHOLD_PERCENT:g}%: "
                "CD19-negative disease)",
                drug=drugs[0],
                use_instead="inotuzumab ozogamicin if CD22-positive, or chemotherapy",
            )


MRK006 = Cd19Directed(
    code="MRK006",
    name="cd19",
    severity="block / warn",
    what="Blocks a CD19-directed therapy (drugs.yaml group anti-cd19: blinatumomab, CD19 CAR-T) when CD19 is on "
    "fewer than 20 % of blasts (EGIL's positivity threshold); warns when CD19 is not given.",
    why="Blinatumomab and CD19 CAR-T act only through CD19; CD19-negative relapse (common after CD19-directed "
    "therapy) gives cytokine release and neurotoxicity risk with no chance of response.",
    example="Blinatumomab for relapsed B-ALL with CD19 on 2 % of blasts after CAR-T.",
    use_instead="Inotuzumab ozogamicin (CD22) or chemotherapy; re-test CD19 by flow cytometry.",
    references=(BLINATUMOMAB_LABEL, EGIL_1995),
)
