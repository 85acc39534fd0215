"""The diagnosis vocabulary of the patient file (a contract) and its disease families.

B-cell precursor ALL, T-ALL and mature B-cell (Burkitt) leukemia are different diseases
treated differently: Burkitt leukemia is *not* in the ALL family even though it was once
called "ALL-L3". ICD-O-3 morphology codes are accepted as synonyms only where the code
names exactly one entry of the vocabulary.

ALL whose lineage is not stated (ICD-10-CM C91.0x says only "acute lymphoblastic leukemia") is
its own entry, ``all-lineage-unknown``: a member of the ALL family, so every rule for any ALL
applies to it, but never taken for B-ALL or T-ALL. Whatever depends on the lineage holds and
asks for the immunophenotype (:func:`lineages`), rather than guessing or refusing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from .errors import InputError

Diagnosis = Literal[
    "b-all",
    "t-all",
    "all-lineage-unknown",
    "burkitt",
    "dlbcl",
    "follicular-lymphoma",
    "mantle-cell-lymphoma",
    "hodgkin-lymphoma",
    "aml",
]
DIAGNOSES: tuple[str, ...] = get_args(Diagnosis)

DIAGNOSIS_NAMES: dict[str, str] = {
    "b-all": "B-lymphoblastic leukemia (B-cell precursor ALL)",
    "t-all": "T-lymphoblastic leukemia (T-ALL)",
    "all-lineage-unknown": "Acute lymphoblastic leukaemia, lineage not stated",
    "burkitt": "Burkitt leukemia/lymphoma (mature B-cell)",
    "dlbcl": "Diffuse large B-cell lymphoma",
    "follicular-lymphoma": "Follicular lymphoma",
    "mantle-cell-lymphoma": "Mantle cell lymphoma",
    "hodgkin-lymphoma": "Hodgkin lymphoma",
    "aml": "Acute myeloid leukemia",
}

# Disease families used by regimen indications and safety rules (design §4).
FAMILIES: dict[str, frozenset[str]] = {
    "all": frozenset({"b-all", "t-all", "all-lineage-unknown"}),
    "b-cell-lymphoma": frozenset({"dlbcl", "follicular-lymphoma", "mantle-cell-lymphoma", "burkitt"}),
}

LINEAGE_UNKNOWN = "all-lineage-unknown"
# The lineages an ALL of unstated lineage may be (B-cell precursor or T), each its own disease.
ALL_LINEAGES = frozenset({"b-all", "t-all"})

# The diagnosis for a family named without its member (ICD-10-CM C91.0x: ALL, lineage not stated).
UNSTATED_MEMBER: dict[str, str] = {"all": LINEAGE_UNKNOWN}

# Names a patient file may give for ALL without its lineage. Not "all" in a regimen's
# indication, where it is the family (regimen.py reads that before this vocabulary).
_UNSTATED_LINEAGE = {"all", "acute lymphoblastic leukemia", "acute lymphoblastic leukaemia"}

# ICD-O-3 morphology synonyms named in design §4 (WHO ICD-O-3 morphology list).
_ICD_O_3 = {
    "9811/3": "b-all",  # B lymphoblastic leukemia/lymphoma, NOS
    "9837/3": "t-all",  # T lymphoblastic leukemia/lymphoma
    "9687/3": "burkitt",  # Burkitt lymphoma, NOS (includes Burkitt leukemia)
    "9680/3": "dlbcl",  # Diffuse large B-cell lymphoma, NOS
}

# ``in-remission``: complete remission (CR/CRi) after induction, the status for consolidation and
# maintenance (design §11.1); ordering those for newly diagnosed disease is IND001.
DiseaseStatus = Literal["newly-diagnosed", "relapsed", "refractory", "mrd-positive", "in-remission"]
DISEASE_STATUSES: tuple[str, ...] = get_args(DiseaseStatus)


def parse_diagnosis(value: object, field: str = "diagnosis") -> str:
    """Map a vocabulary term or ICD-O-3 code to the vocabulary; refuse anything else."""
    text = value.strip().lower().replace("_", "-") if isinstance(value, str) else value
    if isinstance(text, str):
        if text in DIAGNOSES:
            return text
        if text in _ICD_O_3:
            return _ICD_O_3[text]
        if text in _UNSTATED_LINEAGE:
            return LINEAGE_UNKNOWN
    allowed = ", ".join(DIAGNOSES)
    raise InputError(field, value, f"unknown diagnosis; use one of {allowed} or an ICD-O-3 code")


def in_family(diagnosis: str, disease: str) -> bool:
    """True when ``disease`` (a diagnosis or a family name) covers ``diagnosis``."""
    return diagnosis == disease or diagnosis in FAMILIES.get(disease, frozenset())


def lineages(diagnosis: str) -> frozenset[str]:
    """The diseases the patient may have: both ALL lineages when the lineage is not stated,
    else the diagnosis itself."""
    return ALL_LINEAGES if diagnosis == LINEAGE_UNKNOWN else frozenset({diagnosis})


def covered(diagnosis: str, diseases: Iterable[str]) -> bool:
    """True when ``diseases`` (diagnoses or families) cover every disease the patient may have:
    a condition naming B-ALL and T-ALL holds for ALL of unstated lineage, one naming B-ALL
    alone does not."""
    wanted = tuple(diseases)
    return all(any(in_family(lineage, d) for d in wanted) for lineage in lineages(diagnosis))


def may_be(diagnosis: str, disease: str) -> bool:
    """True when ``disease`` (a diagnosis or a family) may be the patient's: for ALL of unstated
    lineage, the family and either lineage."""
    return in_family(diagnosis, disease) or any(in_family(lineage, disease) for lineage in lineages(diagnosis))


def most_specific(diagnoses: set[str]) -> set[str]:
    """The diagnoses without ALL of unstated lineage where a coding states the lineage: a code
    naming B-ALL or T-ALL beside one that says only ALL refines it, it does not disagree."""
    return diagnoses - {LINEAGE_UNKNOWN} if diagnoses & ALL_LINEAGES else diagnoses
