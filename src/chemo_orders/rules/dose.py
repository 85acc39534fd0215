"""DOS001-DOS003: caps that changed a dose, lifetime anthracycline exposure, and a prescriber's changes."""

from __future__ import annotations

import operator
from collections.abc import Iterator

from ..dosing import Order
from ..drugs import AnthracyclineLimit, drug_table
from ..units import Q, compare, convert, divided, format_number, format_quantity, plus, times
from .base import Context, Finding, Rule
from .sources import ASCO_ONS_2016, CALVERT_1989, FDA_CARBOPLATIN_2010, MGB_CHEMO_ORDER_ENTRY

# Design §6 (DOS002): warn when 80 % of the lifetime limit is reached. No source in the drug
# table states a warning fraction (drugs.yaml anthracycline_limits note); the project's own.
WARN_FRACTION = 0.8


def anthracycline_limit(child: bool) -> AnthracyclineLimit | None:
    """The lifetime limit in doxorubicin equivalents DOS002 checks (paediatric or adult), with its sources."""
    limits = drug_table().anthracycline_limits
    return limits.child if child else limits.adult


def doxorubicin_equivalent(drug: str, per_m2: Q) -> Q | None:
    """``per_m2`` of ``drug`` in doxorubicin equivalents by the drug table's cited factor (None:
    not an anthracycline). DOS002 and the treatment-plan chart both count with this one function."""
    equivalent = drug_table().get(drug).doxorubicin_equivalent
    return None if equivalent is None else times(per_m2, equivalent.factor)


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
    """Lifetime anthracycline exposure in doxorubicin equivalents, and each drug's own label limit."""

    def check(self, ctx: Context) -> Iterator[Finding]:
        table = drug_table()
        body = ctx.calculation.body
        child = not body.adult
        orders = [o for o in ctx.calculation.orders if table.get(o.drug).doxorubicin_equivalent is not None]
        if not orders:
            return
        yield from self._equivalents(ctx, orders, child)
        yield from self._per_drug(ctx, orders, child)

    def _equivalents(self, ctx: Context, orders: list[Order], child: bool) -> Iterator[Finding]:
        table = drug_table()
        limits = anthracycline_limit(child)
        if limits is None:
            return
        unit, parts, refs = limits.limit.units, [], list(table.cite(limits.source))
        total = times(limits.limit, 0)
        exposures = [(drug, dose, "prior") for drug, dose in ctx.patient.prior_cumulative.items()]
        exposures += [(o.drug, divided(o.course_total, ctx.calculation.body.bsa), "this cycle") for o in orders]
        for drug, per_m2, when in exposures:
            equivalent = table.get(drug).doxorubicin_equivalent
            in_doxorubicin = doxorubicin_equivalent(drug, per_m2)
            if equivalent is None or in_doxorubicin is None:
                continue
            total = plus(total, convert(in_doxorubicin, unit))
            factor = "" if equivalent.factor == 1 else f" × {format_number(equivalent.factor)}"
            parts.append(f"{drug} {format_quantity(convert(per_m2, unit))}{factor} ({when})")
            refs += [c for c in table.cite(equivalent.source) if c not in refs]
        text = (
            f"anthracyclines in doxorubicin equivalents: {' + '.join(parts)} = {format_quantity(total)}; "
            f"{'paediatric' if child else 'adult'} lifetime limit {format_quantity(limits.limit)}"
        )
        if compare(total, limits.limit, operator.gt):
            yield self.finding("block", text + " exceeded", references=tuple(refs))
        elif compare(total, times(limits.limit, WARN_FRACTION), operator.ge):
            yield self.finding("warn", text + f" (≥ {WARN_FRACTION:.0%})", references=tuple(refs))

    def _per_drug(self, ctx: Context, orders: list[Order], child: bool) -> Iterator[Finding]:
        """A label's own limit for one drug (daunorubicin in children: 300 mg/m²) still applies."""
        table = drug_table()
        for order in orders:
            limits = table.get(order.drug).cumulative_limit
            limit = None if limits is None else limits.child if child and limits.child is not None else limits.adult
            if limits is None or limit is None:
                continue
            prior = ctx.patient.prior_cumulative.get(order.drug, times(limit, 0))
            planned = convert(divided(order.course_total, ctx.calculation.body.bsa), limit.units)
            total = convert(plus(prior, planned), limit.units)
            text = (
                f"{order.drug} cumulative {format_quantity(total)} after this cycle "
                f"(prior {format_quantity(convert(prior, limit.units))} + {format_quantity(planned)}); "
                f"{order.drug} limit {format_quantity(limit)}"
            )
            refs = tuple(table.cite(limits.source))
            if compare(total, limit, operator.gt):
                yield self.finding("block", text + " exceeded", drug=order.drug, references=refs)
            elif compare(total, times(limit, WARN_FRACTION), operator.ge):
                yield self.finding("warn", text + f" (≥ {WARN_FRACTION:.0%})", drug=order.drug, references=refs)


