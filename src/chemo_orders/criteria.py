"""Criteria to treat for one cycle: the regimen's own, else the institution's default policy.

A regimen file states the labs its source requires before a cycle (``criteria_to_treat``),
per cycle where the source differs, or says in the source's words that a cycle has none
(acute leukaemia induction). A lab the file states nothing about for the cycle gets the
institution's default criterion (``criteria-default.yaml``, cited), printed as such on the order: a review
found maintenance given at ANC 0.3 × 10⁹/L because only two regimens stated any criteria.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .diagnosis import DiseaseStatus, covered
from .loader import read_yaml
from .models import Frozen, validate
from .patient import Patient, creatinine_mg_dl
from .regimen import Criterion, CriterionLab, Exemption, Reference, Regimen
from .units import Q, format_value


class DiseaseCytopenia(Frozen):
    """Where low counts before the first cycle are the disease, not toxicity to recover from."""

    diagnoses: tuple[str, ...]
    disease_status: tuple[DiseaseStatus, ...]
    source: Reference

    def applies(self, patient: Patient, regimen: Regimen, cycle: int) -> bool:
        return (
            cycle == 1 and covered(patient.diagnosis, self.diagnoses) and patient.disease_status in self.disease_status
        )


class DefaultPolicy(Frozen):
    """The institution's criteria for cycles whose regimen source states none."""

    criteria: tuple[Criterion, ...]
    source: Reference
    active_leukaemia_first_cycle: DiseaseCytopenia | None = None


POLICY_ENV = "CHEMO_ORDERS_CRITERIA_POLICY"


@cache
def default_policy(path: Path | None = None) -> DefaultPolicy:
    """The shipped default (a cited national protocol set), or an institution's own file (same
    shape) named by ``CHEMO_ORDERS_CRITERIA_POLICY``."""
    configured = os.environ.get(POLICY_ENV, "").strip()
    where = path or (Path(configured) if configured else Path(__file__).with_name("criteria-default.yaml"))
    data = read_yaml(where, "criteria policy")
    if isinstance(data, dict) and isinstance(data.get("criteria"), list):
        # The policy's criteria all rest on its one source: cite it on each.
        data = {
            **data,
            "criteria": [{**item, "source": ["policy"]} for item in data["criteria"] if isinstance(item, dict)],
        }
    return validate(DefaultPolicy, data, str(where))


@dataclass(frozen=True)
class Applied:
    """One criterion as it applies to this cycle, with where it comes from."""

    criterion: Criterion
    references: tuple[str, ...]
    default: bool  # the institution's policy, not the regimen's source

    @property
    def lab(self) -> CriterionLab:
        return self.criterion.lab


@dataclass(frozen=True)
class CycleCriteria:
    """What must be true before this cycle: criteria, or an exemption in its source's words."""

    applied: tuple[Applied, ...]
    exemption: Exemption | None
    exemption_references: tuple[str, ...] = ()


def for_cycle(regimen: Regimen, cycle: int) -> CycleCriteria:
    """The regimen's criteria covering ``cycle``, or its exemption; the default policy fills in
    every lab the regimen does not state for the cycle (a source that gives only a neutrophil
    threshold must not switch the platelet check off). Worked out once per regimen, cycle and
    policy (the models are immutable; hot path)."""
    policy = default_policy()
    key = (id(regimen), cycle, id(policy))
    found = _FOR_CYCLE.get(key)
    if found is None or found[0] is not regimen:
        if len(_FOR_CYCLE) > 1024:  # stored orders parse their own regimen objects: stay bounded
            _FOR_CYCLE.clear()
        found = _FOR_CYCLE[key] = (regimen, _for_cycle(regimen, cycle, policy))
    return found[1]


_FOR_CYCLE: dict[tuple[int, int, int], tuple[Regimen, CycleCriteria]] = {}


def _for_cycle(regimen: Regimen, cycle: int, policy: DefaultPolicy) -> CycleCriteria:
    stated = [item for item in regimen.criteria_to_treat if item.covers(cycle)]
    exemptions = [item for item in stated if isinstance(item, Exemption)]
    if exemptions:
        return CycleCriteria((), exemptions[0], _cite(regimen, exemptions[0].source))
    criteria = [item for item in stated if isinstance(item, Criterion)]
    applied = [Applied(c, _cite(regimen, c.source), False) for c in criteria]
    citation = policy.source.citation + (f". {policy.source.url}" if policy.source.url else "")
    labs = {c.lab for c in criteria}
    applied += [Applied(c, (citation,), True) for c in policy.criteria if c.lab not in labs]
    return CycleCriteria(tuple(applied), None)


def _cite(regimen: Regimen, keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(regimen.references[k].citation for k in keys if k in regimen.references)


def lab_value(patient: Patient, lab: CriterionLab) -> Q | float | None:
    """The patient's value for a criterion's lab (creatinine in mg/dL whatever its input unit)."""
    if lab == "creatinine":
        return creatinine_mg_dl(patient.serum_creatinine) if patient.serum_creatinine is not None else None
    value: Any = getattr(patient.labs, lab)
    return value  # type: ignore[no-any-return]


def criterion_text(criterion: Criterion) -> str:
    """``"≥ 1 x10^9/L"``: one wording for findings, the order set and ``show``."""
    parts = []
    if criterion.min is not None:
        parts.append(f"≥ {format_value(criterion.min)}")
    if criterion.max is not None:
        parts.append(f"≤ {format_value(criterion.max)}")
    return " and ".join(parts)


def met(criterion: Criterion, value: Q | float) -> bool:
    """Whether ``value`` meets the criterion (``min`` and ``max`` inclusive, as sources write them)."""
    low, high = _limit(criterion, criterion.min), _limit(criterion, criterion.max)
    return (low is None or not value < low) and (high is None or not value > high)


def _limit(criterion: Criterion, limit: Q | float | None) -> Q | float | None:
    """Creatinine limits in either unit compare with the patient's value in mg/dL."""
    if criterion.lab == "creatinine" and limit is not None and not isinstance(limit, int | float):
        return creatinine_mg_dl(limit)
    return limit
