"""AGE001: regimen intensity and population against the patient's age."""

from __future__ import annotations

from collections.abc import Iterator

from ..dosing import ADULT_AGE
from .base import Context, Finding, Rule
from .sources import KANTARJIAN_2004, THOMAS_2010

# Kantarjian 2004 (hyper-CVAD long-term follow-up): induction mortality 15% at age >= 60
# against 2% below 60; Thomas 2010: no benefit of adding rituximab at 60 and over.
HIGH_INTENSITY_AGE = 60


class IntensityForAge(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        regimen, age = ctx.regimen, ctx.age
        if regimen.intensity == "high" and age >= HIGH_INTENSITY_AGE:
            yield self.finding(
                "warn",
                f"{regimen.name} is a high-intensity regimen; patient is {age} years "
                f"(≥ {HIGH_INTENSITY_AGE}: induction mortality 15% vs 2% in hyper-CVAD)",
            )
        if regimen.population == "adult" and age < ADULT_AGE:
            yield self.finding("warn", f"{regimen.name} is an adult regimen; patient is {age} years (< {ADULT_AGE})")
        if regimen.population == "pediatric" and age >= ADULT_AGE:
            covered = any(
                i.population.age_below is not None and age < i.population.age_below for i in regimen.indications
            )
            if not covered:
                yield self.finding(
                    "warn", f"{regimen.name} is a pediatric regimen; patient is {age} years (≥ {ADULT_AGE})"
                )
        for indication in regimen.indications:
            low, high = indication.population.age_min, indication.population.age_below
            if (low is not None and age < low) or (high is not None and age >= high):
                span = f"{low:g}" if low is not None else "0"
                span += f"-{high - 1:g}" if high is not None else "+"
                yield self.finding("warn", f"{regimen.name} was studied in ages {span} years; patient is {age}")
                break


AGE001 = IntensityForAge(
    code="AGE001",
    name="intensity-for-age",
    severity="warn",
    what="Warns when a high-intensity regimen is ordered at age ≥ 60, an adult regimen for a child, a pediatric "
    "regimen for an adult, or a regimen outside the ages it was studied in.",
    why="Older adults have far higher treatment-related mortality with intensive ALL induction (hyper-CVAD: 15% at "
    "≥ 60 vs 2% below); children and adults differ in pharmacology and in which protocol was tested.",
    example="R-hyper-CVAD course A for a 68-year-old.",
    use_instead="Regimens designed for older adults (e.g. mini-hyper-CVD with inotuzumab) or age-appropriate protocols.",
    references=(KANTARJIAN_2004, THOMAS_2010),
)
