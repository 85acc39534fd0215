"""The safety-rule registry: every rule of the catalogue (design §6), in code order."""

from __future__ import annotations

from .age import AGE001
from .allergy import ALG001, HIS001
from .base import Context, Finding, Rule
from .cardiac import CAR001
from .course import CYC001, SEQ001
from .dose import DOS001, DOS002, DOS003, DOS004
from .hepatic import HEP001
from .indication import IND001, IND002
from .labs import LAB001
from .markers import MRK001, MRK002, MRK003, MRK004, MRK005, MRK006
from .patient_factors import DDI001, HBV001, PGX001, PRG001
from .renal import REN001
from .risk import RSK001
from .route import ROU001, ROU002
from .status import REG001
from .weight import WGT001

RULES: tuple[Rule, ...] = (
    REG001,
    IND001,
    IND002,
    MRK001,
    MRK002,
    MRK003,
    MRK004,
    MRK005,
    MRK006,
    RSK001,
    AGE001,
    SEQ001,
    CYC001,
    PRG001,
    HBV001,
    PGX001,
    DDI001,
    ALG001,
    HIS001,
    DOS001,
    DOS002,
    DOS003,
    DOS004,
    REN001,
    HEP001,
    CAR001,
    LAB001,
    WGT001,
    ROU001,
    ROU002,
)
BY_CODE = {rule.code: rule for rule in RULES}
SEVERITY_ORDER = {"block": 0, "hold": 1, "warn": 2, "info": 3}


def run_rules(ctx: Context) -> list[Finding]:
    """Every finding of every rule, blocks first."""
    findings = [finding for rule in RULES for finding in rule.check(ctx)]
    return sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity])


def rules_markdown() -> str:
    """docs/rules.md: every rule's documentation, generated (scripts/generate_docs.py)."""
    header = (
        "# Safety rules\n\n"
        "Generated from `src/chemo_orders/rules/` by `scripts/generate_docs.py`; do not edit by hand.\n"
        "`chemo-orders rule CODE` prints the same text. Block-level findings cannot be overridden;\n"
        "a hold stops the order until a pharmacist acknowledges it, and warn-level findings can be\n"
        "acknowledged, with `--acknowledge CODE --reason TEXT`.\n\n"
        "| code | slug | severity |\n|---|---|---|\n"
        + "".join(f"| {r.code} | {r.name} | {r.severity} |\n" for r in RULES)
    )
    return header + "\n" + "\n".join(rule.document() for rule in RULES)


__all__ = ["BY_CODE", "RULES", "Context", "Finding", "Rule", "rules_markdown", "run_rules"]
