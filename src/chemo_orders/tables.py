"""Tables the command line prints, readable at 80 columns and when piped (issue 22 item 7).

Why not a boxed rich table: its columns share the width, so at 80 columns the detail column
(a calculation, a discrepancy's explanation) became a strip six letters wide wrapped over
twenty lines on every row, and piped into a file or ``grep`` the same boxes were cut at 80.
Here the short columns are aligned, each as wide as its widest cell, two spaces apart, and a
row's detail follows on the same line only when the line stays within the width; otherwise
it has a line of its own, indented under the row. On a terminal the width is the terminal's
(rich's console measures it) and a long detail wraps under its indent, with the verdict in
colour; piped, nothing is coloured or wrapped (a line is a whole record for ``grep``) and
the width that decides where a detail goes is 80.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


PIPED_WIDTH = 80
GAP = "  "
INDENT = "    "


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    detail: str = ""
    style: str = ""  # a rich style for the last cell (a verdict's colour) on a terminal


def _widths(headers: Sequence[str], rows: Sequence[Row]) -> list[int]:
    return [max([len(h)] + [len(r.cells[i]) for r in rows]) for i, h in enumerate(headers)]


def _line(cells: Sequence[str], widths: list[int], right: frozenset[int]) -> str:
    """The cells aligned; the last one unpadded (a long verdict then costs only its own row)."""
    parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
    return GAP.join([*parts[:-1], cells[-1]]).rstrip()


def layout(
    headers: Sequence[str], rows: Sequence[Row], width: int = PIPED_WIDTH, right: frozenset[int] = frozenset()
) -> list[str]:
    """The table as plain lines: a header, then each row with its detail on the same line when
    it fits within ``width``, else on the next line, indented. Never wraps: a piped line is whole."""
    widths = _widths(headers, rows)
    lines = [_line(headers, widths, right)]
    for row in rows:
        line = _line(row.cells, widths, right)
        together = f"{line}{GAP}{row.detail}" if row.detail else line
        if len(together) <= width:
            lines.append(together)
        else:
            lines += [line, INDENT + row.detail]
    return lines


def print_table(
    console: Console, headers: Sequence[str], rows: Sequence[Row], right: frozenset[int] = frozenset()
) -> None:
    """``layout`` on ``console``: at the terminal's width with colours and wrapped details on a
    terminal, plain and unwrapped at :data:`PIPED_WIDTH` otherwise."""
    from rich.text import Text

    if not console.is_terminal:
        for line in layout(headers, rows, PIPED_WIDTH, right):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        return
    widths = _widths(headers, rows)
    console.print(Text(_line(headers, widths, right), style="bold"), soft_wrap=True)
    for row in rows:
        line = _line(row.cells, widths, right)
        text = Text(line)
        if row.style:
            text.stylize(row.style, len(line) - len(row.cells[-1].rstrip()), len(line))
        if row.detail and len(line) + len(GAP) + len(row.detail) <= console.width:
            text.append(GAP + row.detail)
            console.print(text, soft_wrap=True)
        else:
            console.print(text, soft_wrap=True)
            if row.detail:
                print_indented(console, row.detail)


def print_indented(console: Console, text: str) -> None:
    """``text`` under the line before it: wrapped under its indent on a terminal, whole when piped."""
    from rich.padding import Padding
    from rich.text import Text

    if console.is_terminal:
        console.print(Padding(Text(text), (0, 0, 0, len(INDENT))))
    else:
        console.print(INDENT + text, markup=False, highlight=False, soft_wrap=True)


def output_width() -> int:
    """The terminal's width when standard output is one, else :data:`PIPED_WIDTH` (for tables
    printed as plain text, such as ``regimens``)."""
    import shutil
    import sys

    return shutil.get_terminal_size((PIPED_WIDTH, 24)).columns if sys.stdout.isatty() else PIPED_WIDTH
