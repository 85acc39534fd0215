"""The patient file (design §4 and §10.1, a contract): one frozen, validated model.

Plausibility limits catch unit slips before they become doses: a height of 175 entered as
metres, a weight in grams, a creatinine in µmol/L labelled mg/dL. Per field they are wide on
purpose (newborn to the heaviest adults); the whole record is then checked for combinations
that cannot be one person (:mod:`chemo_orders.plausibility`). Drugs a person names — prior
doses, allergies, past events — are canonicalised through ``drugs.yaml``: "Adriamycin" and
"DOXOrubicin" are doxorubicin, and an unknown drug name is refused rather than ignored.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias, cast

from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, field_validator, model_validator

from .diagnosis import DiseaseStatus, parse_diagnosis
from .errors import InputError
from .loader import read_yaml
from .models import Frozen, Length, Mass, parser_for, validate
from .text import clean_identifier, clean_text
from .units import CM, KG, MG_PER_DL, UMOL_PER_L, Q, QuantityClass, convert, format_quantity, format_unit, ureg

# Creatinine C4H7N3O, molar mass 113.12 g/mol: 1 mg/dL = 10000/113.12 = 88.40 µmol/L.
# (Calculators use 88.4 or 88.42; the differences are below 0.03 %, standards.md §1.5.)
CREATININE_MOLAR_MASS = 113.12 * ureg.gram / ureg.mole

LIMITS = {
    "height": (30 * CM, 250 * CM),
    "weight": (0.5 * KG, 350 * KG),
    "previous_weight": (0.5 * KG, 350 * KG),
    "serum_creatinine": (0.1 * MG_PER_DL, 20 * MG_PER_DL),
}


# How much one patient file may list (docs/web.md, "Limits"): every entry costs a vocabulary
# lookup in each calculation, and a request of 5,000 allergies held a workbench worker for
# seconds (issue 19). Each is far above a real patient; beyond it the file is refused naming
# the field, before any entry is read. Free text is bounded where it is read (clean_text).
MAX_ENTRIES = {
    "allergies": 100,
    "history": 100,
    "medications": 100,
    "prior_cumulative": 50,
    "prior_courses": 500,
    "markers": 100,
    "labs": 100,
    "source_notes": 100,  # FHIR import: results not read
    "source_references": 2000,  # FHIR import: the resources read
}
MAX_EXTRA_TEXT = 200  # a marker or laboratory value the model does not know, given as text


def _at_most(value: object, field: str) -> object:
    """``value`` unchanged if it lists at most ``MAX_ENTRIES[field]`` entries."""
    limit = MAX_ENTRIES[field]
    if isinstance(value, list | tuple | dict) and len(value) > limit:
        raise InputError(field, f"{len(value)} entries", f"too many entries (at most {limit})")
    return value


def creatinine_mg_dl(value: Q) -> Q:
    """Serum creatinine in mg/dL whether it was given as a mass or a molar concentration."""
    if value.dimensionality == UMOL_PER_L.dimensionality:
        return cast(Q, (value * CREATININE_MOLAR_MASS).to(MG_PER_DL))
    return convert(value, MG_PER_DL)


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


def _strict_date(value: object) -> object:
    """ISO text or a date; never a number (YAML ``0`` must not become 1970-01-01)."""
    if isinstance(value, dt.datetime) or not isinstance(value, str | dt.date):
        raise InputError("date", value, "expected a date as YYYY-MM-DD")
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise InputError("date", value, "not a calendar date (YYYY-MM-DD)") from None
    return value


def _strict_int(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError("value", value, "expected a whole number")
    return value


StrictDate = Annotated[dt.date, BeforeValidator(_strict_date)]
WholeNumber = Annotated[int, BeforeValidator(_strict_int)]


class Open(Frozen):
    """Known fields validated; other keys kept as given. The vocabulary of markers and labs is
    open-ended (CD19, LDH …), and a misspelt known key fails safe: the rule that needs it
    reports it as not given (MRK001 blocks without CD20, LAB001 warns)."""

    model_config = ConfigDict(frozen=True, extra="allow", arbitrary_types_allowed=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        """At most ``MAX_ENTRIES`` keys, and the text of a key the model does not know bounded."""
        field = cls.__name__.lower()
        _at_most(value, field)
        if isinstance(value, dict):
            for key, item in value.items():
                if len(str(key)) > MAX_EXTRA_TEXT:
                    raise InputError(field, str(key), f"name too long (at most {MAX_EXTRA_TEXT} characters)")
                if isinstance(item, str) and len(item) > MAX_EXTRA_TEXT and key not in cls.model_fields:
                    raise InputError(f"{field}.{key}", item, f"too long (at most {MAX_EXTRA_TEXT} characters)")
        return value


def _phenotype(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


# CPIC's metabolizer phenotypes for TPMT and NUDT15, as the patient file writes them (design §11.1).
Phenotype = Annotated[Literal["normal", "intermediate", "poor"], BeforeValidator(_phenotype)]


class Markers(Open):
    """Immunophenotype and genetics that decide which regimens are allowed."""

    cd20_percent: Percent | None = None
    cd22_percent: Percent | None = None
    philadelphia: Literal["positive", "negative"] | None = None
    mrd_percent: Percent | None = None
    cd19_percent: Percent | None = None  # blinatumomab and CD19-directed CAR-T (MRK006)
    tpmt: Phenotype | None = None  # CPIC thiopurine phenotypes (PGX001)
    nudt15: Phenotype | None = None


class Labs(Open):
    """Laboratory values checked against a regimen's criteria to treat."""

    anc: Count | None = None
    platelets: Count | None = None
    wbc: Count | None = None
    wbc_at_diagnosis: Count | None = None  # NCI risk group for children (RSK001)
    hemoglobin: Concentration | None = None
    bilirubin: Creatinine | None = None  # same dimensions accepted: mg/dL or umol/L
    ast: Activity | None = None
    alt: Activity | None = None
    lvef_percent: Percent | None = None
    # Upper limits of normal of the reporting laboratory, for bands stated as multiples of ULN.
    bilirubin_uln: Creatinine | None = None
    ast_uln: Activity | None = None
    alt_uln: Activity | None = None
    hbsag: Annotated[Literal["positive", "negative"], BeforeValidator(_phenotype)] | None = None  # HBV001

    @field_validator("bilirubin", "bilirubin_uln")
    @classmethod
    def _bilirubin_mass(cls, value: Q) -> Q:
        if value.dimensionality != MG_PER_DL.dimensionality:
            raise InputError("bilirubin", str(value), "expected mg/dL")
        return value


