"""Plain-text views for the terminal: the calc table, the regimen list, one regimen."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import DISCLAIMER
from .body import BSA_FORMULAS
from .criteria import criterion_text
from .diagnosis import DIAGNOSIS_NAMES
from .dosing import Order
from .drugs import drug_table
from .orderset import OrderSet
from .regimen import ROUTE_DISPLAY, Criterion, DefaultCriteria, DoseLine, Exemption, Regimen
from .rules.indication import describe
from .tables import PIPED_WIDTH, Row, layout
from .units import Q, format_number, format_quantity


def consecutive_runs(days: Iterable[int]) -> list[list[int]]:
    """``(1, 2, 3, 11)`` -> ``[[1, 2, 3], [11]]``: treatment days as a reader groups them."""
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def days_text(days: tuple[int, ...]) -> str:
    """``(1, 2, 3, 11)`` -> ``"1-3, 11"``."""
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in consecutive_runs(days))


def calc_text(order_set: OrderSet) -> str:
    body = order_set.calculation.body
    patient, regimen = order_set.patient, order_set.regimen
    crcl = f"{format_quantity(body.crcl)} ({body.crcl_note})" if body.crcl is not None else f"n/a ({body.crcl_note})"
    lines = [
        f"{patient.name} ({patient.id}), {body.age_years} y {patient.sex}, {DIAGNOSIS_NAMES[patient.diagnosis]}"
        + (f", {patient.disease_status}" if patient.disease_status else ""),
        f"Height {format_quantity(patient.height)}, weight {format_quantity(patient.weight)}, "
        f"BSA {format_quantity(body.bsa)} ({BSA_FORMULAS[body.bsa_formula].name}), CrCl {crcl}",
        f"Regimen {regimen.name} v{regimen.version} ({regimen.id}), cycle {order_set.options.cycle}, "
        f"date {order_set.options.on.isoformat()}",
        "",
    ]
    if order_set.stopped:
        lines.extend(blocked_lines(order_set))
    else:
        table = drug_table()
        for order in order_set.orders:
            line = order.line
            lines.append(
                f"{table.display_name(order.drug):18} {format_quantity(order.final):>14}  "
                f"{ROUTE_DISPLAY[line.route]:11} days {days_text(line.days)}"
            )
            lines.append(f"    {order.calculation}")
            if order.modification is not None:
                change = order.modification
                lines.append(
                    f"    {change.rule}: {format_number(change.percent)}% of {format_quantity(change.full)} "
                    f"({change.band}); source: {change.source}"
                )
            if order.change is not None:
                lines.append(f"    {change_text(order)}")
            for note in order.notes:
                lines.append(f"    {note}")
    others = [f for f in order_set.findings if f not in order_set.blocking]
    if others:
        lines.append("")
        lines.extend(f"{f.severity.upper()} {f.rule} {f.name}: {f.message}" for f in others)
    for ack in order_set.acknowledgements:
        lines.append(f"ACKNOWLEDGED {ack.code}: {ack.reason}")
    for order in order_set.omitted:
        lines.append(f"OMITTED {drug_table().display_name(order.drug)}: removed by a dose-modification band")
    lines += ["", DISCLAIMER]
    return "\n".join(lines)


def change_text(order: Order) -> str:
    """A prescriber's change as every output prints it: what was asked, from what, and why."""
    change = order.change
    if change is None:
        return ""
    difference = order.final - change.before.to(order.final.units)
    sign = "+" if difference.magnitude >= 0 else "−"
    return (
        f"DOS003 prescriber's change {change.requested}: {format_quantity(change.before)} → "
        f"{format_quantity(order.final)} ({sign}{format_quantity(abs(difference))}, "
        f"{sign}{format_number(abs(change.percent - 100), 1)}%; standard "
        f"{format_quantity(change.standard)}). Reason: {change.reason}"
    )


def blocked_lines(order_set: OrderSet, references: bool = True) -> list[str]:
    """Why an order set is blocked or held, what to use instead, and the sources (terminal text)."""
    if order_set.blocked:
        lines = ["BLOCKED: this regimen must not be ordered for this patient."]
    else:
        lines = ["HELD: a pharmacist must review and acknowledge (--acknowledge CODE --reason TEXT) before ordering."]
    for finding in order_set.blocking:
        lines.append(f"  {finding.rule} {finding.name}: {finding.message}")
        if finding.use_instead:
            lines.append(f"    Use instead: {finding.use_instead}")
        if references:
            lines.extend(f"    Ref: {ref}" for ref in finding.references)
    return lines


