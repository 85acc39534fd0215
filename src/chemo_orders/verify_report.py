"""The verification as a pharmacist reads it in a terminal (rich table)."""

from __future__ import annotations

from . import DISCLAIMER
from .report import blocked_lines
from .units import format_number, format_quantity
from .verify import Verification

STYLE = {"ok": "green", "missing from prescription": "yellow"}


def print_verification(result: Verification) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    order_set = result.order_set
    patient, regimen = order_set.patient, order_set.regimen
    console.print(
        f"[bold]{patient.name}[/] ({patient.id}) · {regimen.name} v{regimen.version} cycle "
        f"{order_set.options.cycle} · BSA {format_quantity(order_set.calculation.body.bsa)} · "
        f"tolerance {result.tolerance_percent:g}%"
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
                line.detail or line.calculation,
            )
        console.print(table)
        counts = ", ".join(f"{v} {format_number(n)}" for v, n in result.counts().items())
        console.print(
            ("[green]All lines within tolerance.[/]" if result.passed else "[bold red]Discrepancies found.[/]")
            + f" ({counts})"
        )
    for finding in order_set.findings:
        if finding.severity == "warn":
            console.print(f"[yellow]WARN {finding.rule}[/] {finding.message}")
    console.print(DISCLAIMER)
