"""Batch verification for audits: many patient/prescription pairs, one failure never stops
the rest, a summary by verdict and a CSV report (written atomically)."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import Counter
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


def verify_batch(args: argparse.Namespace, tolerance: float) -> int:
    from .cli import options_from
    from .verify import load_and_verify

    pairs = pairs_from(args.batch)
    rows: list[dict[str, object]] = []
    outcome: Counter[str] = Counter()
    progress = None
    if sys.stderr.isatty():
        from rich.progress import Progress

        progress = Progress(transient=True)
        progress.start()
        task = progress.add_task("verifying", total=len(pairs))
    for patient_path, prescription_path in pairs:
        try:
            result = load_and_verify(patient_path, prescription_path, lambda c: options_from(args, c), tolerance)
            outcome[result.status] += 1
            for line in result.lines:
                rows.append(
                    {
                        "patient": str(patient_path),
                        "prescription": str(prescription_path),
                        "status": result.status,
                        **{k: v for k, v in line.as_json().items() if k not in ("prescribed", "expected")},
                        "prescribed": _q(line.prescribed),
                        "expected": _q(line.expected),
                    }
                )
            if result.blocked:
                rows.append(
                    {
                        "patient": str(patient_path),
                        "prescription": str(prescription_path),
                        "status": "blocked",
                        "detail": "; ".join(f.message for f in result.order_set.blocking),
                    }
                )
        except InputError as error:
            outcome["error"] += 1
            rows.append(
                {
                    "patient": str(patient_path),
                    "prescription": str(prescription_path),
                    "status": "error",
                    "detail": error.message,
                }
            )
        if progress is not None:
            progress.advance(task)
    if progress is not None:
        progress.stop()
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
