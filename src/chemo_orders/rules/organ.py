"""The shared shape of REN001, HEP001 and CAR001: findings from the cited organ-function bands.

The bands are applied once, by :func:`chemo_orders.modifications.adjust`, before the rules
run (the doses the rules see are the modified ones); each rule reports the verdicts that
carry its code, so one table drives the dose, the finding and the PDF.
"""

from __future__ import annotations

from collections.abc import Iterator

from .base import Context, Finding, Rule


class BandRule(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        for verdict in ctx.verdicts:
            if verdict.rule == self.code:
                yield self.finding(verdict.severity, verdict.message, references=verdict.references, drug=verdict.drug)
