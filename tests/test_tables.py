"""The CLI's tables at 80 columns and piped (issue 22 item 7): rows whole, details apart.

A row of ``verify`` (drug, day, prescribed, expected, deviation, verdict) must read on one
line at 80 columns, on a terminal and piped; its detail goes beside it only when it fits,
else on its own indented line, never wrapped over the row's height.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from chemo_orders.regimen import all_regimens
from chemo_orders.report import regimens_text
from chemo_orders.service import CheckRequest, verify
from chemo_orders.tables import INDENT, Row, layout
from chemo_orders.verify_report import print_verification

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PATIENT = SAMPLES / "patients" / "relapsed-dlbcl.yaml"
ERRORS = SAMPLES / "prescriptions" / "r-ice-relapsed-dlbcl-errors.yaml"
# Every verdict row of the sample with errors: drug, then the verdict at the end of the same line.
ROWS = [
    ("riTUXimab", "wrong unit or dimension"),
    ("etoposide", "outside tolerance"),
    ("CARBOplatin", "exceeds cap"),
    ("ifosfamide", "outside tolerance"),
    ("vinCRIStine", "not in regimen"),
    ("mesna", "missing from prescription"),
    ("filgrastim", "missing from prescription"),
]


def test_a_detail_goes_beside_its_row_only_when_the_line_fits() -> None:
    rows = [Row(("a", "1 mg"), "short"), Row(("bb", "20 mg"), "x" * 90)]
    assert layout(("Drug", "Dose"), rows, 80) == [
        "Drug  Dose",
        "a     1 mg  short",
        "bb    20 mg",
        INDENT + "x" * 90,  # whole: a piped line is never cut
    ]
    assert layout(("N", "Name"), [Row(("7", "x"))], right=frozenset({0}))[1] == "7  x"


def _assert_readable(lines: list[str]) -> None:
    for drug, verdict in ROWS:
        assert any(re.match(rf"{drug}\s.*\s{verdict}$", line) for line in lines), (drug, lines)
    rows = [line for line in lines if not line.startswith(INDENT)]
    assert all(len(line) <= 80 for line in rows), [line for line in rows if len(line) > 80]
    assert not any(ch in "".join(lines) for ch in "┃│┏━"), "no box drawing: nothing to cut at 80"


def test_verify_on_an_80_column_terminal() -> None:
    result = verify(CheckRequest(PATIENT, ERRORS))
    out = io.StringIO()
    print_verification(result, Console(file=out, width=80, force_terminal=True, color_system=None))
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    _assert_readable(lines)
    assert all(len(line) <= 80 for line in lines)  # details wrap under their indent at the terminal's width
    assert "    +898.4% against a tolerance of 5% (option --tolerance): looks like a" in lines
    assert lines[-1] == "Decision support: requires independent verification by a pharmacist."


def test_verify_piped_is_plain_and_whole() -> None:
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm-256color"}
    argv = [sys.executable, "-m", "chemo_orders.cli", "verify", str(PATIENT), "--prescribed", str(ERRORS)]
    done = subprocess.run([*argv, "--date", "2026-11-22"], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 4, done.stderr
    assert "\x1b[" not in done.stdout  # no colour codes in a file or a pipe
    lines = done.stdout.splitlines()
    _assert_readable(lines)
    detail = "    +99,954.6% against a tolerance of 5% (option --tolerance): looks like a unit slip (mg/g or mcg/mg)"
    assert detail in lines  # one line, not cut at 80: grep finds it
    assert lines[-1] == "Decision support: requires independent verification by a pharmacist."


def test_regimens_at_80_columns() -> None:
    lines = regimens_text(list(all_regimens()), 80).splitlines()
    assert lines[0].split() == ["Regimen", "Category", "Version"]
    assert all(len(line) <= 80 for line in lines if not line.startswith(INDENT))
    assert any(line.startswith("r-ice ") for line in lines)


def test_audit_events_keep_their_json_detail_whole() -> None:
    from types import SimpleNamespace

    from chemo_orders.cli.record import audit_text

    detail = '{"regimen": "r-ice", "cycle": 1}' * 4
    at = "2026-12-05 04:00"
    event = SimpleNamespace(seq=12, at=at, actor="pam", action="prepared", order_id=3, detail_json=detail)
    lines = audit_text([event]).splitlines()
    assert lines[0].split() == ["Seq", "At", "Actor", "Action", "Order"]
    assert lines[1].split() == ["12", "2026-12-05", "04:00", "pam", "prepared", "3"]
    assert lines[2] == INDENT + detail
