"""The verification as a pharmacist reads it: a table in a terminal, or the batch CSV report.

The CSV is opened in spreadsheets, which evaluate a cell that begins with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return as a formula (CSV injection: ``=HYPERLINK(…)`` in a
drug name or a file name). Every text cell that begins so is prefixed with a single quote,
as OWASP recommends; numbers we wrote ourselves (a deviation of -3.2 %) stay numbers.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from . import DISCLAIMER
from .drugs import drug_table
from .report import blocked_lines, days_text
from .tables import Row, print_indented, print_table
from .units import format_number, format_quantity
from .verify import Verification

if TYPE_CHECKING:
    from rich.console import Console

STYLE = {"ok": "green", "missing from prescription": "yellow"}
VERIFY_COLUMNS = ("Drug", "Day", "Prescribed", "Expected", "Deviation", "Verdict")
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


def print_verification(result: Verification, console: Console | None = None) -> None:
    """The verification as a table (:mod:`chemo_orders.tables`: readable at 80 columns, plain
    when piped), the verdict's count, the warnings and the disclaimer."""
    from rich.console import Console
    from rich.markup import escape

    console = console or Console(highlight=False)
    piped = not console.is_terminal  # piped: a line is a whole record, never cut at 80
    order_set = result.order_set
    patient, regimen = order_set.patient, order_set.regimen
    console.print(
        f"[bold]{escape(patient.name)}[/] ({escape(patient.id)}) · {regimen.name} v{regimen.version} cycle "
        f"{order_set.options.cycle}",
        soft_wrap=piped,
    )
    console.print(
        f"BSA {format_quantity(order_set.calculation.body.bsa)} · tolerance {result.tolerance_percent:g}% "
        f"({escape(result.tolerance.applied)})",
        soft_wrap=piped,
    )
    if result.blocked:
        for text in blocked_lines(order_set):
            console.print(text, markup=False, soft_wrap=piped)
    else:
        names = drug_table()
        rows = [
            Row(
                (
                    names.display_name(line.drug),
                    days_text(tuple(line.days or (line.day,))),
                    format_quantity(line.prescribed) if line.prescribed is not None else "—",
                    format_quantity(line.expected) if line.expected is not None else "—",
                    f"{line.deviation_percent:+.1f}%" if line.deviation_percent is not None else "—",
                    line.verdict,
                ),
                line.detail or line.calculation,  # a policy name is text a person wrote: never markup
                STYLE.get(line.verdict, "bold red"),
            )
            for line in result.lines
        ]
        print_table(console, VERIFY_COLUMNS, rows, right=frozenset({4}))
        counts = ", ".join(f"{v} {format_number(n)}" for v, n in result.counts().items())
        verdict = (
            "[green]All lines within tolerance.[/]"
            if result.passed
            else "[bold red]Refused: a prescribed route is never allowed for that drug.[/]"
            if result.refused
            else "[bold red]Discrepancies found.[/]"
        )
        console.print(verdict)
        print_indented(console, counts)
    for finding in order_set.findings:
        if finding.severity == "warn":
            console.print(f"[yellow]WARN {finding.rule}[/] {escape(finding.message)}", soft_wrap=piped)
    console.print(DISCLAIMER, soft_wrap=piped)
