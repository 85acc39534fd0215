"""AGE001: regimen intensity and population against the patient's age."""

from __future__ import annotations

from collections.abc import Iterator

from ..dosing import ADULT_AGE
from ..units import KG, format_quantity, magnitude_in
from .base import Context, Finding, Rule
from .sources import COSA_INFANT_BSA, KANTARJIAN_2004, THOMAS_2010

# Kantarjian 2004 (hyper-CVAD long-term follow-up): induction mortality 15% at age >= 60
# against 2% below 60; Thomas 2010: no benefit of adding rituximab at 60 and over.
HIGH_INTENSITY_AGE = 60
# COSA: below 10 kg, BSA-based doses can be significant overdoses; protocols dose by weight.
BSA_DOSING_MIN_WEIGHT_KG = 10.0


class IntensityForAge(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        regimen, age = ctx.regimen, ctx.age
        if regimen.intensity == "high" and age >= HIGH_INTENSITY_AGE:
            yield self.finding(
                "hold",
                f"{regimen.name} is a high-intensity regimen; patient is {age} years "
                f"(≥ {HIGH_INTENSITY_AGE}: induction mortality 15% vs 2% in hyper-CVAD)",
            )
        if regimen.population == "adult" and age < ADULT_AGE:
            yield self.finding("hold", f"{regimen.name} is an adult regimen; patient is {age} years (< {ADULT_AGE})")
        if regimen.population == "pediatric" and age >= ADULT_AGE:
            covered = any(
                i.population.age_below is not None and age < i.population.age_below for i in regimen.indications
            )
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
        for indication in regimen.indications:
            low, high = indication.population.age_min, indication.population.age_below
            if (low is not None and age < low) or (high is not None and age >= high):
                span = f"{low:g}" if low is not None else "0"
                span += f"-{high - 1:g}" if high is not None else "+"
                yield self.finding("hold", f"{regimen.name} was studied in ages {span} years; patient is {age}")
                break


AGE001 = IntensityForAge(
    code="AGE001",
    name="intensity-for-age",
    severity="hold",
    what="Holds (until a pharmacist acknowledges with a reason) when a high-intensity regimen is ordered at age ≥ 60, an adult regimen for a child, a pediatric "
    "regimen for an adult, a regimen outside the ages it was studied in, or BSA-based doses for a patient under 10 kg.",
    why="Older adults have far higher treatment-related mortality with intensive ALL induction (hyper-CVAD: 15% at "
    "≥ 60 vs 2% below); children and adults differ in pharmacology and in which protocol was tested.",
    example="R-hyper-CVAD course A for a 68-year-old.",
    use_instead="Regimens designed for older adults (e.g. mini-hyper-CVD with inotuzumab) or age-appropriate protocols.",
    references=(KANTARJIAN_2004, THOMAS_2010, COSA_INFANT_BSA),
)
