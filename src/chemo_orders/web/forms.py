"""The patient form: which field writes where in the patient file, and errors back to fields.

Quantities are typed with their units (``175 cm``, ``68.9 in``, ``88 umol/L``) and stored as
typed: the patient model parses them with the project's one strict grammar
(:mod:`chemo_orders.quantities`), so the screen refuses exactly what a patient file would.
A form edits some fields of a patient file; the others (history, prior cumulative doses,
anything entered elsewhere) are kept from the previous version untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..diagnosis import DIAGNOSES, DISEASE_STATUSES
from ..errors import InputError, excerpt
from ..text import decimal_number

Kind = Literal["text", "date", "select", "percent", "whole", "lines"]  # "whole": a select of numbers


@dataclass(frozen=True)
class Field:
    name: str  # the form input's name and id
    label: str  # its accessible name (design §10.6 fixes some)
    path: tuple[str, ...]  # where it goes in the patient file
    kind: Kind = "text"
    hint: str = ""
    choices: tuple[str, ...] = ()  # select options, or suggestions for a text field
    required: bool = False
    autocomplete: str = "off"


IDENTITY = (
    Field("mrn", "MRN", ("id",), hint="letters, digits, '-', '_' and '.'", required=True),
    Field("name", "Name", ("name",), hint="as on the wristband, e.g. Rivera, Ana", required=True),
    Field("birth_date", "Date of birth", ("birth_date",), "date", required=True),
    Field("sex", "Sex", ("sex",), "select", choices=("female", "male"), required=True),
)
MEASUREMENTS = (
    Field("height", "Height", ("height",), hint="with its unit: 175 cm or 68.9 in", required=True),
    Field("weight", "Weight", ("weight",), hint="with its unit: 68 kg or 150 lb", required=True),
    Field("serum_creatinine", "Serum creatinine", ("serum_creatinine",), hint="0.8 mg/dL or 71 umol/L"),
    Field("measured_on", "Measured on", ("measured_on",), "date"),
)
DISEASE = (
    Field("diagnosis", "Diagnosis", ("diagnosis",), hint="e.g. b-all, dlbcl", choices=DIAGNOSES, required=True),
    Field(
        "disease_status", "Disease status", ("disease_status",), hint="e.g. newly-diagnosed", choices=DISEASE_STATUSES
    ),
    Field("ecog", "ECOG performance status", ("ecog",), "whole", choices=("0", "1", "2", "3", "4")),
    Field("cd20", "CD20 (%)", ("markers", "cd20_percent"), "percent", hint="% of blasts"),
    Field("cd22", "CD22 (%)", ("markers", "cd22_percent"), "percent", hint="% of blasts"),
    Field(
        "philadelphia",
        "Philadelphia chromosome",
        ("markers", "philadelphia"),
        "select",
        choices=("positive", "negative"),
    ),
    Field("mrd", "MRD (%)", ("markers", "mrd_percent"), "percent"),
)
LABS = (
    Field("anc", "ANC", ("labs", "anc"), hint="1.8 x10^9/L"),
    Field("platelets", "Platelets", ("labs", "platelets"), hint="150 x10^9/L"),
    Field("wbc_at_diagnosis", "Initial WBC", ("labs", "wbc_at_diagnosis"), hint="at presentation: 62 x10^9/L"),
    Field("bilirubin", "Bilirubin", ("labs", "bilirubin"), hint="0.6 mg/dL"),
    Field("ast", "AST", ("labs", "ast"), hint="28 units/L"),
    Field("alt", "ALT", ("labs", "alt"), hint="30 units/L"),
    Field("lvef", "LVEF (%)", ("labs", "lvef_percent"), "percent"),
)
ALLERGIES = (
    Field(
        "allergies",
        "Allergies",
        ("allergies",),
        "lines",
        hint="one per line; a reaction in brackets: asparaginase (anaphylaxis)",
    ),
)
SECTIONS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("Identity", IDENTITY),
    ("Measurements", MEASUREMENTS),
    ("Disease", DISEASE),
    ("Laboratory values", LABS),
    ("Allergies", ALLERGIES),
)
FIELDS: tuple[Field, ...] = tuple(f for _, group in SECTIONS for f in group)
BY_NAME = {f.name: f for f in FIELDS}
# What the order screen lets a pharmacist correct before preparing (saved as a new version).
ORDER_MEASUREMENTS = tuple(BY_NAME[n] for n in ("height", "weight", "serum_creatinine"))
MRN_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


class FormError(InputError):
    """Bad input said of a form field: ``name`` is the input, ``label`` what the person sees."""

    def __init__(self, field: Field | None, problem: str) -> None:
        super().__init__(field.label if field else "form", "", problem)
        self.name = field.name if field else ""
        self.label = field.label if field else ""


def _get(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _allergy_line(value: object) -> str:
    if isinstance(value, Mapping):
        substance, reaction = value.get("substance", ""), value.get("reaction")
        return f"{substance} ({reaction})" if reaction else str(substance)
    return str(value)


def values(data: Mapping[str, Any] | None) -> dict[str, str]:
    """The form's text for each field, from a stored patient file."""
    if data is None:
        return {f.name: "" for f in FIELDS}
    found: dict[str, str] = {}
    for f in FIELDS:
        value = _get(data, f.path)
        if value is None:
            found[f.name] = ""
        elif f.kind == "lines":
            items = value if isinstance(value, list | tuple) else [value]
            found[f.name] = "\n".join(_allergy_line(item) for item in items)
        elif isinstance(value, float) and value.is_integer():
            found[f.name] = str(int(value))
        else:
            found[f.name] = str(value)
    return found


