"""Whole-record plausibility: combinations of fields that cannot describe one person.

Each field of a patient file is checked alone by its model; an adult of 1 kg, or 30 cm with
100 kg, passes those checks and then becomes a dose. The bounds here (``plausibility.yaml``,
each with its source) look at the record as a whole, on the date of the order, and refuse it
with every field involved named. They refuse input; they never change a dose.
"""

from __future__ import annotations

import operator
from functools import cache
from pathlib import Path

from pydantic import Field

from .body import bmi as body_mass_index
from .errors import InputError
from .loader import read_package_yaml
from .models import AnyQuantity, Frozen, validate
from .patient import Patient
from .units import QuantityClass, compare, format_number, format_quantity, format_value

ADULT_AGE = 18


class Bound(Frozen):
    min: AnyQuantity | float | None = None
    max: AnyQuantity | float | None = None
    source: str | None = None
    confirmable: bool = False  # `measurements_confirmed: true` in the patient file lifts it


class AdultBounds(Frozen):
    height: Bound
    weight: Bound
    bmi: Bound


class Plausibility(Frozen):
    sources: dict[str, str]
    adult: AdultBounds
    labs: dict[str, Bound] = Field(default_factory=dict)


@cache
def plausibility() -> Plausibility:
    path = Path(__file__).with_name("plausibility.yaml")
    return validate(Plausibility, read_package_yaml(path, "plausibility table"), str(path))


def check_record(patient: Patient, age_years: int) -> None:
    """Refuse a record whose measurements together are implausible (InputError naming them)."""
    table = plausibility()
    for lab, bound in table.labs.items():
        value = getattr(patient.labs, lab, None)
        if value is not None and isinstance(bound.max, QuantityClass) and compare(value, bound.max, operator.gt):
            raise InputError(f"labs.{lab}", format_quantity(value), f"implausible: above {format_quantity(bound.max)}")
    if age_years < ADULT_AGE:
        return
    adult = table.adult
    for field, bound in (("height", adult.height), ("weight", adult.weight)):
        value = getattr(patient, field)
        if (bound.min is not None and compare(value, bound.min, operator.lt)) or (
            bound.max is not None and compare(value, bound.max, operator.gt)
        ):
            problem = f"implausible for an adult (age {age_years}): outside {_range(bound)} ({bound.source})"
            raise InputError(field, format_quantity(value), problem)
    bmi = body_mass_index(patient.height, patient.weight)
    bound = adult.bmi
    outside = (bound.min is not None and bmi < float(bound.min)) or (bound.max is not None and bmi > float(bound.max))
    if outside and not (bound.confirmable and patient.measurements_confirmed):
        raise InputError(
            "height, weight",
            f"{format_quantity(patient.height)}, {format_quantity(patient.weight)}",
            f"BMI {format_number(bmi, 1)} is outside {_range(bound)} for an adult ({bound.source}): check the units; "
            "if re-measured and correct, add 'measurements_confirmed: true'",
        )


def _range(bound: Bound) -> str:
    return f"{format_value(bound.min)}-{format_value(bound.max)}"
