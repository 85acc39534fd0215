"""The package's one pint registry, parsing of dose strings, and ISMP-style formatting.

Why one registry: pint quantities from two registries cannot be combined, and building a
registry costs ~200 ms cold. ``cache_folder=":auto:"`` keeps later processes at ~25 ms.

Text a person wrote never reaches pint here: :mod:`chemo_orders.quantities` reads it with a
strict grammar and builds quantities from the pre-parsed units of its own spellings.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import pint
from pint.util import UnitsContainer

ureg: pint.UnitRegistry[Any] = pint.UnitRegistry(cache_folder=":auto:")
ureg.load_definitions(str(Path(__file__).with_name("units.txt")))

Quantity = ureg.Quantity
QuantityClass = pint.Quantity  # for isinstance checks
_UNIT = ureg.Unit  # the registry's own Unit class
_PLAIN_NUMBERS = (float, int)  # exact types: a bool is an int to isinstance, not to type()
if TYPE_CHECKING:
    Q: TypeAlias = pint.Quantity[Any]  # for annotations
else:
    Q = pint.Quantity


def quantity(value: float, unit: Any) -> Q:
    """A quantity from a number and a pre-built unit (a Unit of this registry or its units).

    The hot path builds dozens of quantities per order set, and pint's constructor spends
    ~15 µs on checks that cannot fail for a plain ``int`` or ``float`` and a unit of its own
    registry; for those it stores just the number and the units container, and so does this
    (~1 µs; a test holds the two equal). Anything else (a bool, a Decimal, text) goes through
    pint's constructor and its checks.
    """
    units = _container(unit)
    if type(value) in _PLAIN_NUMBERS and units is not None:
        result: Q = object.__new__(Quantity)
        result._magnitude = value
        result._units = units
        return result
    built: Q = Quantity(value, unit)
    return built


def _container(unit: Any) -> UnitsContainer | None:
    """The units container of a Unit of this registry (or the container itself); else None."""
    if type(unit) is _UNIT:
        units: UnitsContainer = unit._units
        return units
    return unit if type(unit) is UnitsContainer else None


def convert(value: Q, unit: Any) -> Q:
    """``value.to(unit)``, the same number, for a Unit of this registry (or its units).

    pint converts between multiplicative units (every unit of a dose, a measurement or a
    laboratory value) by one multiplication, with a factor it keeps per pair of units; this
    does the same multiplication with the same factor and skips pint's dispatch (~20 µs),
    which the hot path would otherwise pay several times per order line. A test holds the
    two equal; a magnitude that is not a plain number goes through pint.
    """
    units = _container(unit)
    if units is None or type(value._magnitude) not in _PLAIN_NUMBERS:
        return value.to(unit)
    if value._units is units or value._units == units:
        return quantity(value._magnitude, units)
    return quantity(value._magnitude * _conversion_factor(value._units, units), units)


@lru_cache(maxsize=1024)
def _conversion_factor(source: UnitsContainer, target: UnitsContainer) -> float:
    """pint's own factor from ``source`` to ``target`` (``1 × factor`` is the factor, exactly).
    Bounded: the units come from the files a user gives."""
    factor: float = ureg.convert(1, source, target)
    return factor


def compare(value: Q | float, limit: Q | float, op: Callable[[Any, Any], Any]) -> bool:
    """``op(value, limit)`` as pint compares two quantities, for the bands and bounds checked on
    every order (``operator.ge`` for "at least", …).

    pint compares the magnitudes when the units are the same, else both magnitudes in root
    units; this does the same with the same factors (each a single multiplication, kept per
    pair of units) and skips pint's dispatch, which cost more than the rest of a band check.
    Units of different dimensions are refused as pint refuses them; a magnitude that is not a
    plain number (or a plain number compared with a plain number) goes through pint or Python.
    A test holds the two equal.
    """
    if not _plain(value, limit):
        return bool(op(value, limit))
    assert isinstance(value, QuantityClass) and isinstance(limit, QuantityClass)  # _plain said so
    if value._units is limit._units or value._units == limit._units:
        return bool(op(value._magnitude, limit._magnitude))
    to_root_value, to_root_limit = _root_factors(value._units, limit._units)
    return bool(op(value._magnitude * to_root_value, limit._magnitude * to_root_limit))


@lru_cache(maxsize=1024)
def _root_factors(first: UnitsContainer, second: UnitsContainer) -> tuple[float, float]:
    """pint's factors from each of two units of one dimension to their root units."""
    one, other = Quantity(1, first), Quantity(1, second)
    if one.dimensionality != other.dimensionality:
        raise pint.DimensionalityError(first, second, str(one.dimensionality), str(other.dimensionality))
    root = one.to_root_units()._units
    return _conversion_factor(first, root), _conversion_factor(second, root)


