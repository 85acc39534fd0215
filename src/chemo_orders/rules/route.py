"""ROU001 and ROU002: wrong-route catastrophes (vinca alkaloids, intrathecal drugs)."""

from __future__ import annotations

from collections.abc import Iterator

from ..drugs import drug_table
from ..regimen import DoseLine
from .base import Context, Finding, Rule
from .sources import ASCO_ONS_2016, FDA_VINCA_2021, ISMP_VINCA

VINCA_LABEL = "FOR INTRAVENOUS USE ONLY—FATAL IF GIVEN BY OTHER ROUTES"
INTRATHECAL_LABEL = "For intrathecal use only"


def vinca_problem(line: DoseLine) -> str | None:
    """Why a vinca alkaloid line is unsafe, or None (shared by the rule and the linter)."""
    if drug_table().get(line.drug).drug_class == "vinca" and line.route != "IV":
        return f"{line.drug} by route {line.route}: vinca alkaloids are IV only (minibag); fatal intrathecally"
    return None


def intrathecal_problem(line: DoseLine) -> str | None:
    """Why an intrathecal line is unsafe, or None (shared by the rule and the linter).

    Vinca alkaloids are left to :func:`vinca_problem`, which says more (fatal, IV only)."""
    if line.route == "intrathecal" and not drug_table().get(line.drug).intrathecal and vinca_problem(line) is None:
        return f"{line.drug} is not a drug given intrathecally"
    return None


class VincaIvOnly(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        for line in ctx.regimen.lines_for_cycle(ctx.options.cycle):
            problem = vinca_problem(line)
            if problem:
                yield self.finding("block", problem, drug=line.drug)


class IntrathecalSeparate(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        for line in ctx.regimen.lines_for_cycle(ctx.options.cycle):
            problem = intrathecal_problem(line)
            if problem:
                yield self.finding("block", problem, drug=line.drug)


ROU001 = VincaIvOnly(
    code="ROU001",
    name="vinca-iv-minibag-only",
    severity="block (lint + render)",
    what="Vinca alkaloids (vinCRIStine, vinBLAStine, vinorelbine) only by IV minibag; any other route is refused, "
    f"and the order set labels them '{VINCA_LABEL}'.",
    why="Intrathecal vincristine causes ascending paralysis and is almost always fatal; more than 135 deaths are "
    "known, all from syringes. Minibag dispensing makes the mix-up physically hard.",
    example="vincristine 2 mg, route intrathecal.",
    use_instead="vincristine IV in a minibag (e.g. 50 mL sodium chloride 0.9% for adults), prepared and stored apart from intrathecal drugs.",
    references=(ISMP_VINCA, FDA_VINCA_2021, ASCO_ONS_2016),
)

ROU002 = IntrathecalSeparate(
    code="ROU002",
    name="intrathecal-separate",
    severity="block (render)",
    what="Intrathecal orders print in their own section labelled 'For intrathecal use only'; a drug not given "
    "intrathecally (only preservative-free methotrexate, cytarabine, hydrocortisone) is refused by that route.",
    why="Wrong-route intrathecal errors are catastrophic; separating IT orders in time, place and paperwork is the "
    "recommended barrier.",
    example="doxorubicin, route intrathecal.",
    use_instead="Intrathecal methotrexate, cytarabine or hydrocortisone (preservative-free) in a separate IT order group.",
    references=(ASCO_ONS_2016, ISMP_VINCA),
)
