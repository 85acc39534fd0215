"""The verification as a pharmacist reads it: a table in a terminal, or the batch CSV report.

The CSV is opened in spreadsheets, which evaluate a cell that begins with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return as a formula (CSV injection: ``=HYPERLINK(…)`` in a
drug name or a file name). Every text cell that begins so is prefixed with a single quote,
as OWASP recommends; numbers we wrote ourselves (a deviation of -3.2 %) stay numbers.
"""

from __future__ import annotations

import csv
import io

from . import DISCLAIMER
from .report import blocked_lines
from .units import format_number, format_quantity
from .verify import Verification

STYLE = {"ok": "green", "missing from prescription": "yellow"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
REPORT_COLUMNS = (
    "row",
    "patient",
    "prescription",
    "status",
    "drug",
    "day",
    "route",
    "prescribed",
    "expected",
    "deviation_percent",
    "tolerance_percent",
    "tolerance_applied",
    "verdict",
    "detail",
)


def spreadsheet_safe(value: object) -> object:
    """A cell a spreadsheet shows as text, never evaluates (text that starts a formula is quoted)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_report(rows: list[dict[str, object]]) -> bytes:
    """The batch report: one row per verified line (or per pair that could not be verified)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue().encode("utf-8")


def print_verification(result: Verification) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    order_set = result.order_set
    patient, regimen = order_set.patient, order_set.regimen
    console.print(
        f"[bold]{patient.name}[/] ({patient.id}) · {regimen.name} v{regimen.version} cycle "
        f"{order_set.options.cycle} · BSA {format_quantity(order_set.calculation.body.bsa)} · "
        f"tolerance {result.tolerance_percent:g}% ({escape(result.tolerance.applied)})"
    )
    if result.blocked:
        for text in blocked_lines(order_set):
            console.print(text, markup=False)
    else:
        table = Table(show_lines=False)
        for column in ("Drug", "Day", "Prescribed", "Expected", "Deviation", "Verdict", "Detail"):
            table.add_column(column, overflow="fold", no_wrap=column in ("Drug", "Prescribed", "Expected"))
        for line in result.lines:
            table.add_row(
                line.drug,
                ", ".join(map(str, line.days or (line.day,))),
                format_quantity(line.prescribed) if line.prescribed is not None else "—",
                format_quantity(line.expected) if line.expected is not None else "—",
                f"{line.deviation_percent:+.1f}%" if line.deviation_percent is not None else "—",
                f"[{STYLE.get(line.verdict, 'bold red')}]{line.verdict}[/]",
                escape(line.detail or line.calculation),  # a policy name is text a person wrote
            )
        console.print(table)
        counts = ", ".join(f"{v} {format_number(n)}" for v, n in result.counts().items())
        verdict = (
            "[green]All lines within tolerance.[/]"
            if result.passed
            else "[bold red]Refused: a prescribed route is never allowed for that drug.[/]"
            if result.refused
            else "[bold red]Discrepancies found.[/]"
        )
        console.print(f"{verdict} ({counts})")
    for finding in order_set.findings:
        if finding.severity == "warn":
            console.print(f"[yellow]WARN {finding.rule}[/] {finding.message}")
    console.print(DISCLAIMER)
