"""RSK001: a children's standard-risk induction for a child at NCI high risk."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

from ..loader import read_package_yaml
from ..models import AnyQuantity, Frozen, validate
from ..patient import Patient
from ..units import format_value as show
from .base import Context, Finding, Rule


class StandardRisk(Frozen):
    age_min: float
    age_below: float
    wbc_at_diagnosis_below: AnyQuantity
    source: tuple[str, ...]


class NciRisk(Frozen):
    sources: dict[str, str]
    standard: StandardRisk


@cache
def nci_risk() -> NciRisk:
    path = Path(__file__).resolve().parent.parent / "nci-risk.yaml"
    return validate(NciRisk, read_package_yaml(path, "NCI risk table"), str(path))


def high_risk_reasons(patient: Patient, age: int) -> list[str]:
    """Why a child is NCI high risk (empty: standard risk, or not known without the WBC)."""
    criteria = nci_risk().standard
    wbc = patient.labs.wbc_at_diagnosis
    reasons = []
    if not criteria.age_min <= age < criteria.age_below:
        reasons.append(f"age {age} years (standard risk: {criteria.age_min:g} to < {criteria.age_below:g})")
    if wbc is not None and wbc >= criteria.wbc_at_diagnosis_below:
        reasons.append(f"WBC at diagnosis {show(wbc)} (standard risk: < {show(criteria.wbc_at_diagnosis_below)})")
    return reasons


def risk_group(patient: Patient, age: int) -> str | None:
    """A child's NCI risk group; None for adults, or when standard risk cannot be confirmed."""
    if age >= 18:
        return None
    if high_risk_reasons(patient, age):
        return "high"
    return "standard" if patient.labs.wbc_at_diagnosis is not None else None


class NciRiskGroup(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        standard_only = [i for i in ctx.regimen.indications if i.population.nci_risk == "standard"]
        if not standard_only or ctx.calculation.body.adult:
            return
        table = nci_risk()
        refs = tuple(table.sources[k] for k in table.standard.source)
        wbc = ctx.patient.labs.wbc_at_diagnosis
        reasons = high_risk_reasons(ctx.patient, ctx.age)
        if reasons:
            yield self.finding(
                "block",
                f"{ctx.regimen.name} is a standard-risk induction; patient is NCI high risk: {'; '.join(reasons)}",
                references=refs,
                use_instead="the NCI high-risk (4-drug) induction",
            )
        elif wbc is None:
            yield self.finding(
                "hold",
                f"{ctx.regimen.name} is for NCI standard risk; WBC at diagnosis not given (labs.wbc_at_diagnosis)",
                references=refs,
            )


RSK001: Rule = NciRiskGroup(
    code="RSK001",
    name="nci-risk",
    severity="block / hold",
    what="Blocks a children's standard-risk induction (indication population nci_risk: standard) for a child at "
    "NCI high risk: age 10 or over (or under 1), or WBC at diagnosis ≥ 50 × 10⁹/L; holds when the WBC at "
    "diagnosis is not recorded.",
    why="NCI high-risk children treated with the 3-drug standard-risk induction are undertreated: the 4-drug "
    "induction was adopted for them because their relapse risk is higher.",
    example="The 3-drug induction for a 12-year-old, or for a 6-year-old with WBC 62 × 10⁹/L at diagnosis.",
    use_instead="The high-risk (4-drug) induction.",
    references=tuple(nci_risk().sources.values()),
)