def _substance(value: object, field: str) -> str | None:
    """The canonical drug or group a history entry names (``drug: pegaspargase``)."""
    from .drugs import drug_table

    return None if value is None else drug_table().canonical_substance(clean_text(value, field, 200), field)


class Allergy(Frozen):
    """A documented allergy: the text as written, and every drug or class it names.

    Free text is read for any drug, brand, abbreviation or class in any position ("Rituxan
    anaphylaxis", "rituximab (anaphylaxis)", "VP16"), or a non-drug allergen (latex). Text
    that names none of them is refused: an allergy that silently fails to match is the one
    that reaches the patient. A ``drug`` key can only add a match, never replace or remove one.
    """

    substance: str
    reaction: Annotated[str, BeforeValidator(lambda v: clean_text(v, "reaction", 200))] | None = None
    drugs: tuple[str, ...] = ()  # canonical drugs or groups the entry names
    allergen: str | None = None  # a non-drug allergen (allergens.yaml)

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, value: Any) -> Any:
        from .conditions import allergen_table
        from .drugs import drug_table

        if isinstance(value, str):
            value = {"substance": value}
        if not isinstance(value, dict) or "substance" not in value:
            return value
        known = {"substance", "reaction", "drug"}
        extra = sorted(str(k) for k in value if k not in known)
        if extra:
            raise InputError(extra[0], value[extra[0]], "unknown field")
        text = clean_text(value["substance"], "substance", 200)
        drugs = list(drug_table().substances_in(text))
        stated = _substance(value.get("drug"), "drug")
        if stated is not None and stated not in drugs:
            drugs.append(stated)
        allergen = allergen_table().find(text)
        if not drugs and allergen is None:
            raise InputError(
                "substance",
                text,
                "names no known drug, brand, class or allergen (drugs.yaml, allergens.yaml): write the drug's name",
            )
        resolved = {"substance": text, "drugs": tuple(drugs), "allergen": allergen}
        if "reaction" in value:
            resolved["reaction"] = value["reaction"]
        return resolved

    @property
    def drug(self) -> str | None:
        """The first drug or group named (FHIR coding); rules use :attr:`drugs`."""
        return self.drugs[0] if self.drugs else None

    def describe(self) -> str:
        return f"{self.substance} ({self.reaction})" if self.reaction else self.substance