# Arithmetic as pint does it, for the hot path (a rule that sums a lifetime's exposure runs on
# every recalculation): the same operation on the magnitudes, the same units, without pint's
# per-call dispatch. A magnitude that is not a plain number goes through pint; a test holds
# each equal to pint's own result.


def plus(first: Q, second: Q) -> Q:
    """``first + second``: in ``first``'s units, ``second`` converted to them."""
    if not _plain(first, second):
        return cast(Q, first + second)
    if first._units is second._units or first._units == second._units:
        return quantity(first._magnitude + second._magnitude, first._units)
    return quantity(first._magnitude + convert(second, first._units)._magnitude, first._units)


def divided(numerator: Q, denominator: Q) -> Q:
    """``numerator / denominator`` (an amount per m²: the course total over the BSA)."""
    if not _plain(numerator, denominator):
        return cast(Q, numerator / denominator)
    return quantity(numerator._magnitude / denominator._magnitude, numerator._units / denominator._units)


def times(value: Q, factor: float) -> Q:
    """``value * factor`` for a plain number ``factor`` (a doxorubicin-equivalence factor)."""
    if not _plain(value) or type(factor) not in _PLAIN_NUMBERS:
        return cast(Q, value * factor)
    return quantity(value._magnitude * factor, value._units)


def _plain(*values: object) -> bool:
    """Whether every value is a quantity of this registry with a plain ``int`` or ``float``
    (a loop, not ``all()`` over a generator: this runs for every band check)."""
    for value in values:  # noqa: SIM110 - all() over a generator is slower here
        if type(value) is not Quantity or type(value._magnitude) not in _PLAIN_NUMBERS:
            return False
    return True


def same_dimension(first: Q, second: Q) -> bool:
    """``first.dimensionality == second.dimensionality``, kept per unit (hot path)."""
    return first._units is second._units or bool(dimension(first) == dimension(second))


def dimension(value: Q) -> UnitsContainer:
    """``value.dimensionality``, kept per unit: pint's property looks it up again on each call."""
    return _dimension(value._units)


@lru_cache(maxsize=1024)
def _dimension(units: UnitsContainer) -> UnitsContainer:
    found: UnitsContainer = ureg.get_dimensionality(units)
    return found


def magnitude_in(value: Q, unit: Any) -> float:
    """The number of ``unit`` in ``value``: ``float(value.to(unit).magnitude)``, converted as
    :func:`convert` converts."""
    return float(convert(value, unit)._magnitude)


# Pre-built units for hot paths: parsing a unit string costs ~100 µs, reusing a Unit ~15 µs.
MG = ureg.milligram
MCG = ureg.microgram
G = ureg.gram
KG = ureg.kilogram
CM = ureg.centimeter
M2 = ureg.meter**2
ML_PER_MIN = ureg.milliliter / ureg.minute
MG_PER_DL = ureg.milligram / ureg.deciliter
UMOL_PER_L = ureg.micromole / ureg.liter
AUC_UNIT = ureg.milligram * ureg.minute / ureg.milliliter
PER_L = 1 / ureg.liter
UNITS = ureg.biological_unit
DAY = ureg.day

DIM_MASS = ureg.get_dimensionality("[mass]")
DIM_LENGTH = ureg.get_dimensionality("[length]")
DIM_ACTIVITY = ureg.get_dimensionality("[biological_activity]")
DIM_TIME = ureg.get_dimensionality("[time]")
DIM_AUC = AUC_UNIT.dimensionality


def unit_powers(quantity: Q) -> dict[str, float]:
    """The quantity's units and their exponents: ``mg/m**2 -> {"milligram": 1, "meter": -2}``."""
    return {name: float(cast(float, power)) for name, power in quantity._units.items()}


def time_power(quantity: Q) -> float:
    """The exponent of time in the dimensionality (-1 for a per-day rate)."""
    return float(cast(float, quantity.dimensionality.get("[time]", 0)))


# ---------------------------------------------------------------------------------------------
# Formatting. ISMP: no trailing zeros, always a leading zero, thousands separators, a space
# between number and unit, mcg not µg, units not U/IU, mL not cc.

