"""What a safety rule is: a code, a documented clinical reason, and a check.

Rules read a :class:`Context` (patient, regimen, calculated orders) and return findings.
Documentation follows the ruff/sqlfluff model - what it checks, why (the clinical harm),
an example, what to use instead, references - so ``chemo-orders rule CODE`` and
``docs/rules.md`` explain every block a pharmacist sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from ..dosing import Calculation, Options
from ..modifications import Verdict
from ..patient import Patient
from ..regimen import Regimen

Severity = Literal["block", "hold", "warn", "info"]


@dataclass(frozen=True)
class Finding:
    """One rule's verdict about one thing, with the value and the limit in the message."""

    rule: str
    name: str
    severity: Severity
    message: str
    references: tuple[str, ...]
    drug: str | None = None
    use_instead: str | None = None

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "references": list(self.references),
        }
        if self.drug is not None:
            data["drug"] = self.drug
        if self.use_instead is not None:
            data["use_instead"] = self.use_instead
        return data


@dataclass(frozen=True)
class Context:
    patient: Patient
    regimen: Regimen
    calculation: Calculation
    options: Options
    verdicts: tuple[Verdict, ...] = ()  # the organ-function bands applied (REN001/HEP001/CAR001)

    @property
    def age(self) -> int:
        return self.calculation.body.age_years


@dataclass(frozen=True)
class Rule:
    """A documented rule; subclasses implement :meth:`check`."""

    code: str
    name: str
    severity: str  # the levels it can raise, e.g. "block" or "warn / block"
    what: str
    why: str
    example: str
    use_instead: str
    references: tuple[str, ...]
    lint_only: bool = field(default=False)

    def check(self, ctx: Context) -> Iterator[Finding]:
        raise NotImplementedError

    def finding(
        self,
        severity: Severity,
        message: str,
        *,
        references: tuple[str, ...] | None = None,
        drug: str | None = None,
        use_instead: str | None = None,
    ) -> Finding:
        return Finding(
            self.code,
            self.name,
            severity,
            message,
            references if references is not None else self.references,
            drug,
            use_instead,
        )

    def document(self) -> str:
        """The rule's documentation in Markdown, under fixed headings."""
        refs = "\n".join(f"- {ref}" for ref in self.references)
        return (
            f"## {self.code} {self.name}\n\n**Severity:** {self.severity}\n\n"
            f"### What it does\n{self.what}\n\n### Why is this bad?\n{self.why}\n\n"
            f"### Example\n{self.example}\n\n### Use instead\n{self.use_instead}\n\n"
            f"### References\n{refs}\n"
        )