def _condition(value: object) -> str:
    """A past condition as its canonical term (``conditions.yaml``): ``acute pancreatitis`` is
    pancreatitis, ``VOD`` is sinusoidal obstruction syndrome; an unknown term is refused."""
    from .conditions import condition_table

    return condition_table().canonical(clean_text(value, "history.condition", 100), "history.condition")


def _medications(value: object) -> object:
    """Current co-medications as canonical drug names (``drugs.yaml``); an unknown one is refused."""
    from .drugs import drug_table

    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise InputError("medications", value, "expected a list of drug names")
    _at_most(items, "medications")
    table = drug_table()
    names = [table.canonical(clean_text(item, "medications", 200), "medications") for item in items]
    return tuple(dict.fromkeys(names))


class HistoryEvent(Frozen):
    """A past event that may contraindicate a drug: ``{condition: pancreatitis, drug: pegaspargase}``."""

    condition: Annotated[str, BeforeValidator(_condition)]
    drug: str | None = None  # canonical drug or group the event occurred with
    date: StrictDate | None = None
    note: Annotated[str, BeforeValidator(lambda v: clean_text(v, "history.note", 500))] | None = None

    @field_validator("drug", mode="before")
    @classmethod
    def _drug(cls, value: Any) -> Any:
        return _substance(value, "history.drug")


def _prior_doses(value: object) -> object:
    """``{DOXOrubicin: 540 mg/m2}`` → ``{"doxorubicin": 540 mg/m²}``: names canonical, doses per m² and ≥ 0."""
    from .drugs import drug_table
    from .quantities import parse_quantity

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError("prior_cumulative", value, "expected a mapping of drug: dose per m²")
    _at_most(value, "prior_cumulative")
    doses: dict[str, Q] = {}
    for name, dose in value.items():
        field = f"prior_cumulative.{name}"
        drug = drug_table().canonical(name, field)
        if drug in doses:
            raise InputError(field, name, f"{drug} is given twice")
        doses[drug] = parse_quantity(dose, field, "[mass] / [length] ** 2")
    return doses


class PriorCourse(Frozen):
    """A course already given or ordered (the order record adds its own; a file may list courses
    given elsewhere): what CYC001 (cycle timing) and SEQ001 (prerequisites) check against."""

    regimen: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")]
    cycle: Annotated[WholeNumber, Field(ge=1, le=1000)]
    date: StrictDate
    order_id: int | None = None  # the record's order number, when it comes from the record


