"""``chemo-orders options``: the treatment approach for one patient, from the whole library.

Every regimen is tried for the patient through the same engine and rules as ``calc`` (one
source of truth for "why not"): a regimen fits when no rule blocks it and no hold questions
its indication (age and fitness for the intensity, NCI risk, markers). Which fitting regimen
the guideline prefers, and the guidance statements printed with the list, are cited data in
``guidance.yaml``. A regimen whose doses no source confirms (status ``reference``) is listed
with ``orderable: false``: its fit is judged on its indication alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from .diagnosis import DiseaseStatus, covered
from .dosing import Options
from .errors import InputError
from .loader import read_package_yaml
from .models import Frozen, validate
from .orderset import build
from .patient import Patient
from .regimen import Regimen, all_regimens
from .rules.base import Finding
from .rules.indication import indication_references
from .rules.risk import risk_group

# Rules whose findings say whether the regimen is meant for this patient at all; the others
# (organ function, labs, weight, caps) concern this cycle's doses and do not change the fit.
INDICATION_RULES = frozenset(
    {
        "IND001",
        "IND002",
        "MRK001",
        "MRK002",
        "MRK003",
        "MRK004",
        "MRK005",
        "MRK006",
        "RSK001",
        "SEQ001",
        "AGE001",
        "ALG001",
        "HIS001",
        "DOS002",
    }
)
INTENSITY_ORDER = {"high": 0, "standard": 1, "moderate": 2, "low": 3}
# Within fitting regimens, the phase a patient meets first comes first.
PHASE_ORDER = {
    "all-induction": 0,
    "lymphoma-first-line": 0,
    "burkitt": 0,
    "all-salvage": 1,
    "lymphoma-salvage": 1,
    "cellular-therapy-referral": 2,
    "all-consolidation": 3,
    "all-cns-prophylaxis": 4,
    "all-maintenance": 5,
}


class When(Frozen):
    """Who a guidance statement or preference is for; every given condition must hold."""

    diagnosis: tuple[str, ...] = ()
    disease_status: tuple[DiseaseStatus, ...] = ()
    age_min: float | None = None
    age_below: float | None = None
    cd20_percent_min: float | None = None
    philadelphia: Literal["positive", "negative"] | None = None
    nci_risk: Literal["standard", "high"] | None = None
    ecog_min: int | None = None
    ecog_max: int | None = None

    def matches(self, patient: Patient, age: int) -> bool:
        markers = patient.markers
        return (
            (not self.diagnosis or covered(patient.diagnosis, self.diagnosis))
            and (not self.disease_status or patient.disease_status in self.disease_status)
            and (self.age_min is None or age >= self.age_min)
            and (self.age_below is None or age < self.age_below)
            and (self.cd20_percent_min is None or (markers.cd20_percent or -1) >= self.cd20_percent_min)
            and (self.philadelphia is None or markers.philadelphia == self.philadelphia)
            and (self.nci_risk is None or risk_group(patient, age) == self.nci_risk)
            and (self.ecog_min is None or (patient.ecog is not None and patient.ecog >= self.ecog_min))
            # An unknown ECOG does not withhold a preference (fitness is the clinician's to judge;
            # AGE001 holds when a recorded ECOG is above what the regimen was studied in).
            and (self.ecog_max is None or patient.ecog is None or patient.ecog <= self.ecog_max)
        )


class Preference(Frozen):
    regimen: str
    when: When
    why: str
    source: tuple[str, ...]


class Statement(Frozen):
    text: str
    when: When
    source: tuple[str, ...]


class Guidance(Frozen):
    sources: dict[str, str]
    preferred: tuple[Preference, ...] = ()
    guidance: tuple[Statement, ...] = ()


@cache
def guidance() -> Guidance:
    path = Path(__file__).with_name("guidance.yaml")
    return validate(Guidance, read_package_yaml(path, "guidance table"), str(path))


@dataclass(frozen=True)
class Choice:
    regimen: Regimen
    fits: bool
    preferred: bool
    why: str
    rules: tuple[str, ...]
    references: tuple[str, ...]
    # Held only until the ALL lineage is given (IND001/MRK002 holds, nothing blocks): listed as
    # "needs the lineage", neither fitting nor ruled out.
    needs_lineage: bool = False

    @property
    def orderable(self) -> bool:
        return self.regimen.status == "active"

    def as_json(self) -> dict[str, Any]:
        return {
            "regimen": self.regimen.id,
            "name": self.regimen.name,
            "category": self.regimen.category,
            "intensity": self.regimen.intensity,
            "status": self.regimen.status,
            "fits": self.fits,
            "preferred": self.preferred,
            "needs_lineage": self.needs_lineage,
            "orderable": self.orderable,
            "why": self.why,
            "rules": list(self.rules),
            "references": list(self.references),
        }


@dataclass(frozen=True)
class Approach:
    patient: Patient
    age: int
    on: dt.date
    choices: tuple[Choice, ...]
    statements: tuple[tuple[str, tuple[str, ...]], ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "patient": {
                "id": self.patient.id,
                "age_years": self.age,
                "diagnosis": self.patient.diagnosis,
                "disease_status": self.patient.disease_status,
                "ecog": self.patient.ecog,
            },
            "date": self.on.isoformat(),
            "options": [c.as_json() for c in self.choices],
            "guidance": [{"text": text, "references": list(refs)} for text, refs in self.statements],
        }


def treatment_options(patient: Patient, on: dt.date) -> Approach:
    """Every library regimen for this patient: fitting (preferred first), then the rest with why not."""
    age = patient.age_years(on)
    table = guidance()
    preferences = [p for p in table.preferred if p.when.matches(patient, age)]
    choices = [_choice(regimen, patient, on, preferences, table) for regimen in all_regimens()]
    choices.sort(
        key=lambda c: (
            not c.fits,
            not c.preferred,
            PHASE_ORDER.get(c.regimen.category, 9),
            not c.orderable,
            INTENSITY_ORDER[c.regimen.intensity],
            c.regimen.id,
        )
    )
    statements = tuple(
        (s.text, tuple(table.sources[k] for k in s.source)) for s in table.guidance if s.when.matches(patient, age)
    )
    return Approach(patient, age, on, tuple(choices), statements)


def _choice(regimen: Regimen, patient: Patient, on: dt.date, preferences: list[Preference], table: Guidance) -> Choice:
    refs = indication_references(regimen)
    try:
        order_set = build(patient, regimen, Options(on=on, cycle=regimen.first_cycle()))
    except InputError as error:
        return Choice(regimen, False, False, f"cannot be calculated for this patient: {error.problem}", (), refs)
    # Anything calc would block stops the choice too: options never prefers what calc refuses.
    against = [f for f in order_set.findings if _against(f) or (f.severity == "block" and f.rule != "REG001")]
    if against:
        why = "; ".join(f"{f.rule}: {f.message}" for f in against)
        rules = tuple(dict.fromkeys(f.rule for f in against))
        return Choice(regimen, False, False, why, rules, refs, _needs_lineage(against))
    gaps = [f.message for f in order_set.findings if _dose_gap(f)]
    caveat = f" Not calculable for this patient: {'; '.join(gaps)}." if gaps and regimen.status == "active" else ""
    preferred = [p for p in preferences if p.regimen == regimen.id]
    if preferred and regimen.status != "active":
        # Never PREFERRED what calc refuses: the guidance's preference is said, not marked.
        why = (
            " ".join(p.why for p in preferred)
            + " Preferred by the guidance, but not orderable here: "
            + (regimen.reference_reason or "no retrievable source confirms its doses")
        )
        cited = tuple(table.sources[k] for p in preferred for k in p.source)
        return Choice(regimen, True, False, why, (), cited + refs)
    if preferred:
        why = " ".join(p.why for p in preferred) + caveat
        cited = tuple(table.sources[k] for p in preferred for k in p.source)
        return Choice(regimen, True, True, why, (), cited + refs)
    indicated = "; ".join(i.note or i.disease for i in regimen.indications)
    return Choice(regimen, True, False, f"indicated: {indicated}.{caveat}", (), refs)


def _needs_lineage(against: list[Finding]) -> bool:
    """Only the ALL lineage stands in the way: every finding against is an IND001 or MRK002 hold,
    which those rules raise for nothing else."""
    return all(f.rule in ("IND001", "MRK002") and f.severity == "hold" for f in against)


def _dose_gap(finding: Finding) -> bool:
    """DOS004: the file defines no dose for this patient on one line (an age band no source gives)."""
    return finding.rule == "DOS004"


def _against(finding: Finding) -> bool:
    """A finding that says the regimen is not for this patient (not one about this cycle's doses).

    A dose the file does not define for this patient is a gap in the library, said in the
    ``why``, not a reason the regimen does not fit (calc holds that line with DOS004).
    """
    return finding.rule in INDICATION_RULES and finding.severity in ("block", "hold") and not _dose_gap(finding)


def options_text(approach: Approach) -> str:
    """The approach as a pharmacist reads it in a terminal."""
    patient = approach.patient
    lines = [
        f"{patient.name} ({patient.id}), {approach.age} y, {patient.diagnosis}"
        + (f", {patient.disease_status}" if patient.disease_status else "")
        + (f", ECOG {patient.ecog}" if patient.ecog is not None else ""),
        "",
    ]
    for choice in approach.choices:
        mark = (
            "PREFERRED" if choice.preferred else "fits" if choice.fits else "lineage?" if choice.needs_lineage else "no"
        )
        status = "" if choice.orderable else " [reference: not orderable]"
        lines.append(
            f"{mark:9} {choice.regimen.id:34} {choice.regimen.category:18} {choice.regimen.intensity:9}{status}"
        )
        lines.append(f"          {choice.why}")
    if approach.statements:
        lines += ["", "Guidance:"]
        for text, refs in approach.statements:
            lines.append(f"  - {text}")
            lines.extend(f"      Ref: {ref}" for ref in refs)
    from . import DISCLAIMER

    lines += ["", DISCLAIMER]
    return "\n".join(lines)
