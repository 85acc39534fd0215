"""Batch verification for audits: many patient/prescription pairs, one failure never stops
the rest, a summary by verdict and a CSV report (written atomically)."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError
from .files import write_atomic

EXIT_OK, EXIT_DISCREPANCY = 0, 4


def pairs_from(source: Path) -> list[tuple[Path, Path]]:
    """(patient, prescription) pairs from a CSV (columns patient,prescribed) or a folder of
    prescriptions that name their patient file (``patient:``, relative to the prescription)."""
    if source.is_dir():
        from .verify import load_prescription

        pairs = []
        for path in sorted(source.glob("*.yaml")):
            prescription = load_prescription(path)
            if prescription.patient is None:
                raise InputError("patient", str(path), "batch prescriptions must name their patient file")
            pairs.append(((path.parent / prescription.patient), path))
        return pairs
    if source.suffix.lower() == ".csv" and source.is_file():
        with source.open(newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            if reader.fieldnames is None or not {"patient", "prescribed"} <= set(reader.fieldnames):
                raise InputError("--batch", str(source), "CSV needs the columns patient,prescribed")
            base = source.parent
            return [(base / row["patient"], base / row["prescribed"]) for row in reader]
    raise InputError("--batch", str(source), "expected a folder or a .csv file")


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[], None]]:
    """A transient progress bar on a terminal; a no-op when output is piped or logged."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


def _verify_pair(
    args: argparse.Namespace,
    tolerance: float,
    patient_path: Path,
    prescription_path: Path,
    rows: list[dict[str, object]],
    outcome: Counter[str],
) -> None:
    """Verify one pair into the report rows; an input error is reported, never raised."""
    from .cli import options_from
    from .verify import load_and_verify

    where = {"patient": str(patient_path), "prescription": str(prescription_path)}
    try:
        result = load_and_verify(patient_path, prescription_path, lambda c: options_from(args, c), tolerance)
    except InputError as error:
        outcome["error"] += 1
        rows.append({**where, "status": "error", "detail": error.message})
        return
    outcome[result.status] += 1
    for line in result.lines:
        data = line.as_json()
        rows.append(
            {**where, "status": result.status, **data, "prescribed": _q(line.prescribed), "expected": _q(line.expected)}
        )
    if result.blocked:
        rows.append({**where, "status": "blocked", "detail": "; ".join(f.message for f in result.order_set.blocking)})


def verify_batch(args: argparse.Namespace, tolerance: float) -> int:
    pairs = pairs_from(args.batch)
    rows: list[dict[str, object]] = []
    outcome: Counter[str] = Counter()
    with progress_bar("verifying", len(pairs)) as advance:
        for patient_path, prescription_path in pairs:
            _verify_pair(args, tolerance, patient_path, prescription_path, rows, outcome)
            advance()
    verdicts = Counter(str(row.get("verdict")) for row in rows if row.get("verdict"))
    print(f"{len(pairs)} pair(s): " + ", ".join(f"{k} {v}" for k, v in sorted(outcome.items())))
    print("lines by verdict: " + (", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())) or "none"))
    if args.report is not None:
        buffer = io.StringIO()
        fields = [
            "patient",
            "prescription",
            "status",
            "drug",
            "day",
            "route",
            "prescribed",
            "expected",
            "deviation_percent",
            "verdict",
            "detail",
        ]
        writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        write_atomic(args.report, buffer.getvalue().encode("utf-8"))
        print(f"report: {args.report}")
    return EXIT_OK if set(outcome) <= {"ok"} else EXIT_DISCREPANCY


def _q(quantity: object) -> str:
    from .units import QuantityClass, format_quantity

    return format_quantity(quantity) if isinstance(quantity, QuantityClass) else ""


# ---------------------------------------------------------------------------------------------
# Batch rendering: a day's chair schedule of order sets, over every core.

Job = tuple[str, str, "int | None", str]  # patient file, regimen id, cycle, output PDF


def render_jobs(args: argparse.Namespace) -> list[Job]:
    """Jobs from a CSV (patient,regimen[,cycle]) or a folder of patients × --regimen ids."""
    source: Path = args.batch
    out: Path = args.output
    if source.is_dir():
        if not args.regimen:
            raise InputError("--regimen", "", "with --batch DIR, give --regimen ID[,ID...]")
        regimens = [r.strip() for r in args.regimen.split(",") if r.strip()]
        return [
            (str(p), r, args.cycle, str(out / f"{p.stem}--{r}.pdf"))
            for p in sorted(source.glob("*.yaml"))
            for r in regimens
        ]
    if source.suffix.lower() == ".csv" and source.is_file():
        with source.open(newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            if reader.fieldnames is None or not {"patient", "regimen"} <= set(reader.fieldnames):
                raise InputError("--batch", str(source), "CSV needs the columns patient,regimen[,cycle]")
            jobs: list[Job] = []
            for row in reader:
                cycle = int(row["cycle"]) if row.get("cycle") and row["cycle"].strip().isdigit() else args.cycle
                patient = source.parent / row["patient"]
                jobs.append((str(patient), row["regimen"], cycle, str(out / f"{patient.stem}--{row['regimen']}.pdf")))
            return jobs
    raise InputError("--batch", str(source), "expected a folder or a .csv file")


_WORKER_ARGS: argparse.Namespace | None = None


def _init_worker(args: argparse.Namespace) -> None:
    """Each worker imports weasyprint once and keeps it for all its documents."""
    global _WORKER_ARGS
    _WORKER_ARGS = args
    import weasyprint  # noqa: F401


def render_one(job: Job) -> tuple[str, str]:
    """Render one order set; returns (status, message) and never raises for bad input."""
    from .cli import options_from
    from .files import write_atomic
    from .orderset import build
    from .patient import load_patient
    from .regimen import load_regimen
    from .render import build_view, pdf_bytes, render_html

    patient_path, regimen_id, cycle, output = job
    args = _WORKER_ARGS
    assert args is not None
    try:
        patient = load_patient(Path(patient_path))
        regimen = load_regimen(regimen_id)
        order_set = build(
            patient,
            regimen,
            options_from(args, cycle or regimen.first_cycle()),
            input_text=Path(patient_path).read_bytes(),
        )
        if order_set.blocked:
            return "blocked", f"{patient_path} + {regimen_id}: " + "; ".join(f.rule for f in order_set.blocking)
        write_atomic(Path(output), pdf_bytes(render_html(build_view(order_set, args.paper)), order_set))
        return "rendered", output
    except InputError as error:
        return "error", f"{patient_path} + {regimen_id}: {error.message}"


def render_batch(args: argparse.Namespace) -> int:
    import os
    from concurrent.futures import ProcessPoolExecutor

    jobs = render_jobs(args)
    workers = max(1, min(args.jobs or os.cpu_count() or 1, len(jobs) or 1))
    counts: Counter[str] = Counter()
    with (
        progress_bar("rendering", len(jobs)) as advance,
        ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(args,)) as pool,
    ):
        for status, message in pool.map(render_one, jobs):
            counts[status] += 1
            if status != "rendered":
                print(f"{status}: {message}")
            advance()
    print(
        f"{len(jobs)} order set(s) with {workers} worker(s): "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f"; PDFs in {args.output}"
    )
    return EXIT_OK if counts["error"] == 0 else 2
