"""Shared helpers: build patients from dicts without touching the disk."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from chemo_orders.dosing import Options
from chemo_orders.models import validate
from chemo_orders.patient import Patient
from chemo_orders.verify import Prescription, Verification

ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 11, 22)

BASE: dict[str, Any] = {
    "id": "MRN-T1",
    "name": "Test, Patient",
    "birth_date": dt.date(1981, 3, 14),  # 45 on TODAY
    "sex": "female",
    "height": "175 cm",
    "weight": "80 kg",
    "serum_creatinine": "0.9 mg/dL",
    "diagnosis": "dlbcl",
    "disease_status": "relapsed",
    "labs": {"anc": "2 x10^9/L", "platelets": "150 x10^9/L"},  # criteria to treat met (LAB001)
}


def make_patient(**changes: Any) -> Patient:
    data = {**BASE, **changes}
    return validate(Patient, {k: v for k, v in data.items() if v is not None}, "test")


def child(age: int, size: dict[str, str], **more: Any) -> dict[str, Any]:
    """A newly diagnosed child with B-ALL of ``age`` years and ``size`` (no creatinine: CG is adults only)."""
    return {
        "birth_date": None,
        "age": age,
        "diagnosis": "b-all",
        "disease_status": "newly-diagnosed",
        "serum_creatinine": None,
        **size,
        **more,
    }


def options(**changes: Any) -> Options:
    return Options(**{"on": TODAY, **changes})


@dataclass(frozen=True)
class FixedOptions:
    """Settings a test gives as engine options (the cycle is the one the request asks)."""

    base: Options

    def options(self, cycle: int) -> Options:
        return replace(self.base, cycle=cycle)


def verify(
    patient: Patient,
    prescription: Prescription,
    given: Options,
    tolerance: float,
    changes: tuple[Any, ...] = (),
    acknowledgements: tuple[Any, ...] = (),
) -> Verification:
    """``verify`` through the service's door, for a test's patient and options."""
    from chemo_orders.service import CheckRequest
    from chemo_orders.service import verify as check
    from chemo_orders.sources import PatientInput

    request = CheckRequest(
        PatientInput(patient, b""),
        prescription,
        FixedOptions(given),
        tolerance,
        acknowledgements=acknowledgements,
        changes=changes,
    )
    return check(request)


@pytest.fixture
def write_yaml(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(data: Any, name: str = "patient.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, allow_unicode=True) if not isinstance(data, str) else data)
        return path

    return write
