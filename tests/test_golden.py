"""What users see, compared with golden files regenerated only by scripts/update_golden.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from helpers import ROOT

spec = importlib.util.spec_from_file_location("update_golden", ROOT / "scripts" / "update_golden.py")
assert spec and spec.loader
update_golden = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update_golden)

PAIRS = update_golden.sample_pairs()
GOLDEN: Path = update_golden.GOLDEN


@pytest.mark.parametrize(("patient", "regimen", "cycle"), PAIRS, ids=[f"{p.stem}--{r}" for p, r, _ in PAIRS])
def test_sample_matches_golden(patient: Path, regimen: str, cycle: int) -> None:
    stem = f"{patient.stem}--{regimen}"
    data, text = update_golden.golden(patient, regimen, cycle)
    hint = "changed on purpose? run `python scripts/update_golden.py` and review the diff"
    assert data == (GOLDEN / f"{stem}.json").read_text(encoding="utf-8"), hint
    if text is not None:
        assert text == (GOLDEN / f"{stem}.txt").read_text(encoding="utf-8"), hint
    else:
        assert not (GOLDEN / f"{stem}.txt").exists()
