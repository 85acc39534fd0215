"""The package's one pint registry, parsing of dose strings, and ISMP-style formatting.

Why one registry: pint quantities from two registries cannot be combined, and building a
registry costs ~200 ms cold. ``cache_folder=":auto:"`` keeps later processes at ~25 ms.

Text a person wrote never reaches pint here: :mod:`chemo_orders.quantities` reads it with a
strict grammar and builds quantities from the pre-parsed units of its own spellings.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import pint

ureg: pint.UnitRegistry[Any] = pint.UnitRegistry(cache_folder=":auto:")
ureg.load_definitions(str(Path(__file__).with_name("units.txt")))

Quantity = ureg.Quantity
QuantityClass = pint.Quantity  # for isinstance checks
if TYPE_CHECKING:
    Q: TypeAlias = pint.Quantity[Any]  # for annotations
else:
    Q = pint.Quantity


def quantity(value: float, unit: Any) -> Q:
    """A quantity from a number and a pre-built unit: ~4 µs, where ``value * unit`` takes ~15 µs."""
    result: Q = Quantity(value, unit)
    return result


def magnitude_in(value: Q, unit: Any) -> float:
    """The number of ``unit`` in ``value``; skips pint's conversion when already in that unit."""
    if value._units == unit._units:
        return float(value.magnitude)
    return float(value.to(unit).magnitude)


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


def format_number(value: float | Decimal, decimals: int = 4) -> str:
    """``1500 -> "1,500"``, ``2.0 -> "2"``, ``0.5 -> "0.5"``: ISMP number style."""
    number = Decimal(str(value))
    # quantize() needs every digit within the context's precision (28): 1e24 with 4 decimals
    # has 29, and an implausible value must still be printable in the message refusing it.
    precision = max(28, number.adjusted() + decimals + 2)
    exact = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP, context=Context(prec=precision))
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
