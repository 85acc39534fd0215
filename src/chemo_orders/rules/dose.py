"""DOS001 and DOS002: caps that changed a dose, and lifetime anthracycline exposure."""

from __future__ import annotations

from collections.abc import Iterator

from ..drugs import drug_table
from ..units import format_quantity
from .base import Context, Finding, Rule
from .sources import CALVERT_1989, FDA_CARBOPLATIN_2010

WARN_FRACTION = 0.8


class DoseCapApplied(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        for order in ctx.calculation.orders:
            if not order.capped:
                continue
            if order.basis == "auc":
                message = f"{order.drug}: GFR capped at 125 mL/min (FDA 2010), so the dose is at most AUC × 150 mg"
                if order.cap is not None and order.calculated > order.cap:
                    message += f"; regimen cap {format_quantity(order.cap)} applied"
            else:
                message = (
                    f"{order.drug} {format_quantity(order.calculated)} exceeds the "
                    f"{format_quantity(order.cap) if order.cap is not None else ''} cap; "
                    f"{format_quantity(order.final)} ordered"
                )
            sources = tuple(ctx.regimen.references[k].citation for k in order.line.source)
            yield self.finding(
                "info",
                message,
                drug=order.drug,
                references=sources + ((FDA_CARBOPLATIN_2010,) if order.basis == "auc" else ()),
            )


class CumulativeAnthracycline(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        table = drug_table()
        child = not ctx.calculation.body.adult
        for order in ctx.calculation.orders:
            limits = table.get(order.drug).cumulative_limit
            if limits is None:
                continue
            limit = limits.child if child and limits.child is not None else limits.adult
            if limit is None:
                continue
            prior = ctx.patient.prior_cumulative.get(order.drug, 0 * limit)
            planned = (order.course_total / ctx.calculation.body.bsa).to(limit.units)
            total = (prior + planned).to(limit.units)
            refs = tuple(table.cite(limits.source))
            text = (
                f"{order.drug} cumulative {format_quantity(total)} after this cycle "
                f"(prior {format_quantity(prior.to(limit.units))} + {format_quantity(planned)}); limit {format_quantity(limit)}"
            )
            if total > limit:
                yield self.finding("block", text + " exceeded", drug=order.drug, references=refs)
            elif total >= WARN_FRACTION * limit:
                yield self.finding("warn", text + f" (≥ {WARN_FRACTION:.0%})", drug=order.drug, references=refs)


DOS001 = DoseCapApplied(
    code="DOS001",
    name="dose-cap-applied",
    severity="info",
    what="Reports every dose a cap changed: a regimen or label cap (vincristine 2 mg) or the carboplatin GFR cap "
    "(125 mL/min, so at most AUC × 150 mg).",
    why="A capped dose is deliberately lower than the per-m² arithmetic; the verifying pharmacist must see that the "
    "difference is the cap and not an error.",
    example="Vincristine 1.4 mg/m² × 2.1 m² = 2.94 mg, capped at 2 mg.",
    use_instead="Nothing to change: the finding documents the cap.",
    references=(FDA_CARBOPLATIN_2010, CALVERT_1989),
)

DOS002 = CumulativeAnthracycline(
    code="DOS002",
    name="cumulative-anthracycline",
    severity="block / warn",
    what="Adds this cycle's anthracycline to the patient's prior lifetime exposure (prior_cumulative, per m²) and "
    "blocks above the drug's limit, warns at ≥ 80%.",
    why="Anthracycline cardiomyopathy rises steeply with cumulative dose and is irreversible.",
    example="Doxorubicin prior 500 mg/m² plus 50 mg/m² this cycle against a 550 mg/m² limit.",
    use_instead="A non-anthracycline regimen or cardio-oncology review; limits are compared per drug (no "
    "doxorubicin-equivalence conversion is applied, as its factors are not confirmed here).",
    references=tuple(drug_table().sources[k] for k in ("doxorubicin-limit", "daunorubicin-label")),
)
