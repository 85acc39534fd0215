"""Batches: a day's chair schedule rendered on every core, or many prescriptions verified.

Every row is checked before any work starts (the CSV, each cycle, regimen and patient file,
and that no two rows write one file); a bad row is reported with its row number and skipped,
so one bad row never stops the others. The exit code says that some failed, in this order
of precedence (the first that applies):

    1  an internal error in some row (a bug: the other rows were still done)
    2  some row was bad input (the results are incomplete: fix the rows and rerun them)
    3  some order set was blocked or held (or, in verify, a prescribed route is never allowed)
    4  verify: some prescription differs from the recalculation
    0  every row rendered or verified clean

Output names are ``<patient file>--<regimen>--cycle-<N>.pdf``: the file name rather than the
patient id inside, because one patient may have several files (measurements on different
dates) and an id may hold characters a file name cannot. Two rows that would still write
one file (``a/p.yaml`` and ``b/p.yaml``) are refused before any work, naming both rows.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .batch_input import Row, RowError, parse_cycle, read_rows
from .errors import InputError
from .files import refuse_overwriting
from .settings import DoseSettings

# Statuses that make a batch fail, strongest first, with the exit code each one gives.
FAILURES = (("internal error", 1), ("error", 2), ("blocked", 3), ("held", 3), ("discrepancy", 4))


def exit_code(counts: Counter[str]) -> int:
    """The exit code of a batch from how many rows ended in each status (precedence above)."""
    return next((code for status, code in FAILURES if counts[status]), 0)


def summary(counts: Counter[str]) -> str:
    return ", ".join(f"{status} {count}" for status, count in sorted(counts.items()))


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


def report_errors(errors: list[RowError], counts: Counter[str]) -> None:
    for problem in errors:
        print(f"error: {problem.where}: {problem.message}")
        counts["error"] += 1


# ---------------------------------------------------------------------------------------------
# Batch rendering


@dataclass(frozen=True)
class RenderBatch:
    """A batch of order sets to render: a CSV (patient,regimen[,cycle]) or a folder × regimens."""

    source: Path
    output: Path
    settings: DoseSettings
    regimens: tuple[str, ...] = ()
    cycle: int | None = None
    jobs: int | None = None
    paper: str = "a4"


@dataclass(frozen=True)
class Job:
    where: str  # "jobs.csv row 4", or the patient file with --batch DIR
    patient: Path
    regimen: str
    cycle: int
    output: Path


def render_jobs(batch: RenderBatch) -> tuple[list[Job], list[RowError]]:
    """Jobs from a CSV (patient,regimen[,cycle]) or a folder of patients × --regimen ids,
    every one checked; bad rows come back as errors, a collision of outputs is exit 2."""
    from .regimen import load_regimen

    source = batch.source
    if batch.cycle is not None and batch.cycle < 1:
        raise InputError("--cycle", batch.cycle, "expected a whole number from 1")
    candidates: list[tuple[str, Path, str, str] | RowError] = []  # where, patient, regimen, cycle text
    if source.is_dir():
        if not batch.regimens:
            raise InputError("--regimen", "", "with --batch DIR, give --regimen ID[,ID...]")
        regimens = list(batch.regimens)
        for regimen_id in regimens:
            load_regimen(regimen_id)  # an unknown id on the command line is exit 2 at once
        candidates = [(p.name, p, r, "") for p in sorted(source.glob("*.yaml")) for r in regimens]
    else:
        if batch.regimens:
            raise InputError("--regimen", ",".join(batch.regimens), "with --batch CSV, each row names its regimen")
        candidates = [
            (row.where, _relative(source, row), row.cells["regimen"], row.cells.get("cycle", ""))
            if isinstance(row, Row)
            else row
            for row in read_rows(_csv(source), ("patient", "regimen"), ("cycle",))
        ]
    jobs: list[Job] = []
    errors: list[RowError] = []
    for candidate in candidates:
        if isinstance(candidate, RowError):
            errors.append(candidate)
            continue
        where, patient, regimen_id, cycle_text = candidate
        try:
            jobs.append(_job(batch, where, patient, regimen_id, cycle_text))
        except InputError as error:
            errors.append(RowError(where, error.message))
    _refuse_collisions(batch, jobs)
    return jobs, errors


def _csv(source: Path) -> Path:
    if source.suffix.lower() != ".csv":
        raise InputError("--batch", str(source), "expected a folder or a .csv file")
    return source


def _relative(source: Path, row: Row, column: str = "patient") -> Path:
    """A path written in a CSV cell, relative to the CSV's folder (absolute paths kept)."""
    return source.parent / row.cells[column]


