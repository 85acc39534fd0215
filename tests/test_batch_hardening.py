"""Batches and outputs under hostile or unusual input (issue 10, items 6 and 8).

Every bad row is exit 2 naming its row before any work; a CSV as Excel saves it (byte-order
mark, CRLF) works; one bad row never stops the others; no two rows write one file; no output
overwrites an input; the PDF and HTML are written both or neither; and the processes a render
forks die with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import ROOT
from hypothesis import given
from hypothesis import strategies as st

from chemo_orders.batch import exit_code
from chemo_orders.batch_input import Row, RowError, parse_cycle, read_rows
from chemo_orders.cli import main
from chemo_orders.errors import InputError
from chemo_orders.files import write_together

PATIENTS = ROOT / "samples" / "patients"
GOOD = PATIENTS / "relapsed-dlbcl.yaml"  # R-ICE renders for this patient
BLOCKED = PATIENTS / "adult-b-all-cd20-positive.yaml"  # R-ICE is blocked for B-ALL (IND002)
DATE = ["--date", "2026-11-22"]


def run(*args: str | Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chemo_orders.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def render_batch(tmp_path: Path, csv: bytes | str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``render --batch`` in this process (only for batches that stop before rendering)."""
    source = tmp_path / "jobs.csv"
    source.write_bytes(csv.encode() if isinstance(csv, str) else csv)
    code = main(["render", "--batch", str(source), "-o", str(tmp_path / "out"), *DATE])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# --- every row checked before any work, with its row number ----------------------------------


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (f"{GOOD},r-ice,abc", "cycle: expected a whole number from 1 (got 'abc')"),
        (f"{GOOD},r-ice,-1", "cycle: expected a whole number from 1 (got '-1')"),
        (f"{GOOD},r-ice,0", "cycle: expected a whole number from 1 (got '0')"),
        (f"{GOOD},r-ice,1.5", "cycle: expected a whole number from 1 (got '1.5')"),
        (f"{GOOD},r-ice,²", "cycle: expected a whole number from 1"),
        (f"{GOOD},r-ice,99", "R-ICE has cycles"),
        (f"{GOOD},r-ice", "expected 3 cells (patient,regimen,cycle), got 2"),
        (f"{GOOD},r-ice,1,extra", "expected 3 cells (patient,regimen,cycle), got 4"),
        (f"{GOOD},,1", "regimen: empty"),
        (f"{GOOD},no-such-regimen,1", "unknown regimen"),
        ("/dev/zero,r-ice,1", "not a regular file"),
        ("missing.yaml,r-ice,1", "file not found"),
    ],
)
def test_a_bad_row_is_exit_2_naming_its_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, problem: str
) -> None:
    code, output = render_batch(tmp_path, f"patient,regimen,cycle\n{row}\n", capsys)
    assert code == 2
    assert "jobs.csv row 2: " in output and problem in output
    assert not (tmp_path / "out").exists()


def test_a_fifo_as_a_patient_is_refused_without_waiting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")  # opening it to read would wait for a writer forever
    code, output = render_batch(tmp_path, "patient,regimen\nfifo.yaml,r-ice\n", capsys)
    assert code == 2 and "jobs.csv row 2: patient file: not a regular file" in output


def test_every_bad_row_is_reported_in_file_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [f"{GOOD},r-ice,abc", f"{GOOD},r-ice", ",,", f"{GOOD},nope,1"]
    code, output = render_batch(tmp_path, "patient,regimen,cycle\n" + "\n".join(rows) + "\n", capsys)
    assert code == 2
    reported = [line.split(":")[1].strip() for line in output.splitlines() if line.startswith("error:")]
    assert reported == ["jobs.csv row 2", "jobs.csv row 3", "jobs.csv row 5"]  # row 4 is blank
    assert "error 3" in output


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"patient,regimen\n" + bytes(GOOD) + b",r-ice\nx\xe9.yaml,r-ice\n", "row 3: not UTF-8 text"),
        (b"patient,regimen\n" + bytes(GOOD) + b",r-ice\nx\x00.yaml,r-ice\n", "row 3: contains a NUL byte"),
        (b"patient,regimen,cylce\n", "row 1: unknown column cylce"),
        (b"patient,cycle\n", "row 1: missing column regimen"),
        (b"patient,regimen,regimen\n", "row 1: column regimen given twice"),
        (b"", "empty CSV"),
    ],
)
def test_a_bad_file_is_exit_2_naming_the_file_and_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, problem: str
) -> None:
    code, output = render_batch(tmp_path, data, capsys)
    assert code == 2 and problem in output and "jobs.csv" in output


