"""Each formula against values computed by hand from the published coefficients, and
against published reference values (standards.md §1.6)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chemo_orders.body import (
    BSA_FORMULAS,
    adjusted_body_weight,
    bsa,
    cockcroft_gault,
    ideal_body_weight,
)
from chemo_orders.patient import creatinine_mg_dl
from chemo_orders.units import CM, KG, M2, MG_PER_DL, UMOL_PER_L, ureg


def m2(formula: str, height: float, weight: float) -> float:
    return round(bsa(height * CM, weight * KG, formula).to(M2).magnitude, 3)


def test_mosteller_by_hand() -> None:
    assert m2("mosteller", 175, 80) == round(math.sqrt(175 * 80 / 3600), 3) == 1.972


def test_published_reference_values() -> None:
    assert m2("dubois", 170, 70) == 1.810  # standards.md: correct DuBois for 170 cm / 70 kg
    assert m2("mosteller", 160, 60) == 1.633  # the corrected value of a published test


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("dubois", 0.007184 * 175**0.725 * 80**0.425),
        ("haycock", 0.024265 * 175**0.3964 * 80**0.5378),
        ("gehan-george", 0.0235 * 175**0.42246 * 80**0.51456),
        ("boyd", 0.0003207 * 175**0.3 * 80000 ** (0.7285 - 0.0188 * math.log10(80000))),
    ],
)
def test_formulas_by_hand(formula: str, expected: float) -> None:
    assert m2(formula, 175, 80) == round(expected, 3)


def test_known_bad_implementations_are_not_ours() -> None:
    assert m2("dubois", 170, 70) != 2.196  # 0.0087184 typo
    assert m2("boyd", 170, 70) < 3  # natural log instead of log10 gives ~50 m²


def test_imperial_inputs_give_the_same_bsa() -> None:
    metric = bsa(177.8 * CM, 79.832 * KG).to(M2).magnitude
    imperial = bsa(70 * ureg.inch, 176 * ureg.pound).to(M2).magnitude
    assert imperial == pytest.approx(metric, abs=1e-3)


@given(
    st.sampled_from(sorted(BSA_FORMULAS)),
    st.floats(min_value=40, max_value=240),
    st.floats(min_value=2, max_value=300),
    st.floats(min_value=0.5, max_value=20),
)
def test_bsa_increases_with_height_and_weight(formula: str, height: float, weight: float, step: float) -> None:
    base = bsa(height * CM, weight * KG, formula)
    assert bsa((height + step) * CM, weight * KG, formula) > base
    assert bsa(height * CM, (weight + step) * KG, formula) > base


def test_devine_ideal_weight() -> None:
    assert ideal_body_weight(70 * ureg.inch, "male").to(KG).magnitude == pytest.approx(50 + 2.3 * 10)
    assert ideal_body_weight(64 * ureg.inch, "female").to(KG).magnitude == pytest.approx(45.5 + 2.3 * 4)
    assert ideal_body_weight(150 * CM, "female") is None  # below 5 ft: not defined here


def test_adjusted_weight() -> None:
    assert adjusted_body_weight(100 * KG, 60 * KG).to(KG).magnitude == pytest.approx(76)


def test_cockcroft_gault_by_hand() -> None:
    male = cockcroft_gault(60, 72 * KG, 1.0 * MG_PER_DL, "male").magnitude
    assert male == pytest.approx((140 - 60) * 72 / 72)
    female = cockcroft_gault(60, 72 * KG, 1.0 * MG_PER_DL, "female").magnitude
    assert female == pytest.approx(80 * 0.85)


def test_creatinine_si_conversion() -> None:
    assert creatinine_mg_dl(88.4 * UMOL_PER_L).magnitude == pytest.approx(1.0, abs=1e-3)
