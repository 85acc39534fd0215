"""A batch CSV read as a person saves it, and checked row by row before any work starts.

Measured on the earlier reader: a CSV saved by Excel (UTF-8 with a byte-order mark) was
refused; cycle ``abc``, ``-1``, ``0`` and ``1.5`` all became cycle 1; short rows, non-UTF-8
text and NUL bytes ended in exit 1; a misspelt column (``cylce``) was ignored, so every row
silently got the default cycle. Here:

- a problem with the file itself (not a regular file, too large, not UTF-8, a NUL byte, a
  missing, unknown or repeated column) is exit 2 naming the file and the row;
- a problem with one row (too few or too many cells, an empty cell, a bad cycle) is a
  :class:`RowError` with the row number a spreadsheet shows; the caller reports it and goes
  on with the other rows.

A byte-order mark, CRLF line ends, blank rows (``,,`` as spreadsheets export them) and
spaces around cells and column names are accepted.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

MAX_CSV_BYTES = 10_000_000  # ~100,000 rows: far beyond a day's chair schedule or an audit
_BOM = b"\xef\xbb\xbf"
_CYCLE = re.compile(r"[0-9]{1,9}")  # ASCII digits only: str.isdigit() also accepts '²' and '٣'


@dataclass(frozen=True)
class Row:
    """One data row: ``where`` says it as the user finds it ("jobs.csv row 4")."""

    where: str
    cells: dict[str, str]


@dataclass(frozen=True)
class RowError:
    """A row (or one input of a batch) that cannot be worked on, and why."""

    where: str
    message: str


def read_rows(source: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[Row | RowError]:
    """The CSV's rows with the named columns, in file order; a malformed row is a RowError."""
    text = _decode(source, _read_bounded(source))
    rows: list[Row | RowError] = []
    header: list[str] | None = None
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for cells in reader:
            number, start = start, reader.line_num + 1
            values = [cell.strip() for cell in cells]
            if not any(values):
                continue  # a blank row
            if header is None:
                header = _header(source, number, values, required, optional)
                continue
            where = f"{source.name} row {number}"
            if len(values) != len(header):
                problem = f"expected {len(header)} cells ({','.join(header)}), got {len(values)}"
                rows.append(RowError(where, problem))
                continue
            row = dict(zip(header, values, strict=True))
            empty = [name for name in required if not row[name]]
            if empty:
                rows.append(RowError(where, f"{', '.join(empty)}: empty"))
                continue
            rows.append(Row(where, row))
    except csv.Error as error:
        raise InputError("--batch", str(source), f"row {start}: malformed CSV ({error})") from None
    if header is None:
        raise InputError("--batch", str(source), f"empty CSV: expected the columns {','.join(required)}")
    return rows


def parse_cycle(text: str) -> int:
    """A cycle number as a person typed it in a cell: a whole number from 1."""
    if not _CYCLE.fullmatch(text) or int(text) < 1:
        raise InputError("cycle", text, "expected a whole number from 1")
    return int(text)


def _read_bounded(source: Path) -> bytes:
    try:
        info = os.stat(source)
        if not stat.S_ISREG(info.st_mode):
            raise InputError("--batch", str(source), "not a regular file")
        if info.st_size > MAX_CSV_BYTES:
            raise InputError("--batch", str(source), f"too large ({info.st_size} bytes; at most {MAX_CSV_BYTES})")
        with open(source, "rb") as stream:
            data = stream.read(MAX_CSV_BYTES + 1)
    except OSError as error:
        problem = "file not found" if isinstance(error, FileNotFoundError) else error.__class__.__name__
        raise InputError("--batch", str(source), f"cannot read ({problem})") from None
    if len(data) > MAX_CSV_BYTES:
        raise InputError("--batch", str(source), f"too large (more than {MAX_CSV_BYTES} bytes)")
    return data


def _decode(source: Path, data: bytes) -> str:
    """UTF-8 text (a byte-order mark dropped); a NUL or a non-UTF-8 byte names its row."""
    data = data.removeprefix(_BOM)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError("--batch", str(source), f"row {_row_at(data, nul)}: contains a NUL byte, not CSV text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        row = _row_at(data, error.start)
        raise InputError("--batch", str(source), f"row {row}: not UTF-8 text (save the CSV as UTF-8)") from None


def _row_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _header(
    source: Path, number: int, names: list[str], required: tuple[str, ...], optional: tuple[str, ...]
) -> list[str]:
    header = [name.lower() for name in names]
    expected = ",".join(required + tuple(f"[{name}]" for name in optional))
    where = f"row {number}"
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InputError("--batch", str(source), f"{where}: column {', '.join(repeated)} given twice")
    unknown = [name for name in header if name not in required + optional]
    if unknown:
        raise InputError("--batch", str(source), f"{where}: unknown column {', '.join(unknown)}; expected {expected}")
    missing = [name for name in required if name not in header]
    if missing:
        raise InputError("--batch", str(source), f"{where}: missing column {', '.join(missing)}; expected {expected}")
    return header
