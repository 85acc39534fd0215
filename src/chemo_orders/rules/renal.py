"""REN001: kidney function against drug-specific thresholds, and missing creatinine."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Literal

from ..loader import read_yaml
from ..models import Frozen, validate
from ..units import ML_PER_MIN, format_quantity, magnitude_in
from .base import Context, Finding, Rule
from .sources import CALVERT_1989, FDA_CARBOPLATIN_2010


class Band(Frozen):
    min: float | None = None
    max: float | None = None
    severity: Literal["warn", "block"]
    action: str

    def holds(self, crcl: float) -> bool:
        return (self.min is None or crcl >= self.min) and (self.max is None or crcl <= self.max)


class RenalRule(Frozen):
    drug: str
    regimens: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    source: str
    bands: tuple[Band, ...]


class RenalTable(Frozen):
    sources: dict[str, str]
    drugs: tuple[RenalRule, ...]


@cache
def renal_table() -> RenalTable:
    path = Path(__file__).resolve().parent.parent / "renal.yaml"
    return validate(RenalTable, read_yaml(path, "renal table"), str(path))


class RenalFunction(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        for gap in ctx.calculation.missing:
            if gap.rule == self.code:
                yield self.finding("block", f"{gap.drug}: {gap.needs}", drug=gap.drug)
        table = renal_table()
        body = ctx.calculation.body
        for order in ctx.calculation.orders:
            for rule in table.drugs:
                if rule.drug != order.drug or (rule.regimens and ctx.regimen.id not in rule.regimens):
                    continue
                if rule.routes and order.line.route not in rule.routes:
                    continue
                source = (table.sources[rule.source],)
                if body.crcl is None:
                    yield self.finding(
                        "warn",
                        f"{order.drug}: renal dose check not possible ({body.crcl_note})",
                        drug=order.drug,
                        references=source,
                    )
                    continue
                crcl = magnitude_in(body.crcl, ML_PER_MIN)
                for band in rule.bands:
                    if band.holds(crcl):
                        limits = _limits(band)
                        yield self.finding(
                            band.severity,
                            f"{order.drug}: CrCl {format_quantity(body.crcl)} is in the {limits} band: {band.action}",
                            drug=order.drug,
                            references=source,
                        )
                        break


def _limits(band: Band) -> str:
    if band.min is not None and band.max is not None:
        return f"{band.min:g}-{band.max:g} mL/min"
    if band.max is not None:
        return f"≤ {band.max:g} mL/min"
    return f"≥ {band.min:g} mL/min"


REN001 = RenalFunction(
    code="REN001",
    name="renal-function",
    severity="warn / block",
    what="Blocks a dose that needs kidney function the file lacks (carboplatin AUC dosing without creatinine, or "
    "under 18 without a measured GFR); warns or blocks by drug-specific CrCl bands from cited tables.",
    why="Renally cleared drugs accumulate when clearance falls: carboplatin exposure, ifosfamide neurotoxicity and "
    "methotrexate toxicity all rise at low CrCl.",
    example="Methotrexate IV with CrCl 15 mL/min; carboplatin AUC 5 with no serum creatinine.",
    use_instead="Record serum creatinine (or a measured GFR) and apply the band's dose modification.",
    references=(CALVERT_1989, FDA_CARBOPLATIN_2010),
)