class Patient(Frozen):
    """One patient's identity, measurements, diagnosis and history."""

    id: Annotated[str, BeforeValidator(lambda v: clean_identifier(v, "id", 64))]
    # The system (namespace URI) that issued ``id``, as FHIR ``Identifier.system``: without it an
    # EHR cannot match the record and may create a duplicate patient.
    mrn_system: Annotated[str, BeforeValidator(lambda v: clean_text(v, "mrn_system", 500))] | None = None
    name: Annotated[str, BeforeValidator(lambda v: clean_text(v, "name", 1000))]
    birth_date: StrictDate | None = None
    age: Annotated[WholeNumber, Field(ge=0, le=120)] | None = None
    sex: Literal["female", "male"]
    height: Length
    weight: Mass
    serum_creatinine: Creatinine | None = None
    measured_gfr: Annotated[Q, BeforeValidator(lambda v: _flow(v))] | None = None
    measured_on: StrictDate | None = None
    diagnosis: Annotated[str, BeforeValidator(parse_diagnosis)]
    disease_status: DiseaseStatus | None = None
    markers: Markers = Markers()
    labs: Labs = Labs()
    allergies: tuple[Allergy, ...] = ()
    history: tuple[HistoryEvent, ...] = ()
    ecog: Annotated[WholeNumber, Field(ge=0, le=4)] | None = None
    pregnant: StrictBool | None = None  # absent: not recorded (PRG001)
    medications: Annotated[tuple[str, ...], BeforeValidator(_medications)] = ()  # co-medications (DDI001)
    measurements_confirmed: bool = False  # extreme BMI re-measured and confirmed (plausibility)
    previous_weight: Mass | None = None
    prior_cumulative: Annotated[dict[str, Q], BeforeValidator(_prior_doses), Field(default_factory=dict)]
    prior_courses: tuple[PriorCourse, ...] = ()
    # Read from a FHIR Bundle (fhir/importer.py): the newest observation date it held, checked
    # against the order date like measured_on; and what it held but could not read, printed
    # with the calculation so that nothing is dropped unseen.
    observed_until: StrictDate | None = None
    source_notes: tuple[Annotated[str, BeforeValidator(lambda v: clean_text(v, "source_notes", 500))], ...] = ()
    # The source record's own references to what was read (``Observation/123``), for the export's
    # Provenance: an order traced back to the results it was calculated from.
    source_references: tuple[
        Annotated[str, BeforeValidator(lambda v: clean_text(v, "source_references", 500))], ...
    ] = ()

    @field_validator("sex", mode="before")
    @classmethod
    def _sex(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        return {"f": "female", "m": "male"}.get(text, text)

    @field_validator("allergies", "history", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any, info: Any) -> Any:
        return (value,) if isinstance(value, str | dict) else () if value is None else _at_most(value, info.field_name)

    @field_validator("prior_courses", "source_notes", "source_references", mode="before")
    @classmethod
    def _few_courses(cls, value: Any, info: Any) -> Any:
        return _at_most(value, info.field_name)

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
        if self.birth_date is not None:
            for field, date in self._dates():
                if date < self.birth_date:
                    raise InputError(field, date.isoformat(), f"before birth_date {self.birth_date.isoformat()}")
        return self

    def _dates(self) -> list[tuple[str, dt.date]]:
        """Every date in the file after the birth date, with the field it is in."""
        dated = (
            [("measured_on", self.measured_on), ("observed_until", self.observed_until)]
            + [(f"history.{i}.date", event.date) for i, event in enumerate(self.history)]
            # Courses from the order record may be dated after this order (prepared ahead): only
            # courses the file lists are dates the person wrote.
            + [
                (f"prior_courses.{i}.date", course.date)
                for i, course in enumerate(self.prior_courses)
                if course.order_id is None
            ]
        )
        return [(field, date) for field, date in dated if date is not None]

    def check_dates(self, on: dt.date) -> None:
        """Measurements and events cannot postdate the order date they are used on."""
        for field, date in self._dates():
            if date > on:
                raise InputError(field, date.isoformat(), f"after the order date {on.isoformat()}")

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


def load_patient(path: Path) -> Patient:
    """Load and validate a YAML patient file; every problem is an InputError naming the field.
    (Every other source of a patient — ``.json``, FHIR, stored bytes — is read by
    :mod:`chemo_orders.sources`.)"""
    return validate(Patient, read_yaml(path, "patient file"), str(path))