@pytest.mark.parametrize("jobs", ["0", "-1", "abc", "1.5", "65", "99999999999999999999"])
def test_jobs_is_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: str) -> None:
    source = tmp_path / "jobs.csv"
    source.write_text(f"patient,regimen\n{GOOD},r-ice\n")
    assert main(["render", "--batch", str(source), "-o", str(tmp_path / "out"), f"--jobs={jobs}"]) == 2
    assert "--jobs: expected a whole number from 1 to 64" in capsys.readouterr().err


# --- one output file per row -----------------------------------------------------------------


@pytest.mark.parametrize("second", ["the first cycle by default", "the same cycle", "a same-named file"])
def test_two_rows_writing_one_file_are_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], second: str
) -> None:
    other = tmp_path / "b" / GOOD.name
    other.parent.mkdir()
    other.write_bytes(GOOD.read_bytes())
    second_row = {
        "the first cycle by default": f"{GOOD},r-ice,",
        "the same cycle": f"{GOOD},r-ice,1",
        "a same-named file": f"{other},r-ice,1",
    }[second]
    code, output = render_batch(tmp_path, f"patient,regimen,cycle\n{GOOD},r-ice,1\n{second_row}\n", capsys)
    assert code == 2
    assert "jobs.csv row 2 and jobs.csv row 3 would both write relapsed-dlbcl--r-ice--cycle-1.pdf" in output
    assert not (tmp_path / "out").exists()


def test_names_differing_only_in_case_collide(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("P.yaml", "p.yaml"):
        (tmp_path / name).write_bytes(GOOD.read_bytes())
    code, output = render_batch(tmp_path, "patient,regimen\nP.yaml,r-ice\np.yaml,r-ice\n", capsys)
    assert code == 2 and "would both write" in output


def test_an_output_folder_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out").write_text("not a folder")
    code, output = render_batch(tmp_path, f"patient,regimen\n{GOOD},r-ice\n", capsys)
    assert code == 2 and "with --batch, expected a folder" in output


# --- unusual but valid input, and partial failure --------------------------------------------


def test_excel_csv_with_bom_and_crlf_renders_each_cycle_to_its_own_file(tmp_path: Path) -> None:
    source = tmp_path / "jobs.csv"
    rows = ["Patient , Regimen , Cycle", f"{GOOD}, r-ice ,1", f"{GOOD},r-ice,2", f"{GOOD},r-ice,abc", ",,"]
    source.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    out = tmp_path / "out"
    result = run("render", "--batch", source, "-o", out, "--jobs", "2", *DATE)
    assert result.returncode == 2, result.stdout + result.stderr  # the bad row; the others are done
    assert "error: jobs.csv row 4: cycle" in result.stdout and "error 1, rendered 2" in result.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == ["relapsed-dlbcl--r-ice--cycle-1.pdf", "relapsed-dlbcl--r-ice--cycle-2.pdf"]
    assert all((out / name).read_bytes().startswith(b"%PDF") for name in names)


def test_a_blocked_row_makes_the_batch_exit_3(tmp_path: Path) -> None:
    source = tmp_path / "jobs.csv"
    source.write_text(f"patient,regimen\n{BLOCKED},r-ice\n")
    result = run("render", "--batch", source, "-o", tmp_path / "out", *DATE)
    assert result.returncode == 3 and "blocked 1" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("counts", "code"),
    [
        ({"rendered": 3}, 0),
        ({"ok": 2}, 0),
        ({"discrepancy": 1, "ok": 1}, 4),
        ({"blocked": 1, "discrepancy": 1}, 3),
        ({"error": 1, "blocked": 1, "discrepancy": 1, "rendered": 1}, 2),
        ({"internal error": 1, "error": 1}, 1),
    ],
)
def test_exit_code_precedence(counts: dict[str, int], code: int) -> None:
    assert exit_code(Counter(counts)) == code


# --- the CSV reader ---------------------------------------------------------------------------

CELL = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@given(
    st.lists(st.tuples(CELL.filter(str.strip), CELL, CELL), max_size=6),
    st.booleans(),
    st.sampled_from(["\n", "\r\n"]),
)
def test_csv_cells_round_trip_whatever_the_bom_and_line_ends(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str, str]], bom: bool, newline: str
) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline, quoting=csv.QUOTE_ALL)  # as Excel: CR inside quotes
    writer.writerow(["patient", "regimen", "cycle"])
    writer.writerows(rows)
    source = tmp_path_factory.mktemp("csv") / "rows.csv"
    source.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode())
    read = read_rows(source, ("patient",), ("regimen", "cycle"))
    assert all(isinstance(row, Row) for row in read)
    assert [tuple(row.cells.values()) for row in read if isinstance(row, Row)] == [
        tuple(cell.strip() for cell in row) for row in rows
    ]


