"""Diagnoses coded in ICD-10-CM or SNOMED CT, through the cited map ``diagnosis-codes.yaml``.

Why a map and not string matching: ``C91.00`` is acute lymphoblastic leukaemia of either
lineage, and a B-lineage regimen (rituximab, blinatumomab) for T-ALL is exactly the error the
indication rules exist to stop. So a code gives a diagnosis only where the map says which, a
family (``all``) where it does not. Another coding of the same Condition (ICD-O-3, SNOMED CT,
the local code) naming the member wins; a family alone is that family's "member not stated"
diagnosis (``all-lineage-unknown``), which the rules hold on wherever the lineage matters,
and a family with no such diagnosis is refused.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ..diagnosis import FAMILIES, UNSTATED_MEMBER, DiseaseStatus, most_specific
from ..errors import InputError
from ..loader import read_package_yaml
from ..models import Frozen, check_cited, validate


class Category(Frozen):
    diagnosis: str | None = None
    family: str | None = None
    source: tuple[str, ...]


class Icd10Cm(Frozen):
    system: str
    categories: dict[str, Category]
    leukaemia_status: dict[str, DiseaseStatus | None]
    leukaemia_status_source: tuple[str, ...]


class DiagnosisCodes(Frozen):
    sources: dict[str, str]
    icd_10_cm: Icd10Cm
    snomed: dict[str, Category]

    def read(self, system: str, code: str) -> tuple[str | None, str | None, DiseaseStatus | None]:
        """(diagnosis, family, disease status) a coding states; all None if it is not ours."""
        if system == self.icd_10_cm.system:
            prefix = max((p for p in self.icd_10_cm.categories if code.startswith(p)), key=len, default=None)
            if prefix is None:
                return None, None, None
            category = self.icd_10_cm.categories[prefix]
            status = self.icd_10_cm.leukaemia_status.get(code[len(prefix) :]) if category.family else None
            return category.diagnosis, category.family, status
        if system == "http://snomed.info/sct" and code in self.snomed:
            return self.snomed[code].diagnosis, self.snomed[code].family, None
        return None, None, None


@cache
def diagnosis_codes() -> DiagnosisCodes:
    path = Path(__file__).with_name("diagnosis-codes.yaml")
    table = validate(DiagnosisCodes, read_package_yaml(path, "diagnosis codes"), str(path))
    cited = [
        *((f"icd_10_cm.categories.{code}", c.source) for code, c in table.icd_10_cm.categories.items()),
        *((f"snomed.{code}", c.source) for code, c in table.snomed.items()),
        ("icd_10_cm.leukaemia_status", table.icd_10_cm.leukaemia_status_source),
    ]
    check_cited(table.sources, cited, str(path))
    return table


def coded_diagnosis(
    codings: list[tuple[str, str]], stated: set[str], element: str
) -> tuple[str | None, DiseaseStatus | None]:
    """The diagnosis the ICD-10-CM / SNOMED CT codings give with ``stated`` (the diagnoses
    our own and ICD-O-3 codings gave), and any remission status an ICD-10-CM code states."""
    diagnoses: set[str] = set(stated)
    families: set[tuple[str, str]] = set()
    statuses: set[DiseaseStatus] = set()
    for system, code in codings:
        diagnosis, family, status = diagnosis_codes().read(system, code)
        diagnoses |= {diagnosis} if diagnosis else set()
        families |= {(family, code)} if family else set()
        statuses |= {status} if status else set()
    diagnoses = most_specific(diagnoses | {UNSTATED_MEMBER[f] for f, _ in families if f in UNSTATED_MEMBER})
    if len(diagnoses) > 1:
        raise InputError(element, ", ".join(sorted(diagnoses)), "codings disagree on the diagnosis")
    for family, code in families:
        if not diagnoses:
            members = " or ".join(sorted(FAMILIES[family]))
            raise InputError(element, code, f"names {family} without its lineage ({members}): add a coding that does")
        if not diagnoses <= FAMILIES[family]:
            raise InputError(element, code, f"disagrees with the diagnosis {next(iter(diagnoses))}")
    if len(statuses) > 1:
        raise InputError(element, ", ".join(sorted(statuses)), "codings disagree on the disease status")
    return (diagnoses.pop() if diagnoses else None), (statuses.pop() if statuses else None)