class DoseChanged(Rule):
    """Every prescriber's change, with its reason; one that raises the dose is held."""

    def check(self, ctx: Context) -> Iterator[Finding]:
        for order in ctx.calculation.orders:
            change = order.change
            if change is None:
                continue
            text = (
                f"{order.drug} changed {change.requested} to {format_quantity(order.final)} "
                f"({format_number(change.percent, 1)}% of {format_quantity(change.before)}; "
                f"standard {format_quantity(change.standard)}): {change.reason}"
            )
            if order.final > change.standard:
                yield self.finding("hold", text + "; above the standard dose", drug=order.drug)
            elif order.final > change.before:
                band = order.modification.rule if order.modification is not None else "band"
                yield self.finding("hold", text + f"; above the {band}-modified dose", drug=order.drug)
            else:
                yield self.finding("info", text, drug=order.drug)


class DoseNotInLibrary(Rule):
    def check(self, ctx: Context) -> Iterator[Finding]:
        for gap in ctx.calculation.missing:
            if gap.rule != self.code or gap.line is None:
                continue
            line = gap.line
            route = line.route
            sources = tuple(ctx.regimen.references[k].citation for k in line.source if k in ctx.regimen.references)
            yield self.finding(
                "hold",
                f"{gap.drug} ({route}, day {', '.join(str(d) for d in line.days)}): {gap.needs}; the rest of the order "
                f"is calculated — a pharmacist supplies this dose with --change {gap.drug}@{route}=AMOUNT "
                "--change-reason SOURCE, or acknowledges DOS004 to order without it",
                drug=gap.drug,
                references=sources or self.references,
            )


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
    what="Adds this cycle's anthracyclines to the patient's prior lifetime exposure (prior_cumulative per m², and "
    "released orders in the record), converted to doxorubicin equivalents with cited factors (daunorubicin 0.6, "
    "epirubicin 0.8, mitoxantrone 10.5, idarubicin 5), and blocks above the adult or paediatric lifetime limit, "
    "warns at ≥ 80 %; a drug's own label limit (daunorubicin in children) is checked too.",
    why="Anthracycline cardiomyopathy rises steeply with cumulative dose and is irreversible.",
    example="Doxorubicin 50 mg/m² after daunorubicin 300 mg/m² (× 0.6 = 180) and idarubicin 100 mg/m² (× 5 = 500): "
    "730 mg/m² doxorubicin equivalents against 550.",
    use_instead="A non-anthracycline regimen or cardio-oncology review.",
    references=tuple(drug_table().sources[k] for k in ("feijen-2019", "esc-2022", "doxorubicin-us-label")),
)

DOS003 = DoseChanged(
    code="DOS003",
    name="dose-changed",
    severity="info / hold",
    what="Reports every dose a prescriber or pharmacist changed (--change DRUG=-20% or DRUG=600mg, each with "
    "--change-reason): the change, the dose before it, the standard dose and the reason. A change that raises the "
    "dose above the dose before it (above the standard dose, or above a renal/hepatic/cardiac band's modified "
    "dose) is a hold. A change above the line's cap is refused outright (exit 2).",
    why="Order-entry practice lets a dose be lowered with a reason but treats a dose above the standard as an "
    "exception someone must stand behind; raising a band-reduced dose back would undo the band without "
    "acknowledging it.",
    example="Cyclophosphamide 1000 mg changed +10% to 1100 mg 'tolerated cycle 1 well': held; changed -20% to "
    "800 mg 'grade 4 neutropenia in cycle 1': info, printed with the reason.",
    use_instead="Lower the dose, or acknowledge the hold with --acknowledge DOS003 --reason TEXT after review "
    "(to restore a band-reduced dose, acknowledge the band's rule instead).",
    references=(MGB_CHEMO_ORDER_ENTRY,),
)

DOS004 = DoseNotInLibrary(
    code="DOS004",
    name="dose-not-in-library",
    severity="hold",
    what="Holds the order when a line of the regimen has no dose for this patient in the library (an age band the "
    "source does not cover, e.g. intrathecal cytarabine under a protocol's youngest band); the other lines are "
    "calculated. A pharmacist supplies the dose from a source (--change DRUG@ROUTE=AMOUNT --change-reason SOURCE), "
    "printed with its reason, or acknowledges DOS004 to order the cycle without that line.",
    why="Guessing a dose the sources do not give (extrapolating an age band) can overdose a child; refusing the "
    "whole regimen for one missing line stops the treatment a patient needs. A hold asks the person who can look "
    "it up.",
    example="The 4-drug paediatric induction for a 5-year-old whose intrathecal cytarabine band is not in the file.",
    use_instead="--change cytarabine@intrathecal=50mg --change-reason 'protocol X, table 3 (age 3-8)'.",
    references=(ASCO_ONS_2016,),
)