@given(st.text(max_size=12))
def test_a_cycle_is_the_number_it_spells_or_refused(text: str) -> None:
    try:
        cycle = parse_cycle(text)
    except InputError:
        assert not (text.isascii() and text.isdigit() and 1 <= int(text) < 10**9)
        return
    assert text.isascii() and str(cycle) == text.lstrip("0") and cycle >= 1


def test_short_rows_come_back_as_errors(tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    source.write_text("patient,regimen\np.yaml\n")
    assert read_rows(source, ("patient", "regimen")) == [
        RowError("rows.csv row 2", "expected 2 cells (patient,regimen), got 1")
    ]


# --- outputs: never over an input, the PDF and HTML both or neither ---------------------------


@pytest.mark.parametrize("option", ["--html", "-o"])
def test_an_output_over_the_patient_file_is_refused(tmp_path: Path, option: str) -> None:
    patient = tmp_path / ("patient.html" if option == "--html" else "patient.pdf")
    patient.write_bytes(GOOD.read_bytes())
    outputs = ["-o", tmp_path / "out.pdf", "--html", patient] if option == "--html" else ["-o", patient]
    result = run("render", patient, "--regimen", "r-ice", *outputs, *DATE, timeout=60)
    assert result.returncode == 2 and "is the same file as PATIENT" in result.stderr
    assert patient.read_bytes() == GOOD.read_bytes()
    assert not (tmp_path / "out.pdf").exists()


def test_a_hard_link_to_the_patient_file_is_the_same_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patient = tmp_path / "patient.yaml"
    patient.write_bytes(GOOD.read_bytes())
    os.link(patient, tmp_path / "linked.html")
    argv = ["render", str(patient), "--regimen", "r-ice", "-o", str(tmp_path / "o.pdf"), "--html"]
    assert main([*argv, str(tmp_path / "linked.html")]) == 2
    assert "is the same file as PATIENT" in capsys.readouterr().err


def test_html_must_be_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["render", str(GOOD), "--regimen", "r-ice", "-o", str(tmp_path / "o.pdf"), "--html", str(GOOD)]
    assert main(argv) == 2 and "--html: expected a .html file name" in capsys.readouterr().err


def test_pair_is_written_both_or_neither(tmp_path: Path) -> None:
    pdf, html = tmp_path / "order.pdf", tmp_path / "order.html"
    pdf.write_bytes(b"an older PDF")
    html.mkdir()  # the second rename fails: a folder is in the way
    with pytest.raises(InputError, match="cannot write"):
        write_together([(pdf, b"%PDF new"), (html, b"<html>")])
    assert not pdf.exists()  # the first, already renamed, is removed: never a PDF without its HTML
    assert [p.name for p in tmp_path.iterdir()] == ["order.html"]  # and no temporaries left
    write_together([(tmp_path / "a.pdf", b"%PDF"), (tmp_path / "a.html", b"<html>")])
    assert (tmp_path / "a.pdf").read_bytes() == b"%PDF" and (tmp_path / "a.html").read_bytes() == b"<html>"


def test_render_writes_no_pdf_when_the_html_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "out.html").mkdir()
    result = run(
        "render", GOOD, "--regimen", "r-ice", "-o", tmp_path / "out.pdf", "--html", tmp_path / "out.html", *DATE
    )
    assert result.returncode == 2 and "cannot write" in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.html"]


# --- forked processes die with their parent ---------------------------------------------------

HELPER = """
import time
from chemo_orders.pdf import PdfProcess
helper = PdfProcess()
print("ready", flush=True)
time.sleep(600)
"""

POOL = """
import argparse, time
from chemo_orders.batch import worker_pool
pool = worker_pool(argparse.Namespace(), 2)
waiting = [pool.submit(time.sleep, 600) for _ in range(2)]
print("ready", flush=True)
time.sleep(600)
"""


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its parent's reaping is left


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
@pytest.mark.parametrize("script", [HELPER, POOL], ids=["pdf-helper", "batch-workers"])
def test_forked_processes_die_when_their_parent_is_killed(script: str) -> None:
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
        children = _children(parent.pid)
        assert children, "the script forked nothing"
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 60  # a bound on waiting, not a timing assertion
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)
