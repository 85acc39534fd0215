from __future__ import annotations

import operator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pint import DimensionalityError

from chemo_orders.errors import InputError
from chemo_orders.quantities import parse_quantity
from chemo_orders.units import (
    AUC_UNIT,
    DIM_ACTIVITY,
    M2,
    MG,
    ML_PER_MIN,
    Quantity,
    compare,
    convert,
    divided,
    format_number,
    format_quantity,
    json_quantity,
    plus,
    quantity,
    times,
    ureg,
)


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("375 mg/m**2", 375, "mg/m**2"),
        ("375 mg/m²", 375, "mg/m**2"),
        ("375 mg/m^2", 375, "mg/m**2"),
        ("375 mg/m2", 375, "mg/m**2"),
        ("1.5 g/m**2", 1.5, "g/m**2"),
        ("2 mg", 2, "mg"),
        ("15 mcg/m**2/day", 15, "mcg/m**2/day"),
        ("2500 units/m**2", 2500, "units/m**2"),
        ("2500 IU/m**2", 2500, "units/m**2"),
    ],
)
def test_dose_strings_parse(text: str, value: float, unit: str) -> None:
    assert json_quantity(parse_quantity(text, "dose")) == {"value": value, "unit": unit}


def test_auc_target_is_mg_min_per_ml() -> None:
    auc = parse_quantity("AUC 5", "dose")
    assert auc.to(AUC_UNIT).magnitude == 5
    assert format_quantity(auc) == "AUC 5"


@pytest.mark.parametrize("text", ["3 units", "3 unit", "1 IU"])
def test_units_are_biological_activity_never_micronit(text: str) -> None:
    quantity = parse_quantity(text, "dose")
    assert quantity.dimensionality == DIM_ACTIVITY
    assert str(quantity.units) == "biological_unit"
    assert format_quantity(quantity).endswith(" units")


def test_units_never_convert_to_mass() -> None:
    with pytest.raises(Exception):  # noqa: B017 - pint's DimensionalityError
        parse_quantity("3 units", "dose").to(MG)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("80", "missing unit"),
        ("3 U", "'U' refused"),
        ("2 MG", "megagauss"),
        ("5 cc", "'cc' refused"),
        ("abc", "missing number"),
        ("80 cm", "wrong kind"),
    ],
)
def test_bad_quantities_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_quantity(text, "weight", "[mass]")


def test_counts_in_x10_9_notation() -> None:
    assert parse_quantity("1.8 x10^9/L", "anc").to("1/L").magnitude == pytest.approx(1.8e9)
    assert parse_quantity("150 ×10⁹/L", "platelets").to("1/L").magnitude == pytest.approx(1.5e11)


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (2.0, "2"), (0.5, "0.5"), (1500, "1,500"), (739.5, "739.5"), (10000, "10,000"), (0.05, "0.05")],
)
def test_ismp_numbers(value: float, text: str) -> None:
    assert format_number(value) == text


def test_ismp_units() -> None:
    assert format_quantity(Quantity(1500, "microgram")) == "1,500 mcg"
    assert format_quantity(Quantity(50, "milliliter")) == "50 mL"
    assert format_quantity(Quantity(375, "mg/m**2")) == "375 mg/m²"


@given(st.floats(min_value=0.0001, max_value=1e6, allow_nan=False))
def test_formatted_numbers_never_trail_or_lead_bare(value: float) -> None:
    text = format_number(value)
    assert not text.startswith(".")
    if "." in text:
        assert not text.endswith("0") and not text.endswith(".")
    assert float(text.replace(",", "")) == pytest.approx(value, abs=0.00006)


def test_format_number_prints_values_beyond_decimal_precision() -> None:
    # An implausible height of 1e24 cm must still print in the message that refuses it.
    assert format_number(1e24) == "1,000,000,000,000,000,000,000,000"