def regimen_summary(regimen: Regimen) -> dict[str, Any]:
    return {
        "id": regimen.id,
        "name": regimen.name,
        "title": regimen.title,
        "category": regimen.category,
        "version": regimen.version,
        "status": regimen.status,
        "indications": [
            {"disease": i.disease, "status": list(i.status), "line": i.line, "note": i.note}
            for i in regimen.indications
        ],
    }


def regimens_text(regimens: list[Regimen], width: int = PIPED_WIDTH) -> str:
    """One line per regimen (id, category, version), its indications beside it when they fit
    within ``width``, else on the next line, indented (:func:`chemo_orders.tables.layout`)."""
    rows = [Row((r.id, r.category, f"v{r.version}"), "; ".join(describe(i) for i in r.indications)) for r in regimens]
    return "\n".join(layout(("Regimen", "Category", "Version"), rows, width))


def schedule_text(line: DoseLine, dose: Q | None, cap: Q | None, missing: str = "see alternatives") -> str:
    """One drug line in words — drug, dose, cap, route and days, repeats, duration, cycles, who
    for — one wording for ``show`` and for the FHIR export's text equivalents."""
    parts = [drug_table().display_name(line.drug), format_quantity(dose) if dose is not None else missing]
    if cap is not None:
        parts.append(f"(max {format_quantity(cap)})")
    parts.append(f"{ROUTE_DISPLAY[line.route]} on day{'s' if len(line.days) > 1 else ''} {days_text(line.days)}")
    if line.every is not None:
        parts.append(f"every {format_quantity(line.every)} × {line.doses} doses")
    if line.duration is not None:
        parts.append(f"over {format_quantity(line.duration)}")
    if line.cycles is not None:
        parts.append(f"in cycle{'s' if len(line.cycles) > 1 else ''} {days_text(line.cycles)}")
    if line.only_when is not None:
        parts.append(f"(only when {line.only_when.describe()})")
    return " ".join(parts)


def dose_line_text(line: DoseLine) -> str:
    text = schedule_text(line, line.dose, line.cap) + f"   [{', '.join(line.source)}]"
    for alt in line.alternatives:
        text += (
            f"\n      if {alt.when.describe()}: {format_quantity(alt.dose)}"
            + (f" (max {format_quantity(alt.cap)})" if alt.cap is not None else "")
            + f"   [{', '.join(alt.source)}]"
        )
    if line.note:
        text += f"\n      {line.note}"
    return text


def regimen_text(regimen: Regimen) -> str:
    lines = [
        f"{regimen.name} — {regimen.title}",
        f"id {regimen.id}, version {regimen.version}, {regimen.status}, reviewed {regimen.reviewed or 'never'}",
        f"category {regimen.category}, intensity {regimen.intensity}, population {regimen.population}",
        f"cycle {format_quantity(regimen.cycle_length) if regimen.cycle_length is not None else regimen.cycle_note}"
        + (f" × {regimen.cycles}" if regimen.cycles else "")
        + (f", given in cycles {days_text(regimen.cycle_numbers)}" if regimen.cycle_numbers else ""),
        "Indications:",
        *[f"  - {describe(i)}" + (f": {i.note}" if i.note else "") for i in regimen.indications],
        "Drugs:",
        *[f"  - {dose_line_text(line)}" for line in regimen.drugs],
    ]
    if regimen.supportive:
        lines += ["Supportive care:", *[f"  - {s.text}   [{', '.join(s.source)}]" for s in regimen.supportive]]
    if regimen.criteria_to_treat:
        lines.append("Criteria to treat:")
        lines += [
            _criterion_line(c) + (f" (cycles {days_text(c.cycles)})" if c.cycles else "")
            for c in regimen.criteria_to_treat
        ]
    lines.append("References:")
    for key, ref in regimen.references.items():
        ids = " ".join(
            x for x in (f"PMID {ref.pmid}" if ref.pmid else "", f"doi:{ref.doi}" if ref.doi else "", ref.url or "") if x
        )
        lines.append(f"  [{key}] ({ref.level}) {ref.citation}. {ids}")
    return "\n".join(lines)


def _criterion_line(item: Criterion | Exemption | DefaultCriteria) -> str:
    if isinstance(item, Criterion):
        return f"  - {item.lab} {criterion_text(item)}   [{', '.join(item.source)}]"
    if isinstance(item, Exemption):
        return f"  - no laboratory criteria: {item.none}   [{', '.join(item.source)}]"
    return f"  - the institution's default criteria (no source states this regimen's): {item.default}"
