"""Regenerate the golden files: the calc JSON and the PDF text of every sample order set.

Run after an intended change to what users see, review the diff, commit it. Never edit the
golden files by hand. tests/test_golden.py compares against them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from pypdf import PdfReader

from chemo_orders.dosing import Options
from chemo_orders.orderset import build, dumps, to_json
from chemo_orders.patient import load_patient
from chemo_orders.regimen import load_regimen
from chemo_orders.render import build_view, pdf_bytes, render_html

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
DATE = dt.date(2026, 11, 22)


def sample_pairs() -> list[tuple[Path, str, int]]:
    with (ROOT / "samples" / "order-sets.csv").open(newline="") as stream:
        return [
            (ROOT / "samples" / row["patient"], row["regimen"], int(row["cycle"])) for row in csv.DictReader(stream)
        ]


def golden(patient_path: Path, regimen_id: str, cycle: int) -> tuple[str, str | None]:
    """(calc JSON, PDF text or None when blocked) for one sample pair, on the fixed date."""
    order_set = build(
        load_patient(patient_path),
        load_regimen(regimen_id),
        Options(on=DATE, cycle=cycle),
        input_text=patient_path.read_bytes(),
    )
    data = to_json(order_set)
    text = None
    if not order_set.blocked:
        reader = PdfReader(io.BytesIO(pdf_bytes(render_html(build_view(order_set)), order_set)))
        text = "\n".join(page.extract_text() for page in reader.pages) + "\n"
    return dumps(data) + "\n", text


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for patient_path, regimen_id, cycle in sample_pairs():
        stem = f"{patient_path.stem}--{regimen_id}"
        data, text = golden(patient_path, regimen_id, cycle)
        (GOLDEN / f"{stem}.json").write_text(data, encoding="utf-8")
        if text is not None:
            (GOLDEN / f"{stem}.txt").write_text(text, encoding="utf-8")
        print(f"wrote {stem} ({json.loads(data)['status']})")


if __name__ == "__main__":
    main()
