"""Body size and kidney function: BSA, ideal/adjusted body weight, creatinine clearance.

The published formulas are empirical fits with coefficients for particular units (cm, kg,
inches, grams), so each function converts its pint inputs to those units, applies the
formula exactly as published and returns a pint quantity. References: standards.md §1.5-1.6.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .units import CM, KG, M2, MG_PER_DL, ML_PER_MIN, Q, magnitude_in, quantity

BsaFormula = Literal["mosteller", "dubois", "haycock", "gehan-george", "boyd"]


@dataclass(frozen=True)
class Formula:
    """A BSA formula with its citation, so the order can say which one was used."""

    name: str
    equation: str
    citation: str
    compute: Callable[[float, float], float]  # (height cm, weight kg) -> m²


def _boyd(height_cm: float, weight_kg: float) -> float:
    grams = weight_kg * 1000
    return float(0.0003207 * height_cm**0.3 * grams ** (0.7285 - 0.0188 * math.log10(grams)))


BSA_FORMULAS: dict[str, Formula] = {
    "mosteller": Formula(
        "Mosteller",
        "√(height cm × weight kg / 3600)",
        "Mosteller RD. N Engl J Med 1987;317(17):1098",
        lambda h, w: math.sqrt(h * w / 3600),
    ),
    "dubois": Formula(
        "DuBois & DuBois",
        "0.007184 × height cm^0.725 × weight kg^0.425",
        "Du Bois D, Du Bois EF. Arch Intern Med 1916;17:863-871",
        lambda h, w: 0.007184 * h**0.725 * w**0.425,
    ),
    "haycock": Formula(
        "Haycock",
        "0.024265 × height cm^0.3964 × weight kg^0.5378",
        "Haycock GB, Schwartz GJ, Wisotsky DH. J Pediatr 1978;93(1):62-66",
        lambda h, w: 0.024265 * h**0.3964 * w**0.5378,
    ),
    "gehan-george": Formula(
        "Gehan & George",
        "0.0235 × height cm^0.42246 × weight kg^0.51456",
        "Gehan EA, George SL. Cancer Chemother Rep 1970;54(4):225-235",
        lambda h, w: 0.0235 * h**0.42246 * w**0.51456,
    ),
    "boyd": Formula(
        "Boyd",
        "0.0003207 × height cm^0.3 × weight g^(0.7285 − 0.0188 × log10 weight g)",
        "Boyd E. The Growth of the Surface Area of the Human Body. Univ. of Minnesota Press 1935",
        _boyd,
    ),
}


def bsa(height: Q, weight: Q, formula: str = "mosteller") -> Q:
    """Body surface area in m² by the named formula."""
    value = BSA_FORMULAS[formula].compute(magnitude_in(height, CM), magnitude_in(weight, KG))
    return quantity(value, M2)


def bmi(height: Q, weight: Q) -> float:
    """Body-mass index in kg/m² (a plain number by convention)."""
    metres = magnitude_in(height, CM) / 100
    return float(magnitude_in(weight, KG) / metres**2)


# Devine BJ. Drug Intell Clin Pharm 1974;8:650-655. Not defined below 5 ft (152.4 cm).
DEVINE_MIN_INCHES = 60
CM_PER_INCH = 2.54  # exact, by definition of the international inch


def ideal_body_weight(height: Q, sex: str) -> Q | None:
    """Devine ideal body weight: 50 kg (men) / 45.5 kg (women) + 2.3 kg per inch over 5 ft.

    Below 5 ft the equation extrapolates to implausible values (a 120 cm girl would get
    16 kg), so it returns ``None`` and callers fall back to actual weight and say so.
    """
    inches = magnitude_in(height, CM) / CM_PER_INCH
    if inches < DEVINE_MIN_INCHES:
        return None
    base = 50.0 if sex == "male" else 45.5
    return quantity(base + 2.3 * (inches - DEVINE_MIN_INCHES), KG)


ADJUSTED_WEIGHT_FACTOR = 0.4


def adjusted_body_weight(weight: Q, ideal: Q) -> Q:
    """Adjusted body weight: IBW + 0.4 × (actual − IBW) (NCCN carboplatin appendix)."""
    ideal_kg = magnitude_in(ideal, KG)
    return quantity(ideal_kg + ADJUSTED_WEIGHT_FACTOR * (magnitude_in(weight, KG) - ideal_kg), KG)


COCKCROFT_GAULT_CITATION = "Cockcroft DW, Gault MH. Nephron 1976;16(1):31-41"


def cockcroft_gault(age_years: int, weight: Q, creatinine: Q, sex: str) -> Q:
    """Creatinine clearance (mL/min) = (140 − age) × weight kg / (72 × SCr mg/dL), × 0.85 female."""
    scr = magnitude_in(creatinine, MG_PER_DL)
    value = (140 - age_years) * magnitude_in(weight, KG) / (72 * scr)
    if sex == "female":
        value *= 0.85
    return quantity(value, ML_PER_MIN)
