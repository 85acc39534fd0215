"""The one door into the engine: every interface asks these functions the same questions.

The command line, batch, the order record, the workbench, the JSON API, FHIR and CDS Hooks
turn what they were given into a :class:`CalcRequest` (or a :class:`CheckRequest`) and get
the same objects back (an :class:`~chemo_orders.orderset.OrderSet`, a verification, a
treatment approach). This is the only module that calls the engine's ``build``, so the
screen, the paper, the record and an EHR cannot disagree about how a dose was reached.

Nothing here knows about ``argparse``, HTTP or a database: an interface with a record reads
the patient's history first and passes it in as data (:class:`~chemo_orders.history.History`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .history import History, with_history
from .settings import DoseSettings, Settings
from .sources import Document, PatientInput, PatientSource, RegimenSource, read_patient, read_regimen

if TYPE_CHECKING:
    from .changes import DoseChange
    from .options import Approach
    from .orderset import Acknowledgement, OrderSet
    from .regimen import Regimen
    from .verify import Prescription, Verification

__all__ = [
    "CalcRequest",
    "CheckRequest",
    "Document",
    "DoseSettings",
    "History",
    "acknowledgements",
    "calculate",
    "dose_changes",
    "treatment_options",
    "treatment_plan",
    "verify",
]


@dataclass(frozen=True)
class CalcRequest:
    """One patient, one regimen, one cycle: what ``calc``, ``render``, ``orders prepare``, the
    workbench, ``POST /api/calc``, ``$apply`` and CDS Hooks ask."""

    patient: PatientSource
    regimen: RegimenSource
    cycle: int | None = None  # None: the regimen's first
    settings: Settings = field(default_factory=DoseSettings)
    acknowledgements: tuple[Acknowledgement, ...] = ()
    changes: tuple[DoseChange, ...] = ()  # a prescriber's dose changes, each with its reason
    history: History | None = None  # what the order record knows of this patient


@dataclass(frozen=True)
class CheckRequest:
    """An independent recalculation of someone else's prescription (``verify``, and a
    pharmacist's check of a recorded order, where the regimen, settings, acknowledgements,
    changes and history are the order's own)."""

    patient: PatientSource
    prescription: Path | Document | Prescription  # a file, stored bytes, or already validated
    settings: Settings = field(default_factory=DoseSettings)
    tolerance_percent: float = 5.0
    regimen: RegimenSource | None = None  # None: the prescription's regimen from the library
    acknowledgements: tuple[Acknowledgement, ...] = ()
    changes: tuple[DoseChange, ...] = ()
    history: History | None = None


def acknowledgements(codes: list[str], reasons: list[str]) -> tuple[Acknowledgement, ...]:
    """Pairs of --acknowledge CODE and --reason TEXT (one reason per code)."""
    from .orderset import Acknowledgement

    if len(codes) != len(reasons):
        raise InputError("--reason", len(reasons), f"give one --reason per --acknowledge ({len(codes)})")
    return tuple(Acknowledgement(code.strip().upper(), reason) for code, reason in zip(codes, reasons, strict=True))


def dose_changes(changes: list[str], reasons: list[str]) -> tuple[DoseChange, ...]:
    """Pairs of --change DRUG=-20% (or DRUG=600mg) and --change-reason TEXT (one reason each)."""
    from .changes import parse_change

    if len(changes) != len(reasons):
        raise InputError("--change-reason", len(reasons), f"give one --change-reason per --change ({len(changes)})")
    return tuple(parse_change(text, reason) for text, reason in zip(changes, reasons, strict=True))


def calculate(request: CalcRequest) -> OrderSet:
    """Doses, modifications and findings for one request (no output written)."""
    regimen = read_regimen(request.regimen)
    return _build(
        read_patient(request.patient),
        regimen,
        request.cycle,
        request.settings,
        request.acknowledgements,
        request.changes,
        request.history,
    )


def verify(request: CheckRequest) -> Verification:
    """Recalculate for the prescription's regimen and cycle and compare line by line."""
    from .verify import compare

    prescription, prescribed = _prescription(request.prescription)
    read = read_patient(request.patient)
    regimen = read_regimen(request.regimen if request.regimen is not None else prescription.regimen)
    order_set = _build(
        PatientInput(read.patient, read.data + prescribed),  # both inputs are hashed onto the result
        regimen,
        prescription.cycle,
        request.settings,
        request.acknowledgements,
        request.changes,
        request.history,
    )
    return compare(order_set, prescription, request.tolerance_percent)


def _prescription(source: Path | Document | Prescription) -> tuple[Prescription, bytes]:
    from .loader import decode, parse_yaml
    from .models import validate
    from .verify import Prescription, canonical_prescription, load_prescription

    if isinstance(source, Prescription):
        return canonical_prescription(source), b""
    if isinstance(source, Path):
        return canonical_prescription(load_prescription(source)), source.read_bytes()
    text = decode(source.data, "prescription", source.source)
    prescription = validate(Prescription, parse_yaml(text, "prescription", source.source), source.source)
    return canonical_prescription(prescription), source.data


def _build(
    read: PatientInput,
    regimen: Regimen,
    cycle: int | None,
    settings: Settings,
    acknowledged: tuple[Acknowledgement, ...],
    changes: tuple[DoseChange, ...],
    history: History | None,
) -> OrderSet:
    """The engine's one call: the patient with the record's history, the options for the cycle."""
    from .orderset import build

    if cycle is not None and cycle < 1:
        raise InputError("--cycle", cycle, "expected a whole number from 1")
    options = settings.options(cycle if cycle is not None else regimen.first_cycle())
    patient = read.patient if history is None else with_history(read.patient, history)
    return build(patient, regimen, options, acknowledged, read.data, changes)


def treatment_options(source: PatientSource, on: dt.date | None = None) -> Approach:
    """Every library regimen for this patient, fitting ones first, each with why."""
    from .options import treatment_options as approach

    return approach(read_patient(source).patient, on or dt.date.today())


def treatment_plan(source: PatientSource, plan_id: str, start: dt.date | None = None) -> dict[str, Any]:
    """A plan's calendar for one patient: every course with its dates and doses (``plan``)."""
    from .plan import calendar, calendar_json, load_plan

    patient = read_patient(source).patient
    plan = load_plan(plan_id)
    return calendar_json(plan, patient, calendar(plan, patient, start or dt.date.today()))
