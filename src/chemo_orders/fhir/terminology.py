"""The codes of the FHIR export and import, read from ``terminology.yaml`` beside their sources.

Why a data file: a LOINC, SNOMED CT or UCUM code in an order is as safety-relevant as a dose
(a wrong LOINC files a weight as a height), so each one lives beside the source it was
verified in, and tests check the codes, not only the structure ``fhir.resources`` validates.
Units are translated through explicit tables in both directions: UCUM text is never passed
to the dose engine unchecked, and a unit without an entry is refused, not guessed.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..loader import read_package_yaml
from ..models import Frozen, check_cited, validate
from ..quantities import parse_quantity
from ..units import Q

# Where this installation's own definitions live (PlanDefinitions, the local code systems and
# the disease-status extension). example.org is reserved for documentation: a site sets its own.
CANONICAL_BASE = "http://chemo-orders.example.org/fhir"
DIAGNOSIS_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/diagnosis"
RULE_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/rule"
REGIMEN_SYSTEM = f"{CANONICAL_BASE}/regimen"
REGIMEN_HASH_SYSTEM = f"{CANONICAL_BASE}/regimen-sha256"
MARKER_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/marker"
DISEASE_STATUS_URL = f"{CANONICAL_BASE}/StructureDefinition/disease-status"
OBSERVATION_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/observation"
CUMULATIVE_DOSE_URL = f"{CANONICAL_BASE}/StructureDefinition/cumulative-dose"
ORDER_SYSTEM = f"{CANONICAL_BASE}/order"
INPUT_HASH_SYSTEM = f"{CANONICAL_BASE}/input-sha256"
ENGINE_SYSTEM = f"{CANONICAL_BASE}/engine"


class Concept(Frozen):
    system: str
    code: str
    display: str | None = None


class Extension(Frozen):
    url: str
    source: tuple[str, ...]


class Loinc(Frozen):
    code: str
    display: str
    kind: str
    category: str
    source: tuple[str, ...]


class Term(Frozen):
    code: str
    display: str
    source: tuple[str, ...] = ()


class Marker(Frozen):
    code: str
    display: str


class Alias(Frozen):
    field: str
    source: tuple[str, ...]


class Pregnancy(Frozen):
    code: str
    display: str
    pregnant: str
    not_pregnant: str
    source: tuple[str, ...]


class LocalObservation(Frozen):
    code: str
    display: str
    kind: str


class InternationalUnits(Frozen):
    drugs: tuple[str, ...]
    source: tuple[str, ...]
    units: dict[str, str]


class Auc(Frozen):
    system: str
    code: str
    display: str
    source: tuple[str, ...]


class Terminology(Frozen):
    sources: dict[str, str]
    systems: dict[str, str]
    hl7: dict[str, Concept]
    extensions: dict[str, Extension]
    loinc: dict[str, Loinc]
    loinc_aliases: dict[str, Alias]
    pregnancy: Pregnancy
    local_observations: dict[str, LocalObservation]
    markers: dict[str, Marker]
    units: dict[str, dict[str, str]]
    doses: dict[str, str]
    international_units: InternationalUnits
    time_units: dict[str, str]
    auc: Auc
    normalization_basis: dict[str, Term]
    normalization_basis_source: tuple[str, ...]
    routes: dict[str, Term]

    def coding(self, name: str) -> dict[str, Any]:
        """An HL7 code-system concept (``hl7`` section) as a FHIR Coding."""
        concept = self.hl7[name]
        return _coding(concept.system, concept.code, concept.display)

    def field_for_loinc(self, code: str) -> str | None:
        """The patient-file field a LOINC code carries, or None for codes we do not read."""
        found = next((field for field, entry in self.loinc.items() if entry.code == code), None)
        alias = self.loinc_aliases.get(code)
        return found if found is not None or alias is None else alias.field

    def route_concept(self, route: str) -> dict[str, Any]:
        term = self.routes[route]
        return {"coding": [_coding(self.systems["snomed"], term.code, term.display)]}

    def basis_concept(self, basis: str) -> dict[str, Any] | None:
        """mCODE's normalization basis; None for AUC, which its value set (required) lacks."""
        term = self.normalization_basis.get(basis)
        return None if term is None else {"coding": [_coding(self.systems["snomed"], term.code, term.display)]}

    def dose_ucum(self, unit: str, drug: str) -> str:
        """The UCUM code of a calc-JSON dose unit; ``units`` only for drugs dosed in IU."""
        if unit in self.doses:
            return self.doses[unit]
        if unit in self.international_units.units and drug in self.international_units.drugs:
            return self.international_units.units[unit]
        raise InputError("dose unit", f"{drug}: {unit}", "no verified UCUM code for this unit and drug")

    def time_ucum(self, unit_name: str) -> str:
        if unit_name not in self.time_units:
            raise InputError("duration", unit_name, "no UCUM unit of time for this unit")
        return self.time_units[unit_name]

    def quantity(self, value: Q, kind: str) -> dict[str, Any]:
        """A patient measurement as a FHIR Quantity: in its own unit when the table has it,
        else converted to the table's first unit (so 70 in stays 70 [in_i])."""
        table = self.units[kind]
        for code, ours in table.items():
            reference = _reference(ours)
            if reference._units == value._units:
                return self._ucum_quantity(value / reference, code, ours)
        code, ours = next(iter(table.items()))
        return self._ucum_quantity(value / _reference(ours), code, ours)

    def _ucum_quantity(self, ratio: Q, code: str, ours: str) -> dict[str, Any]:
        number = float(f"{float(ratio.to('dimensionless').magnitude):.12g}")
        value: int | float = int(number) if number.is_integer() else number
        return {"value": value, "unit": ours.replace("**2", "²"), "system": self.systems["ucum"], "code": code}

    def patient_value(self, value: object, ucum_code: object, kind: str, element: str) -> str:
        """A FHIR valueQuantity (number and UCUM code) as the patient file writes it."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{element}.value", value, "expected a number")
        table = self.units[kind]
        if not isinstance(ucum_code, str) or ucum_code not in table:
            raise InputError(f"{element}.code", ucum_code, f"expected a UCUM code: {', '.join(table)}")
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return f"{number:f} {table[ucum_code]}"  # exact: no rounding, no exponent


def _coding(system: str, code: str, display: str | None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    return coding


@cache
def _reference(ours: str) -> Q:
    return parse_quantity(f"1 {ours}", "unit table")


@cache
def terminology() -> Terminology:
    path = Path(__file__).with_name("terminology.yaml")
    table = validate(Terminology, read_package_yaml(path, "FHIR terminology"), str(path))
    cited = [
        *((f"extensions.{k}", e.source) for k, e in table.extensions.items()),
        *((f"loinc.{k}", e.source) for k, e in table.loinc.items()),
        *((f"routes.{k}", e.source) for k, e in table.routes.items()),
        ("international_units", table.international_units.source),
        ("auc", table.auc.source),
        *((f"loinc_aliases.{k}", a.source) for k, a in table.loinc_aliases.items()),
        ("pregnancy", table.pregnancy.source),
        ("normalization_basis", table.normalization_basis_source),
    ]
    check_cited(table.sources, cited, str(path))
    return table