def _value(f: Field, text: str) -> Any:
    if f.kind == "percent":
        try:  # float() also read '٥', '1_0', 'nan' and 'inf'
            return decimal_number(text.removesuffix("%"), f.name)
        except InputError:
            raise FormError(f, "expected a number from 0 to 100 in digits 0-9, such as 40 or 2.5") from None
    if f.kind in ("select", "whole") and text not in f.choices:
        raise FormError(f, f"expected one of {', '.join(f.choices)}")
    if f.kind == "whole":
        return int(text)
    if f.name in ("diagnosis", "disease_status"):  # the vocabulary is lower case with hyphens
        return "-".join(text.lower().split())
    if f.kind == "lines":
        items: list[Any] = []
        for line in (raw.strip() for raw in text.splitlines()):
            if not line:
                continue
            if line.endswith(")") and "(" in line:
                substance, _, reaction = line[:-1].partition("(")
                items.append({"substance": substance.strip(), "reaction": reaction.strip()})
            else:
                items.append(line)
        return items
    return text


def patient_data(
    form: Mapping[str, str], previous: Mapping[str, Any] | None, fields: tuple[Field, ...] = FIELDS
) -> dict[str, Any]:
    """The patient file for a submitted form: ``previous`` with the form's fields replaced
    (an emptied field is removed). Only the form's own parsing happens here; the patient
    model validates the result."""
    data: dict[str, Any] = _copy(previous or {})
    for f in fields:
        text = form.get(f.name, "").strip()
        if f.name == "mrn" and text and not set(text) <= MRN_CHARACTERS:
            raise FormError(f, "use letters, digits, '-', '_' and '.' only")
        parent = data
        for key in f.path[:-1]:
            child = parent.get(key)
            parent[key] = child = dict(child) if isinstance(child, Mapping) else {}
            parent = child
        if text:
            parent[f.path[-1]] = _value(f, text)
        else:
            parent.pop(f.path[-1], None)
    for group in ("markers", "labs"):
        if data.get(group) == {}:
            del data[group]
    return data


def _copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def field_for(error: InputError, fields: tuple[Field, ...] = FIELDS) -> Field | None:
    """The form field an error of the patient model is about (the longest matching path)."""
    if isinstance(error, FormError):
        return BY_NAME.get(error.name)
    path = error.field.split(".")
    if path and path[0] in ("birth_date", "age"):
        return BY_NAME["birth_date"] if any(f.name == "birth_date" for f in fields) else None
    best: Field | None = None
    for f in fields:
        if tuple(path[: len(f.path)]) == f.path and (best is None or len(f.path) > len(best.path)):
            best = f
    return best


def message(error: InputError, f: Field | None) -> str:
    """One sentence naming the field as the person sees it, and the value they typed."""
    if isinstance(error, FormError):
        return f"{error.label or 'Form'}: {error.problem}"
    got = f" (got '{excerpt(error.value)}')" if error.value not in ("", None) else ""
    name = f.label if f is not None else error.field
    return f"{name}: {error.problem}{got}"


def problems(data: dict[str, Any]) -> list[InputError]:
    """Every problem of a patient file at once (the form marks each field), not just the first."""
    from pydantic import ValidationError

    from ..models import translate_all
    from ..patient import Patient

    try:
        Patient.model_validate(data)
    except ValidationError as exc:
        return translate_all(exc, "patient")
    except InputError as error:
        return [error]
    return []
