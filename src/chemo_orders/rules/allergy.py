"""ALG001 and HIS001: a documented allergy, or a past event, that rules a drug out.

Matching goes through ``drugs.yaml``: an allergy to a group (``platinum``, ``asparaginase``)
covers every member, and brands and spellings were canonicalised when the file was read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..drugs import DrugTable, drug_table
from ..patient import Allergy
from .base import Context, Finding, Rule
from .sources import ASCO_ONS_2016


def _drugs(ctx: Context) -> list[str]:
    """Every drug this order set would give: the calculated orders, else the regimen's lines."""
    names = [o.drug for o in ctx.calculation.orders] or [line.drug for line in ctx.regimen.drugs]
    return sorted(set(names))


# History conditions that are allergies: a label contraindication "after hypersensitivity to X"
# is checked against the allergy list too (an allergy to pegaspargase and calaspargase pegol).
ALLERGIC_CONDITIONS = frozenset({"hypersensitivity", "anaphylaxis"})


def _overlap(first: str, second: str) -> bool:
    """Whether two drug-or-group names share a drug (``platinum`` and ``carboplatin`` do)."""
    table = drug_table()
    return bool(table.members(first) & table.members(second))


class DocumentedAllergy(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        table = drug_table()
        for drug in _drugs(ctx):
            for allergy in ctx.patient.allergies:
                finding = self._match(drug, allergy, table)
                if finding is not None:
                    yield finding

    def _match(self, drug: str, allergy: Allergy, table: DrugTable) -> Finding | None:
        """The finding for one drug against one allergy entry (any drug or class it names)."""
        for named in allergy.drugs:
            if drug in table.members(named):
                via = "" if named == drug else f" (class {named})"
                return self.finding(
                    "block",
                    f"{drug}: documented allergy to {allergy.describe()}{via}",
                    drug=drug,
                    **self._alternative(drug, named),
                )
        for named in allergy.drugs:
            for rule in table.get(drug).contraindicated_after:
                if rule.condition in ALLERGIC_CONDITIONS and rule.after and _overlap(named, rule.after):
                    return self.finding(
                        rule.severity,
                        f"{drug}: documented allergy to {allergy.describe()}; the label contraindicates "
                        f"{drug} after {rule.condition} to {rule.after}",
                        drug=drug,
                        references=tuple(table.cite(rule.source)),
                    )
        return None

    def _alternative(self, drug: str, allergen: str) -> dict[str, Any]:
        """The cited alternative, unless the allergy covers it too (an allergy to all asparaginases)."""
        table = drug_table()
        alternative = table.get(drug).on_allergy
        if alternative is None:
            return {"references": self.references}
        refs = tuple(table.cite(alternative.source))
        named = table.lookup(alternative.alternative.split(" (")[0]) or table.lookup(alternative.alternative)
        if named is not None and named in table.members(allergen):
            return {"references": refs, "use_instead": f"not {alternative.alternative}: the allergy covers it too"}
        return {"references": refs, "use_instead": f"{alternative.alternative} (cited alternative)"}


class HistoryContraindication(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        table = drug_table()
        for drug in _drugs(ctx):
            for rule in table.get(drug).contraindicated_after:
                for event in ctx.patient.history:
                    if event.condition != rule.condition:
                        continue
                    covered = rule.after is None or (event.drug is not None and _overlap(event.drug, rule.after))
                    unclear = rule.after is not None and event.drug is None
                    if not covered and not unclear:
                        continue
                    severity = rule.severity if covered else "hold"
                    after = f" with {rule.after}" if rule.after else ""
                    given = (
                        f" ({event.drug}{', ' + event.date.isoformat() if event.date else ''})" if event.drug else ""
                    )
                    message = (
                        f"{drug}: history of {event.condition}{given}; contraindicated after {rule.condition}{after}"
                    )
                    if unclear:
                        message += " (the history does not say which drug: a pharmacist must confirm)"
                    if rule.note:
                        message += f" — {rule.note}"
                    yield self.finding(severity, message, drug=drug, references=tuple(table.cite(rule.source)))


ALG001: Rule = DocumentedAllergy(
    code="ALG001",
    name="allergy",
    severity="block",
    what="Blocks a drug the patient has a documented allergy to, directly, by brand or by class (an allergy to "
    "'asparaginase' covers pegaspargase, calaspargase and Erwinia asparaginase; 'platinum' covers cisplatin, "
    "carboplatin, oxaliplatin), and names the cited alternative where one exists.",
    why="Re-exposure after a hypersensitivity reaction to a chemotherapy drug or its class can cause anaphylaxis.",
    example="R-ICE for a patient whose allergy list says rituximab; pegaspargase after an asparaginase anaphylaxis.",
    use_instead="The cited alternative (e.g. Erwinia asparaginase after pegaspargase hypersensitivity) or a "
    "regimen without the drug; a desensitisation protocol is a decision outside this tool.",
    references=(ASCO_ONS_2016,),
)

HIS001: Rule = HistoryContraindication(
    code="HIS001",
    name="history-contraindication",
    severity="block / hold",
    what="Blocks a drug whose label contraindicates it after an event in the patient's history (pancreatitis, "
    "thrombosis or hemorrhage with prior asparaginase therapy ...); holds when the label's wording needs a "
    "judgement (recent, severe) or the history does not say which drug the event followed.",
    why="Re-challenge after asparaginase pancreatitis carries a high risk of recurrent, sometimes fatal "
    "pancreatitis; the labels contraindicate it.",
    example="Pegaspargase for a patient with history {condition: pancreatitis, drug: pegaspargase}.",
    use_instead="A regimen without the drug, or the protocol's documented alternative.",
    references=(ASCO_ONS_2016,),
)
