"""The strict quantity grammar (issue 10): what it accepts round-trips; nonsense never becomes a dose.

The corpus is the hostile-input review's list: each of these silently produced a dose when
quantities were evaluated as pint expressions.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chemo_orders.errors import InputError
from chemo_orders.quantities import ATOMS, parse_quantity
from chemo_orders.units import Quantity, ureg

NONSENSE = [
    ("7,2 kg", "groups of three digits; write a decimal with a point"),
    ("7 5 kg", "one number only"),
    ("72.1.5 kg", "more than one decimal point"),
    ("kg", "missing number"),
    ("? kg", "missing number"),
    ("$ kg", "missing number"),
    ("∞ kg", "missing number"),
    ("−72 kg", "negative"),
    ("-72 kg", "negative"),
    ("~72 kg", "qualifier"),
    ("≈72 kg", "qualifier"),
    ("9**9**9 kg", "expressions are not evaluated"),
    ("2**1024 kg", "expressions are not evaluated"),
    ("1e25 kg", "out of range"),
    ("72 kg kg", "not a quantity"),
    ("72 KG", "unknown unit"),
    ("72", "missing unit"),
    ("", "missing number|not a quantity"),
    ("NaN kg", "missing number"),
    ("inf kg", "missing number"),
    ("72 kg" + " " * 100, "too long"),
    ("0x48 kg", "not a quantity"),
    ("72 kg/m", "wrong kind"),
]


@pytest.mark.parametrize(("text", "problem"), NONSENSE)
def test_nonsense_weight_is_refused_with_a_hint(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem) as caught:
        parse_quantity(text, "weight", "[mass]")
    assert caught.value.field == "weight"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (">1.2 mg/dL", "qualifier"),
        ("<0.5 mg/dL", "qualifier"),
        ("1.2 ± 0.1 mg/dL", "uncertainty"),
        ("1.2 +/- 0.1 mg/dL", "uncertainty"),
        ("1,2 mg/dL", "write a decimal with a point"),
    ],
)
def test_lab_qualifiers_and_uncertainties_are_refused(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_quantity(text, "serum_creatinine")


@pytest.mark.parametrize(
    ("text", "problem"),
    [("3 U", "'U' refused"), ("5 cc", "'cc' refused"), ("2 MG", "megagauss"), ("50 µg", "mcg"), ("1 gr", "grain")],
)
def test_error_prone_abbreviations_are_refused(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_quantity(text, "dose")


@pytest.mark.parametrize(
    ("text", "magnitude", "unit"),
    [
        ("72.5 kg", 72.5, "kilogram"),
        (" 72.5kg ", 72.5, "kilogram"),
        ("176 lb", 176, "pound"),
        ("68.9 in", 68.9, "inch"),
        (".5 mg", 0.5, "milligram"),
        ("1.8 x10^9/L", 1.8e9, "1/liter"),
        ("1.8 × 10⁹/L", 1.8e9, "1/liter"),
        ("1.8e9 /L", 1.8e9, "1/liter"),
        ("375 mg / m2", 375, "milligram/meter**2"),
        ("15 mcg/m²/day", 15, "microgram/meter**2/day"),
        ("0.9 mg/dl", 0.9, "milligram/deciliter"),
        ("80 umol/L", 80, "micromole/liter"),
        ("2500 units/m**2", 2500, "biological_unit/meter**2"),
    ],
)
def test_valid_spellings(text: str, magnitude: float, unit: str) -> None:
    parsed = parse_quantity(text, "value")
    assert parsed.magnitude == pytest.approx(magnitude, rel=1e-12)
    assert parsed.units == ureg.parse_units(unit)


def test_auc_target() -> None:
    assert parse_quantity("AUC 5", "dose").to("mg*min/mL").magnitude == 5
    assert parse_quantity("auc=5", "dose").to("mg*min/mL").magnitude == 5
    with pytest.raises(InputError):
        parse_quantity("AUC 5 * 2", "dose")


_NUMBERS = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)


@given(_NUMBERS, st.sampled_from(sorted(ATOMS)), st.sampled_from(["", " ", "  "]))
def test_every_accepted_spelling_round_trips(number: object, atom: str, space: str) -> None:
    """number + atom parses to exactly that number of the atom's unit, as pint reads our spelling."""
    text = f"{number}{space}{atom}"
    parsed = parse_quantity(text, "value")
    expected = Quantity(float(str(number)), ureg.parse_units(ATOMS[atom]))
    assert parsed.units == expected.units
    assert parsed.magnitude == pytest.approx(expected.magnitude, rel=1e-12)


_NUMBER_TEXT = __import__("re").compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)")


@settings(max_examples=3000)
@given(st.text(alphabet=st.sampled_from(list("0123456789.,eE+-−*/^ x×()kgmcLdlunitsIU²?~<>±∞ \t")), max_size=20))
def test_random_text_never_becomes_a_value_it_does_not_spell(text: str) -> None:
    """Whatever the text, either a refusal naming the field or a value whose digits are in the text."""
    try:
        parsed = parse_quantity(text, "weight")
    except InputError as error:
        assert error.field == "weight"
        return
    match = _NUMBER_TEXT.match(text)
    assert match is not None, text
    assert parsed.magnitude == pytest.approx(float(match.group(1)) * _power_of_ten(text), rel=1e-12)


def _power_of_ten(text: str) -> float:
    import re

    exponent = re.search(r"[eE]([-+]?\d+)", text)
    power = re.search(r"[xX×]\s*10\s*(?:\^\s*(\d+)|([⁰¹²³⁴⁵⁶⁷⁸⁹]+))", text)
    shift = int(power.group(1) or power.group(2).translate(str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789"))) if power else 0
    return 10.0 ** (int(exponent.group(1)) if exponent else 0) * 10.0**shift


@pytest.mark.parametrize(
    ("text", "magnitude"),
    [("1,110 mg/day", 1110), ("12,500 units", 12500), ("1,234,567.5 mg", 1234567.5), ("999 mg", 999)],
)
def test_thousands_separators_in_correct_groups_are_read_as_such(text: str, magnitude: float) -> None:
    """Design §11.5: the screen prints 1,060 mg/day, so a pharmacist may type it back."""
    assert parse_quantity(text, "dose").magnitude == magnitude


@pytest.mark.parametrize("text", ["7,2 kg", "1,11 mg", "1,1100 mg", "12,50 units", "1,110,1 mg", "1,11.5 mg"])
def test_commas_out_of_groups_are_refused_without_suggesting_a_number(text: str) -> None:
    """``1,11`` is 1.11 or a slip for 1,110: a hint naming either offers a thousand-fold error."""
    with pytest.raises(InputError) as caught:
        parse_quantity(text, "dose")
    problem = caught.value.problem
    assert "groups of three digits" in problem
    assert not any(c.isdigit() for c in problem)


@given(st.integers(min_value=1000, max_value=10**9))
def test_any_integer_written_with_separators_reads_back(value: int) -> None:
    assert parse_quantity(f"{value:,} mg", "dose").magnitude == value
