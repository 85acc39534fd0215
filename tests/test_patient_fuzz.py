"""No generated patient file crashes the loader: it loads or raises the project's error."""

from __future__ import annotations

import contextlib
from pathlib import Path

import yaml
from helpers import BASE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chemo_orders.errors import InputError
from chemo_orders.patient import load_patient

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "80 kg",
            "80",
            "175 cm",
            "80 cm",
            "0.9 mg/dL",
            "88 umol/L",
            "3 U",
            "1e400 kg",
            "-5 kg",
            "nan kg",
            "b-all",
            "9811/3",
            "female",
            "AUC 5",
            "1.8 x10^9/L",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                *BASE,
                "labs",
                "markers",
                "age",
                "previous_weight",
                "prior_cumulative",
                "measured_gfr",
                "allergies",
                "unknown",
            ]
        ),
        values,
        max_size=6,
    )
)
def test_loader_never_crashes(tmp_path: Path, changes: dict[str, object]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({**BASE, **changes}))
    try:
        load_patient(path)
    except InputError as error:
        assert "\n" not in error.message


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with contextlib.suppress(InputError):
        load_patient(path)