def _job(batch: RenderBatch, where: str, patient_path: Path, regimen_id: str, cycle_text: str) -> Job:
    """One row checked as far as it can be without calculating: regimen, cycle, patient file."""
    from .regimen import load_regimen
    from .sources import read_patient

    regimen = load_regimen(regimen_id)
    default = batch.cycle if batch.cycle is not None else regimen.first_cycle()
    cycle = parse_cycle(cycle_text) if cycle_text else default
    regimen.check_cycle(cycle)
    read_patient(patient_path)  # regular file, bounded, valid: refused here, not in a worker
    output = batch.output / f"{patient_path.stem}--{regimen.id}--cycle-{cycle}.pdf"
    return Job(where, patient_path, regimen.id, cycle, output)


def _refuse_collisions(batch: RenderBatch, jobs: list[Job]) -> None:
    """Exit 2 before any work if two jobs would write one file, or a job would write an input.

    Names are compared case-folded: on a case-insensitive file system (macOS, Windows)
    ``P--x.pdf`` and ``p--x.pdf`` are one file."""
    if batch.output.exists() and not batch.output.is_dir():
        raise InputError("--output", str(batch.output), "with --batch, expected a folder")
    first: dict[str, Job] = {}
    for job in jobs:
        earlier = first.setdefault(job.output.name.casefold(), job)
        if earlier is not job:
            raise InputError(
                "--batch",
                str(batch.source),
                f"{earlier.where} and {job.where} would both write {job.output.name}: "
                "give each row its own patient file, regimen or cycle",
            )
    inputs = [("--batch", batch.source), ("--policy", batch.settings.policy)]
    inputs += [(f"{job.where} patient", job.patient) for job in jobs]
    refuse_overwriting([(f"{job.where} output", job.output) for job in jobs], inputs)


_WORKER_BATCH: RenderBatch | None = None


def _init_worker(batch: RenderBatch, parent: int) -> None:
    """Each worker dies with the batch and imports weasyprint once for all its documents."""
    from .lifeline import die_with_parent

    die_with_parent(parent)
    global _WORKER_BATCH
    _WORKER_BATCH = batch
    import weasyprint  # noqa: F401


def worker_pool(batch: RenderBatch, workers: int) -> ProcessPoolExecutor:
    """Worker processes forked where the platform can (they inherit what is already loaded)."""
    import multiprocessing

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_init_worker,
        initargs=(batch, os.getpid()),
    )


def render_one(job: Job) -> tuple[str, str]:
    """Render one order set; returns (status, message) and never raises."""
    from .files import write_atomic
    from .render import build_view, pdf_bytes, render_html
    from .service import CalcRequest, calculate

    batch = _WORKER_BATCH
    assert batch is not None
    try:
        order_set = calculate(CalcRequest(job.patient, job.regimen, job.cycle, batch.settings))
        if order_set.stopped:
            return order_set.status, f"{job.where}: " + "; ".join(f.rule for f in order_set.blocking)
        write_atomic(job.output, pdf_bytes(render_html(build_view(order_set, batch.paper)), order_set))
        return "rendered", str(job.output)
    except InputError as error:
        return "error", f"{job.where}: {error.message}"
    except Exception as error:  # a bug in one row must not lose the others; exit 1 says so
        return "internal error", f"{job.where}: {error.__class__.__name__}: {error}"


def render_batch(batch: RenderBatch) -> int:
    jobs, errors = render_jobs(batch)
    counts: Counter[str] = Counter()
    report_errors(errors, counts)
    workers = max(1, min(batch.jobs or os.cpu_count() or 1, len(jobs) or 1))
    if jobs:
        with progress_bar("rendering", len(jobs)) as advance:

            def report(status: str, message: str) -> None:
                counts[status] += 1
                if status != "rendered":
                    print(f"{status}: {message}")
                advance()

            unsettled = _render_in_pool(batch, workers, jobs, report)
            if unsettled:  # whatever the retries give, a process died: exit 1 says look
                counts["internal error"] += 1
                print(f"internal error: a worker process died; rendering the {len(unsettled)} unfinished row(s) alone")
                _render_alone(batch, unsettled, report)
    total = len(jobs) + len(errors)
    print(f"{total} order set(s) with {workers} worker(s): {summary(counts)}; PDFs in {batch.output}")
    return exit_code(counts)


def _render_in_pool(batch: RenderBatch, workers: int, jobs: list[Job], report: Callable[[str, str], None]) -> list[Job]:
    """Render ``jobs`` on ``workers`` processes, reporting each result; returns the jobs left
    without one because a worker died (killed, out of memory, a crash in a C library).

    A dead worker breaks the whole pool: every job not yet finished fails with it, the one
    that killed it and the ones merely queued alike (one killed worker once left 10 of 36
    rows never attempted and not reported)."""
    unsettled: list[Job] = []
    with worker_pool(batch, workers) as pool:
        futures = [(job, pool.submit(render_one, job)) for job in jobs]
        for job, future in futures:
            try:
                status, message = future.result()
            except BrokenProcessPool:
                unsettled.append(job)
                continue
            report(status, message)
    return unsettled


