"""The diagnosis vocabulary of the patient file (a contract) and its disease families.

B-cell precursor ALL, T-ALL and mature B-cell (Burkitt) leukemia are different diseases
treated differently: Burkitt leukemia is *not* in the ALL family even though it was once
called "ALL-L3". ICD-O-3 morphology codes are accepted as synonyms only where the code
names exactly one entry of the vocabulary.
"""

from __future__ import annotations

from typing import Literal, get_args

from .errors import InputError

Diagnosis = Literal[
    "b-all",
    "t-all",
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
    "burkitt": "Burkitt leukemia/lymphoma (mature B-cell)",
    "dlbcl": "Diffuse large B-cell lymphoma",
    "follicular-lymphoma": "Follicular lymphoma",
    "mantle-cell-lymphoma": "Mantle cell lymphoma",
    "hodgkin-lymphoma": "Hodgkin lymphoma",
    "aml": "Acute myeloid leukemia",
}

# Disease families used by regimen indications and safety rules (design §4).
FAMILIES: dict[str, frozenset[str]] = {
    "all": frozenset({"b-all", "t-all"}),
    "b-cell-lymphoma": frozenset({"dlbcl", "follicular-lymphoma", "mantle-cell-lymphoma", "burkitt"}),
}

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
    allowed = ", ".join(DIAGNOSES)
    raise InputError(field, value, f"unknown diagnosis; use one of {allowed} or an ICD-O-3 code")


def in_family(diagnosis: str, disease: str) -> bool:
    """True when ``disease`` (a diagnosis or a family name) covers ``diagnosis``."""
    return diagnosis == disease or diagnosis in FAMILIES.get(disease, frozenset())
