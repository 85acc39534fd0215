"""The one strict grammar for every quantity a person writes: a number, then a known unit.

Why not let pint read the text: pint evaluates an *expression*, so text that is not a number
still becomes one — ``7,2 kg`` was 72 kg, ``7 5 kg`` 35 kg, ``kg`` alone 1 kg, ``1.2 ± 0.1
mg/dL`` 0.12 mg/dL and ``9**9**9 cm`` held a core for ten minutes. Here nothing is evaluated:

    quantity  := number [multiplier] unit  |  "AUC" ["="] number [auc-unit]
    number    := (digits | 1-3 digits ("," 3 digits)+) ["." digits] [("e"|"E") [sign] 1-2 digits]
                 (no sign; a comma only between groups of three: 1,110 and 12,500, never 7,2 or 1,11)
    multiplier:= ("x"|"X"|"×") "10" ("^" digits | superscript digits)  (counts: 1.8 x10^9/L, 1.8 ×10⁹/L)
    unit      := atom ("/" atom)*        (atoms: ATOMS below; no products, no parentheses)

The unit is built by multiplying pre-parsed pint units of the listed atoms (our own trusted
spellings), so the text a person wrote never reaches pint's parser. Whether the unit is of
the right kind for the field (a mass for a weight) is checked by dimension afterwards. Every
refusal names the field and the value and, for the common slips, says what to write, but
never suggests a number: ``1,11`` could be 1.11 or a mistyped 1,110, and a hint that picks
one of them (the old "use a decimal point: 1.110" for ``1,110``) offers a thousand-fold
error. Design §11.5: thousands separators in correct groups are read as such.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from .errors import InputError
from .units import AUC_UNIT, Q, Quantity, dimension, quantity, ureg

# Spellings a person may use for each unit, and the pint unit each means. Deliberately absent
# (ISMP error-prone or pint-ambiguous): U and u ("0" or "4"), cc, µg (written mcg), MG
# (megagauss to pint), gr (grain), and anything not listed.
ATOMS: dict[str, str] = {
    # mass
    "kg": "kilogram",
    "g": "gram",
    "mg": "milligram",
    "mcg": "microgram",
    "lb": "pound",
    "lbs": "pound",
    # length and area
    "cm": "centimeter",
    "m": "meter",
    "mm": "millimeter",
    "in": "inch",
    "m**2": "meter**2",
    "m^2": "meter**2",
    "m2": "meter**2",
    "m²": "meter**2",
    # volume
    "L": "liter",
    "l": "liter",
    "dL": "deciliter",
    "dl": "deciliter",
    "mL": "milliliter",
    "ml": "milliliter",
    "uL": "microliter",
    "µL": "microliter",
    "mm3": "millimeter**3",
    "mm**3": "millimeter**3",
    "mm³": "millimeter**3",
    # amount of substance (creatinine, bilirubin, methotrexate levels)
    "umol": "micromole",
    "µmol": "micromole",
    "micromol": "micromole",
    "mmol": "millimole",
    # biological activity: never micro-nit (units.txt)
    "units": "biological_unit",
    "unit": "biological_unit",
    "IU": "biological_unit",
    # time
    "min": "minute",
    "h": "hour",
    "hr": "hour",
    "hour": "hour",
    "hours": "hour",
    "d": "day",
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
}
_REFUSED: dict[str, str] = {
    "U": "write 'units' (ISMP: 'U' is read as 0 or 4)",
    "u": "write 'units' (ISMP: 'u' is read as 0 or 4)",
    "MG": "write 'mg' ('MG' is megagauss)",
    "gr": "write 'g' or 'mg' ('gr' is grain)",
    "cc": "write 'mL' (ISMP: 'cc' is read as 'u')",
    "µg": "write 'mcg' (ISMP: 'µg' is read as 'mg')",
    "μg": "write 'mcg' (ISMP: 'µg' is read as 'mg')",
    "ug": "write 'mcg' (ISMP: 'µg' is read as 'mg')",
}

MAX_LENGTH = 64  # longer text is not a quantity; refusing it first bounds all the work below
MAX_EXPONENT = 15
_NUMBER = r"(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE](?P<exponent>[-+]?\d{1,2}))?"
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
# The caret (or superscript) is required: without it ``7 x 101 kg`` read as 7 x 10^1 = 70 kg and
# ``6 x 100 mg`` as 6 x 10^0 = 6 mg (issue 19). Any other "x digits" is refused (_TIMES).
_MULTIPLIER = r"(?:\s*[xX×]\s*10\s*(?:\^\s*(?P<power>\d{1,2})|(?P<superscript>[⁰¹²³⁴⁵⁶⁷⁸⁹]{1,2})))?"
_TIMES = re.compile(r"^[xX×*]\s*10")
# re.ASCII: \d must mean 0-9 only ("١٢٣ kg" is Arabic-Indic digits, which float() would read).
_QUANTITY = re.compile(rf"^\s*{_NUMBER}{_MULTIPLIER}\s*(?P<unit>\S(?:.*\S)?)?\s*$", re.ASCII)
_AUC = re.compile(rf"^\s*AUC\s*=?\s*{_NUMBER}\s*(?:mg\s*/\s*mL\s*[*·.×]?\s*min)?\s*$", re.IGNORECASE | re.ASCII)
_UNIT_SPACES = re.compile(r"\s*([/*])\s*")

# Common slips, checked in order when the grammar refuses a text: the hint says what to write.
_SLIPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\s*[-−–—]"), "negative values are not accepted"),
    (re.compile(r"^\s*[~≈<>≤≥]"), "a qualifier (~, <, >) is not a value: give the measured number"),
    (re.compile(r"±|\+/-|\+-"), "give one value, without an uncertainty"),
    (re.compile(r"\d,\d"), "a comma only separates thousands, in groups of three digits; write a decimal with a point"),
    (re.compile(r"\d\.\d*\."), "more than one decimal point"),
    (re.compile(r"\d\s+\.?\d"), "one number only"),
    (re.compile(r"\d\s*(?:\*\*|\^|[*/+])\s*\(?\d"), "expressions are not evaluated: give the number itself"),
    (re.compile(r"^\s*[^\d.\s]"), "missing number: expected a number then a unit"),
)


def parse_quantity(value: object, field: str, expected: str | None = None) -> Q:
    """``value`` as a quantity by the strict grammar, optionally of one dimensionality.

    ``expected`` is a pint dimensionality string such as ``"[mass]"``. A bare number is an
    error: a weight of "80" could be kilograms or pounds, and guessing is how overdoses happen.
    """
    if isinstance(value, bool) or value is None:
        raise InputError(field, value, "expected a number with a unit")
    if isinstance(value, int | float):
        raise InputError(field, value, f"missing unit{_example(expected)}")
    if not isinstance(value, str):
        raise InputError(field, value, "expected a number with a unit, as text")
    if len(value) > MAX_LENGTH:
        raise InputError(field, value, "too long to be a quantity")
    parsed = _auc(value) or _number_and_unit(value, field, expected)
    if expected is not None and dimension(parsed) != _dimensionality(expected):
        raise InputError(field, value, f"wrong kind of unit: expected {_KIND.get(expected, expected)}")
    return parsed


def _auc(text: str) -> Q | None:
    """A carboplatin target, ``AUC 5``: 5 mg·min/mL (pint has no AUC)."""
    match = _AUC.match(text)
    if match is None:
        return None
    return Quantity(_magnitude(match, 0, text), AUC_UNIT)


def _number_and_unit(text: str, field: str, expected: str | None) -> Q:
    match = _QUANTITY.match(text)
    if match is None:
        raise InputError(field, text, _slip(text))
    unit_text = match.group("unit")
    if unit_text is None:
        raise InputError(field, text, f"missing unit{_example(expected)}")
    if _TIMES.match(unit_text):
        raise InputError(field, text, "a multiplier is written x10^N, such as '1.8 x10^9/L'; or give the number itself")
    power = match.group("power") or match.group("superscript")
    shift = int(power.translate(_SUPERSCRIPT)) if power else 0
    return quantity(_magnitude(match, shift, text, field), unit_of(unit_text, field, text))


def _magnitude(match: re.Match[str], shift: int, text: str, field: str = "dose") -> float:
    exponent = int(match.group("exponent") or 0) + shift
    if abs(exponent) > MAX_EXPONENT:
        raise InputError(field, text, "number out of range")
    return float(match.group("number").replace(",", "")) * 10.0**exponent


def unit_of(unit_text: str, field: str, value: str) -> Any:
    """The pint unit a unit text names, atom by atom; refused atoms say what to write."""
    normal = _UNIT_SPACES.sub(r"\1", unit_text.strip())
    try:
        return _unit(normal)
    except KeyError as missing:
        atom = str(missing.args[0])
        if atom in _REFUSED:
            raise InputError(field, value, f"unit '{atom}' refused: {_REFUSED[atom]}") from None
        if "," in value or " " in normal:
            raise InputError(field, value, _slip(value)) from None
        raise InputError(field, value, f"unknown unit '{atom}'") from None


@cache
def _unit(normal: str) -> Any:
    """``mg/m**2/day`` → milligram / meter**2 / day, from the atom table only (cached per text)."""
    parts = normal.split("/")
    numerator, denominators = parts[0], parts[1:]
    unit = ureg.dimensionless if numerator in ("", "1") else _atom(numerator)
    if numerator == "" and not denominators:
        raise KeyError(normal)
    for part in denominators:
        unit = unit / _atom(part)
    return unit


def _atom(text: str) -> Any:
    if text not in ATOMS:
        raise KeyError(text)
    return ureg.parse_units(ATOMS[text])


def _slip(text: str) -> str:
    for pattern, hint in _SLIPS:
        if pattern.search(text):
            return hint
    return "not a quantity: expected a number then a unit, such as '72.5 kg'"


@cache
def _dimensionality(expected: str) -> Any:
    return ureg.get_dimensionality(expected)


_KIND = {
    "[mass]": "a mass such as '80 kg' or '176 lb'",
    "[length]": "a length such as '175 cm' or '68.9 in'",
    "[time]": "a duration such as '24 h' or '14 d'",
    "[length] ** 2": "an area such as '2 m**2'",
    "[mass] / [length] ** 3": "a concentration such as '0.9 mg/dL'",
    "1 / [length] ** 3": "a count such as '1.5 x10^9/L'",
    "[length] ** 3 / [time]": "a flow such as '90 mL/min'",
    "[mass] / [length] ** 2": "a dose per area such as '150 mg/m**2'",
}


def _example(expected: str | None) -> str:
    return f": expected {_KIND[expected]}" if expected in _KIND else ""