_ISMP_NAME = {
    "milligram": "mg",
    "gram": "g",
    "microgram": "mcg",
    "kilogram": "kg",
    "pound": "lb",
    "inch": "in",
    "meter": "m",
    "centimeter": "cm",
    "milliliter": "mL",
    "liter": "L",
    "deciliter": "dL",
    "biological_unit": "units",
    "day": "day",
    "hour": "h",
    "minute": "min",
    "micromole": "micromol",
    "week": "week",
}
_SUPER = {2: "²", 3: "³"}


_PRECISION_28 = Context(prec=28)  # a Context is only read by quantize(): one serves every call


@lru_cache(maxsize=16)
def _step(decimals: int) -> Decimal:
    """``Decimal("0.0001")`` for 4 decimals: the quantum a number is rounded to."""
    return Decimal(1).scaleb(-decimals)


def format_number(value: float | Decimal, decimals: int = 4) -> str:
    """``1500 -> "1,500"``, ``2.0 -> "2"``, ``0.5 -> "0.5"``: ISMP number style."""
    number = Decimal(str(value))
    # quantize() needs every digit within the context's precision (28): 1e24 with 4 decimals
    # has 29, and an implausible value must still be printable in the message refusing it.
    precision = number.adjusted() + decimals + 2
    context = _PRECISION_28 if precision <= 28 else Context(prec=precision)
    exact = number.quantize(_step(decimals), rounding=ROUND_HALF_UP, context=context)
    if exact == 0:
        exact = Decimal(0)
    text = f"{exact:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_unit(units: Any, *, style: str = "ismp") -> str:
    """ISMP display (``mg/m²``) or a pint-parseable string for JSON (``mg/m**2``)."""
    numerator: list[str] = []
    denominator: list[str] = []
    for name, power in units._units.items():
        symbol = _ISMP_NAME.get(name, name)
        if style == "json" and symbol == "micromol":
            symbol = "umol"
        exponent = abs(power)
        if exponent != 1:
            symbol += _SUPER.get(int(exponent), f"^{exponent}") if style == "ismp" else f"**{exponent:g}"
        (numerator if power > 0 else denominator).append(symbol)
    joiner = "·" if style == "ismp" else "*"
    text = joiner.join(numerator) if numerator else "1"
    for symbol in denominator:
        text += f"/{symbol}"
    return text


def format_quantity(quantity: Q, decimals: int = 4) -> str:
    """``Quantity(375, "mg/m**2") -> "375 mg/m²"``; AUC targets print as ``AUC 5``."""
    return _format_quantity(float(quantity.magnitude), quantity._units, decimals)


@lru_cache(maxsize=4096)
def _format_quantity(magnitude: float, units: Any, decimals: int) -> str:
    """Cached on (value, unit): order arithmetic formats the same few quantities again and again."""
    quantity = Quantity(magnitude, units)
    if quantity.dimensionality == DIM_AUC:
        return f"AUC {format_number(quantity.to(AUC_UNIT).magnitude, decimals)}"
    number, unit = format_number(quantity.magnitude, decimals), format_unit(quantity.units)
    if unit in _PLURAL and number != "1":
        unit = _PLURAL[unit]
    return f"{number} {unit}"


_PLURAL = {"day": "days", "week": "weeks"}


def format_measurement(shown: Q, typed: Q, decimals: int) -> str:
    """``70 kg (154 lb)``: a measurement in the unit the order uses, then as it was typed when
    that was another unit (design §11.5), so the reader checks the conversion, not trusts it."""
    first = format_quantity(shown, decimals)
    return first if typed.units == shown.units else f"{first} ({format_quantity(typed)})"


def format_value(value: object) -> str:
    """A lab value, limit or threshold as printed: counts in x10^9/L, quantities ISMP-style,
    plain numbers (LVEF %, ULN multiples) without trailing zeros."""
    if isinstance(value, QuantityClass):
        if value.dimensionality == PER_L.dimensionality:
            return f"{format_number(value.to(PER_L).magnitude / 1e9, 2)} x10^9/L"
        return format_quantity(value)
    return format_number(value) if isinstance(value, float | int) else str(value)


def json_quantity(quantity: Q, decimals: int = 4) -> dict[str, object]:
    """The JSON contract's ``{"value": 375, "unit": "mg/m**2"}`` (integers stay integers)."""
    exact = Decimal(str(float(quantity.magnitude))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    value: int | float = int(exact) if exact == exact.to_integral_value() else float(exact)
    return {"value": value, "unit": format_unit(quantity.units, style="json")}
