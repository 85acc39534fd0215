"""The typed entry points every interface calls: the CLI, batch, the order record, the web page
and FHIR all ask the same functions the same questions (design §10.8).

Nothing here knows about ``argparse``, HTTP or a database: each interface turns what it was
given into these requests, and the answers (an :class:`OrderSet`, a verification, a treatment
approach) are the same objects whichever way the question came in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import InputError

if TYPE_CHECKING:
    from .changes import DoseChange
    from .dosing import Options
    from .options import Approach
    from .orderset import Acknowledgement, OrderSet
    from .patient import Patient
    from .verify import Verification

PatientSource = Path | Mapping[str, Any]  # a patient file, or the same fields as data (API, FHIR)


@dataclass(frozen=True)
class DoseSettings:
    """How doses are calculated: chosen by the user, printed on the order when not default.

    Text values (``bsa_cap``, ``scr_floor``) are parsed here with the strict quantity grammar,
    so every interface refuses the same bad values the same way.
    """

    on: dt.date | None = None
    bsa_formula: str = "mosteller"
    bsa_cap: str | None = None
    policy: Path | None = None
    carboplatin_weight: Literal["nccn", "actual"] = "nccn"
    scr_floor: str = "0.7 mg/dL"

    def options(self, cycle: int) -> Options:
        from .dosing import Options
        from .quantities import parse_quantity
        from .rounding import load_policy
        from .units import M2, MG_PER_DL

        bsa_cap = None
        if self.bsa_cap is not None:
            text = self.bsa_cap if any(c.isalpha() for c in self.bsa_cap) else f"{self.bsa_cap} m**2"
            bsa_cap = parse_quantity(text, "--bsa-cap", "[length] ** 2")
            if not 1 <= bsa_cap.to(M2).magnitude <= 3:
                raise InputError("--bsa-cap", self.bsa_cap, "implausible: outside 1-3 m²")
        scr_floor = None
        if self.scr_floor.strip().lower() != "none":
            scr_floor = parse_quantity(self.scr_floor, "--scr-floor", "[mass] / [length] ** 3").to(MG_PER_DL)
            if not 0.1 <= scr_floor.magnitude <= 2:
                raise InputError("--scr-floor", self.scr_floor, "implausible: outside 0.1-2 mg/dL")
        return Options(
            on=self.on or dt.date.today(),
            cycle=cycle,
            bsa_formula=self.bsa_formula,
            bsa_cap=bsa_cap,
            carboplatin_weight=self.carboplatin_weight,
            scr_floor=scr_floor,
            policy=load_policy(self.policy) if self.policy else None,
        )


@dataclass(frozen=True)
class CalcRequest:
    """One patient, one regimen, one cycle: what ``calc``, ``render`` and ``POST /api/calc`` ask."""

    patient: PatientSource
    regimen: str
    cycle: int | None = None
    settings: DoseSettings = field(default_factory=DoseSettings)
    acknowledgements: tuple[Acknowledgement, ...] = ()
    changes: tuple[DoseChange, ...] = ()  # a prescriber's dose changes, each with its reason


def load_patient_input(source: PatientSource) -> tuple[Patient, bytes]:
    """The validated patient and the exact input bytes (hashed onto the order set)."""
    from .models import validate
    from .patient import Patient, load_patient

    if isinstance(source, Path):
        patient = load_patient(source)
        return patient, source.read_bytes()
    data = dict(source)
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return validate(Patient, data, "patient"), text


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
    from .orderset import build
    from .regimen import load_regimen

    patient, input_bytes = load_patient_input(request.patient)
    regimen = load_regimen(request.regimen)
    if request.cycle is not None and request.cycle < 1:
        raise InputError("--cycle", request.cycle, "expected a whole number from 1")
    cycle = request.cycle if request.cycle is not None else regimen.first_cycle()
    options = request.settings.options(cycle)
    return build(patient, regimen, options, request.acknowledgements, input_bytes, request.changes)


def verify_prescription(patient: Path, prescription: Path, settings: DoseSettings, tolerance: float) -> Verification:
    """An independent recalculation of someone else's prescription."""
    from .verify import load_and_verify

    return load_and_verify(patient, prescription, settings.options, tolerance)


def treatment_options(source: PatientSource, on: dt.date | None = None) -> Approach:
    """Every library regimen for this patient, fitting ones first, each with why."""
    from .options import treatment_options as approach

    patient, _ = load_patient_input(source)
    return approach(patient, on or dt.date.today())


def treatment_plan(source: PatientSource, plan_id: str, start: dt.date | None = None) -> dict[str, Any]:
    """A plan's calendar for one patient: every course with its dates and doses (``plan``)."""
    from .plan import calendar, calendar_json, load_plan

    patient, _ = load_patient_input(source)
    plan = load_plan(plan_id)
    return calendar_json(plan, patient, calendar(plan, patient, start or dt.date.today()))
