"""IND001 and IND002: is this regimen meant for this patient's disease at all?

ALL of unstated lineage may be B- or T-lineage: a regimen indicated for one lineage, or whose
indications or doses differ between them, is neither right nor wrong for it, so IND001 holds
and asks for the immunophenotype instead of blocking or passing (never guess).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnosis import ALL_LINEAGES, DIAGNOSIS_NAMES, FAMILIES, LINEAGE_UNKNOWN, covered, in_family, may_be
from ..regimen import DoseLine, Indication, Regimen, all_regimens
from .base import Context, Finding, Rule
from .sources import KANTARJIAN_2000, KEWALRAMANI_2004, THOMAS_2010


def indication_references(regimen: Regimen) -> tuple[str, ...]:
    """The regimen's own references for its indication: the primary ones (trial papers), else the
    label and guideline ones, never another regimen's papers."""
    for levels in (("primary",), ("label", "guideline"), ("secondary",)):
        found = tuple(
            ref.citation + (f". PMID {ref.pmid}" if ref.pmid else "") + (f". doi:{ref.doi}" if ref.doi else "")
            for ref in regimen.references.values()
            if ref.level in levels
        )
        if found:
            return found
    return ()


def describe(indication: Indication) -> str:
    disease = "ALL (B- or T-lineage)" if indication.disease == "all" else DIAGNOSIS_NAMES[indication.disease]
    status = f" ({', '.join(indication.status)})" if indication.status else ""
    return disease + status


def fits(indication: Indication, regimen: Regimen, ctx: Context) -> bool:
    """Does this indication cover the patient: disease, status, age, CD20, Philadelphia?"""
    patient, age, population = ctx.patient, ctx.age, indication.population
    adult = age >= 18
    return (
        in_family(patient.diagnosis, indication.disease)
        and (not indication.status or patient.disease_status in indication.status)
        and (population.age_min is None or age >= population.age_min)
        and (population.age_below is None or age < population.age_below)
        and (population.cd20_percent_min is None or (patient.markers.cd20_percent or -1) >= population.cd20_percent_min)
        and (population.philadelphia is None or patient.markers.philadelphia in (None, population.philadelphia))
        and not (regimen.population == "adult" and not adult)
        and not (regimen.population == "pediatric" and adult and population.age_below is None)
    )


def alternatives_for(ctx: Context) -> list[Regimen]:
    """Library regimens whose indications cover this patient (suggestions, not orders)."""
    return [r for r in all_regimens() if r.status == "active" and any(fits(i, r, ctx) for i in r.indications)]