def _render_alone(batch: RenderBatch, jobs: list[Job], report: Callable[[str, str], None]) -> None:
    """The jobs a dead worker left, each alone in a fresh worker, so the one whose worker
    dies again is known and reported as an internal error, and the others render."""
    pool = worker_pool(batch, 1)
    try:
        for job in jobs:
            try:
                status, message = pool.submit(render_one, job).result()
            except BrokenProcessPool:
                status, message = "internal error", f"{job.where}: its worker process died (killed or crashed)"
                pool.shutdown(wait=True)
                pool = worker_pool(batch, 1)
            report(status, message)
    finally:
        pool.shutdown(wait=True)


# ---------------------------------------------------------------------------------------------
# Batch verification for audits


@dataclass(frozen=True)
class VerifyBatch:
    """Prescriptions to verify: a CSV (patient,prescribed) or a folder of prescriptions."""

    source: Path
    settings: DoseSettings
    tolerance: float
    report: Path | None = None


@dataclass(frozen=True)
class Pair:
    where: str  # "pairs.csv row 3", or the prescription file with --batch DIR
    patient: Path
    prescription: Path


def verify_pairs(source: Path) -> tuple[list[Pair], list[RowError]]:
    """Pairs from a CSV (patient,prescribed) or a folder of prescriptions that name their
    patient file (``patient:``, relative to the prescription); bad ones come back as errors."""
    from .verify import load_prescription

    pairs: list[Pair] = []
    errors: list[RowError] = []
    if not source.is_dir():
        for row in read_rows(_csv(source), ("patient", "prescribed")):
            if isinstance(row, RowError):
                errors.append(row)
            else:
                pairs.append(Pair(row.where, _relative(source, row), _relative(source, row, "prescribed")))
        return pairs, errors
    for path in sorted(source.glob("*.yaml")):
        try:
            prescription = load_prescription(path)
            if prescription.patient is None:
                raise InputError("patient", "", "batch prescriptions must name their patient file", source=str(path))
        except InputError as error:
            errors.append(RowError(path.name, error.message))
            continue
        pairs.append(Pair(path.name, path.parent / prescription.patient, path))
    return pairs, errors


def _verify_pair(batch: VerifyBatch, pair: Pair, rows: list[dict[str, object]], counts: Counter[str]) -> None:
    """Verify one pair into the report rows; an error is reported, never raised."""
    from .service import CheckRequest, verify

    where = {"row": pair.where, "patient": str(pair.patient), "prescription": str(pair.prescription)}
    try:
        result = verify(CheckRequest(pair.patient, pair.prescription, batch.settings, batch.tolerance))
    except InputError as error:
        counts["error"] += 1
        print(f"error: {pair.where}: {error.message}")
        rows.append({**where, "status": "error", "detail": error.message})
        return
    except Exception as error:  # a bug in one pair must not lose the others; exit 1 says so
        counts["internal error"] += 1
        detail = f"{error.__class__.__name__}: {error}"
        print(f"internal error: {pair.where}: {detail}")
        rows.append({**where, "status": "internal error", "detail": detail})
        return
    counts[result.status] += 1
    for line in result.lines:
        rows.append({**where, "status": result.status, **line.report_cells()})
    if result.blocked:
        detail = "; ".join(f.message for f in result.order_set.blocking)
        rows.append({**where, "status": result.status, "detail": detail})


def verify_batch(batch: VerifyBatch) -> int:
    from .files import write_atomic
    from .verify_report import csv_report

    pairs, errors = verify_pairs(batch.source)
    inputs = [("--batch", batch.source), ("--policy", batch.settings.policy)]
    inputs += [(f"{p.where} patient", p.patient) for p in pairs] + [(p.where, p.prescription) for p in pairs]
    refuse_overwriting([("--report", batch.report)], inputs)
    counts: Counter[str] = Counter()
    report_errors(errors, counts)
    rows: list[dict[str, object]] = [{"row": e.where, "status": "error", "detail": e.message} for e in errors]
    with progress_bar("verifying", len(pairs)) as advance:
        for pair in pairs:
            _verify_pair(batch, pair, rows, counts)
            advance()
    verdicts = Counter(str(row["verdict"]) for row in rows if row.get("verdict"))
    print(f"{len(pairs) + len(errors)} pair(s): {summary(counts)}")
    print("lines by verdict: " + (summary(verdicts) or "none"))
    if batch.report is not None:
        write_atomic(batch.report, csv_report(rows))
        print(f"report: {batch.report}")
    return exit_code(counts)
