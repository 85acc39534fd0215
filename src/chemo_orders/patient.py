"""The patient file (design §4, a contract): one frozen, validated model.

Plausibility limits catch unit slips before they become doses: a height of 175 entered as
metres, a weight in grams, a creatinine in µmol/L labelled mg/dL. They are wide on purpose
(newborn to the heaviest adults); anything outside is refused with the field and value.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias, cast

from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator

from .diagnosis import DiseaseStatus, parse_diagnosis
from .errors import InputError
from .loader import read_yaml
from .models import Frozen, Length, Mass, parser_for, validate
from .units import CM, KG, MG_PER_DL, UMOL_PER_L, Q, QuantityClass, format_quantity, format_unit, ureg

# Creatinine C4H7N3O, molar mass 113.12 g/mol: 1 mg/dL = 10000/113.12 = 88.40 µmol/L.
# (Calculators use 88.4 or 88.42; the differences are below 0.03 %, standards.md §1.5.)
CREATININE_MOLAR_MASS = 113.12 * ureg.gram / ureg.mole

LIMITS = {
    "height": (30 * CM, 250 * CM),
    "weight": (0.5 * KG, 350 * KG),
    "previous_weight": (0.5 * KG, 350 * KG),
    "serum_creatinine": (0.1 * MG_PER_DL, 20 * MG_PER_DL),
}


def creatinine_mg_dl(value: Q) -> Q:
    """Serum creatinine in mg/dL whether it was given as a mass or a molar concentration."""
    if value.dimensionality == UMOL_PER_L.dimensionality:
        return cast(Q, (value * CREATININE_MOLAR_MASS).to(MG_PER_DL))
    return value.to(MG_PER_DL)


def _creatinine(value: object) -> object:
    if isinstance(value, QuantityClass):
        return value
    from .quantities import parse_quantity

    quantity = parse_quantity(value, "serum_creatinine")
    if quantity.dimensionality not in (MG_PER_DL.dimensionality, UMOL_PER_L.dimensionality):
        raise InputError("serum_creatinine", value, "expected mg/dL or umol/L")
    return quantity


Count: TypeAlias = Annotated[Q, parser_for("1 / [length] ** 3")]
Concentration: TypeAlias = Annotated[Q, parser_for("[mass] / [length] ** 3")]
Activity: TypeAlias = Annotated[Q, parser_for("[biological_activity] / [length] ** 3")]
Creatinine = Annotated[Q, BeforeValidator(_creatinine)]
Percent = Annotated[float, Field(ge=0, le=100)]


class Open(Frozen):
    """Known fields validated; other keys kept as given. The vocabulary of markers and labs is
    open-ended (CD19, LDH …), and a misspelt known key fails safe: the rule that needs it
    reports it as not given (MRK001 blocks without CD20, LAB001 warns)."""

    model_config = ConfigDict(frozen=True, extra="allow", arbitrary_types_allowed=True)


class Markers(Open):
    """Immunophenotype and genetics that decide which regimens are allowed."""

    cd20_percent: Percent | None = None
    cd22_percent: Percent | None = None
    philadelphia: Literal["positive", "negative"] | None = None
    mrd_percent: Percent | None = None


class Labs(Open):
    """Laboratory values checked against a regimen's criteria to treat."""

    anc: Count | None = None
    platelets: Count | None = None
    wbc: Count | None = None
    hemoglobin: Concentration | None = None
    bilirubin: Creatinine | None = None  # same dimensions accepted: mg/dL or umol/L
    ast: Activity | None = None
    alt: Activity | None = None
    lvef_percent: Percent | None = None

    @field_validator("bilirubin")
    @classmethod
    def _bilirubin_mass(cls, value: Q) -> Q:
        if value.dimensionality != MG_PER_DL.dimensionality:
            raise InputError("bilirubin", str(value), "expected mg/dL")
        return value


class Patient(Frozen):
    """One patient's identity, measurements, diagnosis and history."""

    id: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]
    birth_date: dt.date | None = None
    age: Annotated[int, Field(ge=0, le=120)] | None = None
    sex: Literal["female", "male"]
    height: Length
    weight: Mass
    serum_creatinine: Creatinine | None = None
    measured_gfr: Annotated[Q, BeforeValidator(lambda v: _flow(v))] | None = None
    measured_on: dt.date | None = None
    diagnosis: Annotated[str, BeforeValidator(parse_diagnosis)]
    disease_status: DiseaseStatus | None = None
    markers: Markers = Markers()
    labs: Labs = Labs()
    allergies: tuple[str, ...] = ()
    previous_weight: Mass | None = None
    prior_cumulative: Annotated[
        dict[str, Annotated[Q, BeforeValidator(lambda v: _per_area(v))]], Field(default_factory=dict)
    ]

    @field_validator("id", "name", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("sex", mode="before")
    @classmethod
    def _sex(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        return {"f": "female", "m": "male"}.get(text, text)

    @field_validator("allergies", mode="before")
    @classmethod
    def _allergies(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else () if value is None else value

    @field_validator("height", "weight", "previous_weight", "serum_creatinine")
    @classmethod
    def _plausible(cls, value: Q | None, info: Any) -> Q | None:
        if value is None:
            return value
        name = info.field_name
        low, high = LIMITS[name]
        canonical = creatinine_mg_dl(value) if name == "serum_creatinine" else value.to(low.units)
        if not low.magnitude <= canonical.magnitude <= high.magnitude:
            unit = format_unit(low.units)
            raise InputError(
                name,
                format_quantity(value),
                f"implausible: outside {low.magnitude:g}-{high.magnitude:g} {unit}",
            )
        return value

    @model_validator(mode="after")
    def _age_known(self) -> Patient:
        if self.birth_date is None and self.age is None:
            raise InputError("birth_date", "", "required field is missing (or give age)")
        return self

    def age_years(self, on: dt.date) -> int:
        """Completed years on ``on``; a stated ``age`` is used for de-identified files."""
        if self.birth_date is None:
            assert self.age is not None
            return self.age
        if self.birth_date > on:
            raise InputError("birth_date", self.birth_date.isoformat(), f"after the date {on.isoformat()}")
        years = on.year - self.birth_date.year - ((on.month, on.day) < (self.birth_date.month, self.birth_date.day))
        if self.age is not None and self.age != years:
            raise InputError("age", self.age, f"disagrees with birth_date ({years} on {on.isoformat()})")
        if years > 120:
            raise InputError("birth_date", self.birth_date.isoformat(), "implausible: age over 120")
        return years


def _flow(value: object) -> Q:
    from .quantities import parse_quantity
    from .units import ML_PER_MIN

    quantity = parse_quantity(value, "measured_gfr", "[length] ** 3 / [time]")
    if not 1 <= quantity.to(ML_PER_MIN).magnitude <= 250:
        raise InputError("measured_gfr", value, "implausible: outside 1-250 mL/min")
    return quantity


def _per_area(value: object) -> Q:
    from .quantities import parse_quantity

    return parse_quantity(value, "prior_cumulative", "[mass] / [length] ** 2")


def load_patient(path: Path) -> Patient:
    """Load and validate a patient file; every problem is an InputError naming the field."""
    return validate(Patient, read_yaml(path, "patient file"), str(path))
