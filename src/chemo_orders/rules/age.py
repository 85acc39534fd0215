"""AGE001: regimen intensity and population against the patient's age."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnosis import may_be
from ..dosing import ADULT_AGE
from ..regimen import Indication
from ..units import KG, format_quantity, magnitude_in
from .base import Context, Finding, Rule
from .sources import ASCO_GERIATRIC_2018, COSA_INFANT_BSA

# ASCO Guideline for Geriatric Oncology (Mohile 2018): patients aged 65 and over receiving
# chemotherapy need a geriatric assessment before it. Not disease-specific, so no regimen is held
# on another disease's mortality data; a regimen's own studied ages are checked per indication.
HIGH_INTENSITY_AGE = 65
# COSA: below 10 kg, BSA-based doses can be significant overdoses; protocols dose by weight.
BSA_DOSING_MIN_WEIGHT_KG = 10.0


def relevant_indications(ctx: Context) -> tuple[Indication, ...]:
    """The indications for this patient's disease (and status, where one matches): a regimen's
    ages and intensity are judged by the evidence for the disease being treated."""
    patient = ctx.patient
    by_disease = [i for i in ctx.regimen.indications if may_be(patient.diagnosis, i.disease)]
    by_status = [i for i in by_disease if not i.status or patient.disease_status in i.status]
    return tuple(by_status or by_disease)


def _age_adjusted(ctx: Context) -> list[str]:
    """Lines whose dose the regimen's own source adjusts for this patient's age (applied, shown)."""
    return [
        o.drug
        for o in ctx.calculation.orders
        if o.alternative is not None
        and o.alternative.when.age_min is not None
        and ctx.age >= o.alternative.when.age_min
    ]


class IntensityForAge(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        regimen, age = ctx.regimen, ctx.age
        indications = relevant_indications(ctx)
        intensity = {i.intensity or regimen.intensity for i in indications} or {regimen.intensity}
        adjusted = _age_adjusted(ctx)
        if "high" in intensity and age >= HIGH_INTENSITY_AGE and not adjusted:
            yield self.finding(
                "hold",
                f"{regimen.name} is a high-intensity regimen; patient is {age} years (≥ {HIGH_INTENSITY_AGE}: "
                "a geriatric assessment of fitness for it is recommended before chemotherapy)",
                references=(ASCO_GERIATRIC_2018,),
            )
        if regimen.population == "adult" and age < ADULT_AGE:
            yield self.finding("hold", f"{regimen.name} is an adult regimen; patient is {age} years (< {ADULT_AGE})")
        if regimen.population == "pediatric" and age >= ADULT_AGE:
            covered = any(i.population.age_below is not None and age < i.population.age_below for i in indications)
            if not covered:
                yield self.finding(
                    "hold", f"{regimen.name} is a pediatric regimen; patient is {age} years (≥ {ADULT_AGE})"
                )
        weight_kg = magnitude_in(ctx.patient.weight, KG)
        per_m2 = sorted({o.drug for o in ctx.calculation.orders if o.basis == "bsa"})
        if weight_kg < BSA_DOSING_MIN_WEIGHT_KG and per_m2:
            yield self.finding(
                "hold",
                f"patient weighs {format_quantity(ctx.patient.weight)} (< {BSA_DOSING_MIN_WEIGHT_KG:g} kg): "
                f"BSA-based doses of {', '.join(per_m2)} can be overdoses; use the protocol's weight-based "
                "(infant) dosing",
                references=(COSA_INFANT_BSA,),
            )
        ecog = ctx.patient.ecog
        limits = [i.population.ecog_max for i in regimen.indications if i.population.ecog_max is not None]
        if ecog is not None and limits and ecog > max(limits):
            yield self.finding(
                "hold",
                f"{regimen.name} was studied in patients with ECOG ≤ {max(limits)}; patient's ECOG is {ecog}",
                references=tuple(
                    regimen.references[k].citation
                    for i in regimen.indications
                    for k in i.population.source
                    if k in regimen.references
                )
                or self.references,
            )
        yield from self._studied_ages(ctx, indications)

    def _studied_ages(self, ctx: Context, indications: tuple[Indication, ...]) -> Iterator[Finding]:
        """Held only when the age is outside every relevant indication's studied ages."""
        age = ctx.age
        spans = [(i, i.population.age_min, i.population.age_below) for i in indications]
        stated = [(i, low, high) for i, low, high in spans if low is not None or high is not None]
        if not stated or len(stated) < len(spans):
            return  # an indication with no stated ages (or none at all): nothing to hold on
        if any((low is None or age >= low) and (high is None or age < high) for _, low, high in stated):
            return
        texts = []
        for _, low, high in stated:
            span = f"{low:g}" if low is not None else "0"
            texts.append(span + (f"-{high - 1:g}" if high is not None else "+"))
        keys = [k for i, _, _ in stated for k in i.population.source if k in ctx.regimen.references]
        refs = tuple(ctx.regimen.references[k].citation for k in dict.fromkeys(keys))
        yield self.finding(
            "hold",
            f"{ctx.regimen.name} was studied for this indication in ages {' or '.join(texts)} years; patient is {age}",
            references=refs or self.references,
        )


AGE001 = IntensityForAge(
    code="AGE001",
    name="intensity-for-age",
    severity="hold",
    what="Holds (until a pharmacist acknowledges with a reason) when the patient's ECOG performance status is above "
    "what the regimen was studied in; when a high-intensity regimen (for the indication being treated) is ordered at "
    "age ≥ 65, unless the regimen's own source adjusts a dose for the patient's age (then the adjusted dose is "
    "applied and shown); an adult regimen for a child or a pediatric regimen for an adult; an age outside the ages "
    "the regimen was studied in for the patient's own indication (never another indication's ages); or BSA-based "
    "doses for a patient under 10 kg.",
    why="Older adults have higher treatment-related mortality with intensive chemotherapy, and ASCO recommends a "
    "geriatric assessment from age 65; children and adults differ in pharmacology and in which protocol was tested.",
    example="R-hyper-CVAD course A for a 68-year-old; passes: R-ICE at 60 for relapsed DLBCL, hyper-CVAD course B at "
    "67 (cytarabine 1 g/m² at ≥ 60 per its source).",
    use_instead="Regimens designed for older adults (e.g. mini-hyper-CVD with inotuzumab) or age-appropriate protocols.",
    references=(ASCO_GERIATRIC_2018, COSA_INFANT_BSA),
)