class IndicationMismatch(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        patient, regimen = ctx.patient, ctx.regimen
        ph = patient.markers.philadelphia
        if IND002.applies(ctx):
            return  # the more specific IND002 explains this case
        diseases = [i for i in regimen.indications if may_be(patient.diagnosis, i.disease)]
        indicated = "; ".join(describe(i) for i in regimen.indications)
        refs = indication_references(regimen)
        if not diseases:
            yield self.finding(
                "block",
                f"{regimen.name} is not indicated for {DIAGNOSIS_NAMES[patient.diagnosis]}; it is for {indicated}",
                references=refs or self.references,
                use_instead=_suggest(ctx),
            )
            return
        by_status = [i for i in diseases if not i.status or patient.disease_status in i.status]
        if not by_status:
            status = patient.disease_status or "unknown (disease_status not given)"
            yield self.finding(
                "block",
                f"{regimen.name} is for {indicated}; disease status is {status}",
                references=refs or self.references,
                use_instead=_suggest(ctx),
            )
            return
        mismatched = [p for p in (i.population.philadelphia for i in by_status) if p and p != ph and ph]
        for wanted in mismatched:
            yield self.finding(
                "block",
                f"{regimen.name} is for Philadelphia-{wanted} disease; patient is Philadelphia-{ph}",
                references=refs or self.references,
            )
        question = None if mismatched else lineage_question(regimen, patient.diagnosis, by_status)
        if question:
            yield self.finding(
                "hold",
                f"ALL lineage not stated: B-cell precursor or T — {question}; give the lineage (immunophenotype)",
                references=refs or self.references,
                use_instead="record the lineage from flow cytometry (diagnosis b-all or t-all), or a regimen "
                "indicated for ALL of either lineage",
            )


_LINEAGE_LABELS = {"b-all": "B-ALL", "t-all": "T-ALL"}


def lineage_question(regimen: Regimen, diagnosis: str, indications: list[Indication]) -> str | None:
    """Why the lineage decides this regimen for ALL of unstated lineage, or None when it does not:
    the fitting indications name one lineage only, the regimen's doses differ by lineage, or its
    B-ALL and T-ALL indications cover different populations (children's NCI risk group)."""
    if diagnosis != LINEAGE_UNKNOWN:
        return None
    named = sorted(lineage for lineage in ALL_LINEAGES if any(in_family(lineage, i.disease) for i in indications))
    if len(named) < len(ALL_LINEAGES):
        return f"{regimen.name} is for {' and '.join(_LINEAGE_LABELS[n] for n in named)}"
    drugs = sorted({line.drug for line in regimen.drugs if _lineage_dependent(line)})
    if drugs:
        return f"{regimen.name} gives {', '.join(drugs)} differently for B-ALL and T-ALL"
    family = [i for i in indications if in_family(diagnosis, i.disease)]
    if not family and len({i.population for i in indications}) > 1:
        return f"{regimen.name}'s indications for B-ALL and T-ALL cover different patients"
    return None


def _lineage_dependent(line: DoseLine) -> bool:
    """A line whose condition (only_when, or an alternative dose's when) names one ALL lineage only."""
    conditions = [line.only_when, *(a.when for a in line.alternatives)]
    return any(
        c is not None and bool(set(c.diagnosis) & ALL_LINEAGES) and not covered(LINEAGE_UNKNOWN, c.diagnosis)
        for c in conditions
    )


def _suggest(ctx: Context) -> str | None:
    names = [r.name for r in alternatives_for(ctx) if r.id != ctx.regimen.id]
    return f"regimens in this library indicated for this diagnosis and status: {', '.join(names)}" if names else None


class LymphomaSalvageForAll(Rule):
    def applies(self, ctx: Context) -> bool:
        return ctx.regimen.category == "lymphoma-salvage" and ctx.patient.diagnosis in FAMILIES["all"]

    def check(self, ctx: Context) -> Iterator[Finding]:
        if not self.applies(ctx):
            return
        regimen, patient = ctx.regimen, ctx.patient
        library = [r.name for r in alternatives_for(ctx)]
        instead = (
            "ALL-specific regimens (e.g. hyper-CVAD, pediatric-inspired protocols); a "
            "rituximab-containing regimen only if CD20 ≥ 20% of blasts"
            + (f". In this library for this patient: {', '.join(library)}" if library else "")
        )
        yield self.finding(
            "block",
            f"{regimen.name} is a lymphoma salvage regimen (for "
            f"{'; '.join(describe(i) for i in regimen.indications)}); "
            f"patient has {DIAGNOSIS_NAMES[patient.diagnosis]}, which needs ALL-specific therapy",
            references=indication_references(regimen) + self.references,
            use_instead=instead,
        )


IND001 = IndicationMismatch(
    code="IND001",
    name="indication-mismatch",
    severity="block / hold",
    what="Blocks a regimen whose indications (disease, disease status, Philadelphia status) do not include the "
    "patient's. Holds one whose fit depends on the ALL lineage (indicated for B-ALL or T-ALL only, doses or "
    "populations that differ by lineage) when the patient's ALL lineage is not stated.",
    why="A regimen is tested for one disease at one stage; given for another it is either ineffective or needlessly "
    "toxic (e.g. a salvage regimen for newly diagnosed disease, or a Ph-negative protocol for Ph-positive ALL). "
    "B-cell precursor and T-ALL are treated differently (blinatumomab and inotuzumab act on B-lineage antigens, "
    "nelarabine on T cells); when the lineage is not stated the tool cannot tell, so a pharmacist decides.",
    example="R-ICE (relapsed/refractory DLBCL, transplant-eligible) ordered for newly diagnosed DLBCL.",
    use_instead="A regimen whose indications list the patient's diagnosis and disease status; the block names those in the library.",
    references=(KEWALRAMANI_2004, THOMAS_2010),
)

IND002 = LymphomaSalvageForAll(
    code="IND002",
    name="lymphoma-salvage-for-all",
    severity="block",
    what="Blocks any lymphoma salvage regimen (category lymphoma-salvage: R-ICE, ICE, R-DHAP, R-GDP …) for B-ALL, T-ALL "
    "or ALL of unstated lineage.",
    why="Lymphoma salvage regimens were developed and tested for relapsed/refractory aggressive lymphoma before "
    "transplant; none was studied in acute lymphoblastic leukemia, which is treated with ALL-specific "
    "multi-agent protocols including CNS prophylaxis. Substituting one undertreats the leukemia and omits CNS-directed therapy.",
    example="R-ICE ordered for an adult with newly diagnosed CD20-positive B-ALL.",
    use_instead="ALL-specific regimens such as hyper-CVAD or pediatric-inspired protocols; rituximab-containing ones only if CD20 ≥ 20% of blasts (MRK001).",
    references=(THOMAS_2010, KANTARJIAN_2000),
)