@pytest.mark.parametrize("unit", [MG, M2, ML_PER_MIN, MG / M2, MG._units, ureg.Unit("mcg/m**2/day")])
@pytest.mark.parametrize("value", [0, 2, 375.5, -1.25, 1e24])
def test_quantity_is_what_pints_constructor_builds(value: float, unit: object) -> None:
    """units.quantity builds plain numbers without pint's constructor: the same object results."""
    built, reference = quantity(value, unit), Quantity(value, unit)
    assert type(built) is type(reference)
    assert vars(built) == vars(reference)
    assert built == reference and str(built) == str(reference)


@pytest.mark.parametrize("value", [True, False, None])
def test_quantity_refuses_what_pint_refuses(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        quantity(value, MG)  # type: ignore[arg-type]


CONVERSIONS = [
    ("g", "mg"),
    ("mcg", "mg"),
    ("kg", "lb"),
    ("inch", "cm"),
    ("L/h", "mL/min"),
    ("mg/L", "mg/dL"),
    ("mg/m**2/day", "g/m**2/h"),
    ("mg", "mg"),
]


@pytest.mark.parametrize(("source", "target"), CONVERSIONS)
@given(value=st.one_of(st.floats(0, 1e6), st.integers(0, 10**6)))
def test_convert_is_pints_conversion(source: str, target: str, value: float) -> None:
    """units.convert multiplies by pint's own factor: the same number, of the same type."""
    reference = Quantity(value, source).to(target)
    converted = convert(Quantity(value, source), ureg.Unit(target))
    assert type(converted.magnitude) is type(reference.magnitude)
    assert converted.magnitude == reference.magnitude and converted.units == reference.units


def test_convert_refuses_what_pint_refuses() -> None:
    with pytest.raises(DimensionalityError):
        convert(Quantity(1, "mg"), ureg.Unit("m**2"))


COMPARED = [
    ("mL/min", "mL/min"),
    ("L/h", "mL/min"),
    ("mg/dL", "mg/L"),
    ("mg/m**2", "g/m**2"),
    ("mg/m**2/day", "g/m**2/h"),
    ("kg", "lb"),
    ("cm", "inch"),
]


@pytest.mark.parametrize(("first", "second"), COMPARED)
@pytest.mark.parametrize("op", [operator.lt, operator.le, operator.ge, operator.gt])
@given(
    value=st.one_of(st.floats(0, 1e6), st.integers(0, 10**6)),
    limit=st.one_of(st.floats(0, 1e6), st.integers(0, 10**6)),
)
def test_compare_is_pints_comparison(first: str, second: str, op: Any, value: float, limit: float) -> None:
    """units.compare answers as pint's own comparison, at the boundaries too (value == limit)."""
    a, b = Quantity(value, first), Quantity(limit, second)
    assert compare(a, b, op) is bool(op(a, b))
    same = Quantity(value, second)
    assert compare(same, b, op) is bool(op(same, b))
    assert compare(b, b, op) is bool(op(b, b))


def test_compare_refuses_what_pint_refuses() -> None:
    with pytest.raises(DimensionalityError):
        compare(Quantity(1, "mg"), Quantity(1, "m**2"), operator.ge)


ARITHMETIC = [("mg", "mg"), ("g/m**2", "mg/m**2"), ("mg", "m**2"), ("mg/day", "m**2"), ("mcg", "kg")]


@pytest.mark.parametrize(("first", "second"), ARITHMETIC)
@given(
    a=st.one_of(st.floats(0, 1e6), st.integers(0, 10**6)),
    b=st.one_of(st.floats(0.001, 1e6), st.integers(1, 10**6)),
)
def test_arithmetic_is_pints_arithmetic(first: str, second: str, a: float, b: float) -> None:
    """units.plus, divided and times give pint's own numbers and units, of the same type."""
    x, y = Quantity(a, first), Quantity(b, second)
    results = [(divided(x, y), x / y), (times(x, b), x * b), (times(x, 0), 0 * x)]
    if x.dimensionality == y.dimensionality:
        results.append((plus(x, y), x + y))
    for ours, pints in results:
        assert type(ours.magnitude) is type(pints.magnitude)
        assert ours.magnitude == pints.magnitude and ours.units == pints.units
