"""The regimen linter: the bundled library is clean; each problem has a failing fixture."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chemo_orders.lint import lint_paths

GOOD = yaml.safe_load((Path(__file__).parent / "lint" / "good.yaml").read_text())


def lint_one(tmp_path: Path, data: dict[str, Any], name: str = "good") -> list[str]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return lint_paths([path])


def changed(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


def drug(**line: Any) -> dict[str, Any]:
    return {"route": "IV", "days": [1], "source": "s", **line}


def test_bundled_library_is_clean() -> None:
    assert lint_paths([]) == []


def test_good_fixture_is_clean(tmp_path: Path) -> None:
    assert lint_one(tmp_path, GOOD) == []


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        (changed(references={}), "references", ""),
        (changed(colour="red"), "colour", "unknown field"),
        (changed(indications=[]), "indications", ""),
        (changed(drugs=[drug(drug="etoposide", dose="100 mg/m", source="s")]), "dose", "not a dose"),
        (changed(drugs=[drug(drug="etoposide", dose="100 mg/m**2", days=[22])]), "days", "beyond the 21-day cycle"),
        (changed(drugs=[drug(drug="etoposide", dose="100 mg/m**2", source="nowhere")]), "source", "no such key"),
        (changed(drugs=[drug(drug="ifosfamide", dose="1000 mg/m**2")]), "drug", "ifosfamide without mesna"),
        (changed(drugs=[drug(drug="methotrexate", dose="1 g/m**2")]), "dose", "without leucovorin"),
        (changed(drugs=[drug(drug="vincristine", dose="2 mg", route="intrathecal")]), "route", "IV only"),
        # a draft: vinblastine has no organ-function rows, which only an active regimen needs
        (changed(status="draft", drugs=[drug(drug="vinblastine", dose="6 mg/m**2", route="IM")]), "route", "IV only"),
        (changed(criteria_to_treat=[]), "criteria_to_treat", "states its criteria to treat"),
        (changed(drugs=[drug(drug="fludarabine", dose="25 mg/m**2")]), "drugs", "fludarabine has no hepatic data"),
        (
            changed(drugs=[drug(drug="doxorubicin", dose="10 mg", route="intrathecal")]),
            "route",
            "not a drug given intrathecally",
        ),
        (changed(drugs=[drug(drug="etoposide", dose="100 mg/m**2", route="into the vein")]), "route", ""),
    ],
)
def test_each_problem_is_one_finding_naming_the_field(
    tmp_path: Path, data: dict[str, Any], field: str, text: str
) -> None:
    problems = lint_one(tmp_path, data)
    assert len(problems) == 1, problems
    assert field in problems[0] and text in problems[0] and "good.yaml" in problems[0]


def test_duplicate_ids_and_file_names(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "good.yaml").write_text(yaml.safe_dump(GOOD))
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(GOOD))
    problems = lint_paths([tmp_path / "a" / "good.yaml", tmp_path / "other.yaml"])
    assert any("duplicate" in p for p in problems) and any("file name" in p for p in problems)


def test_broken_file_fails_with_one_finding_each(tmp_path: Path) -> None:
    no_refs = lint_one(tmp_path, changed(references={}), "no-refs")
    it_vinca = lint_one(
        tmp_path, changed(id="it-vinca", drugs=[drug(drug="vincristine", dose="2 mg", route="IT")]), "it-vinca"
    )
    no_mesna = lint_one(tmp_path, changed(id="no-mesna", drugs=[drug(drug="ifosfamide", dose="5 g/m**2")]), "no-mesna")
    assert [len(no_refs), len(it_vinca), len(no_mesna)] == [1, 1, 1]


def test_cli_exit_codes(tmp_path: Path) -> None:
    clean = subprocess.run([sys.executable, "-m", "chemo_orders.cli", "lint"], capture_output=True, text=True)
    assert clean.returncode == 0 and "clean" in clean.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(changed(id="bad", drugs=[drug(drug="vincristine", dose="2 mg", route="IT")])))
    result = subprocess.run(
        [sys.executable, "-m", "chemo_orders.cli", "lint", str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 2 and "vincristine" in result.stdout


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (drug(drug="etoposide", dose="-100 mg/m**2"), "negative values are not accepted"),
        (drug(drug="etoposide", dose="0 mg/m**2"), "dose must be positive"),
        (drug(drug="etoposide", dose="100 mg/m**2", cap="0 mg"), "cap must be positive"),
        (drug(drug="etoposide", dose="100 mg/m**2", cap="-2 mg"), "negative values are not accepted"),
        (drug(drug="etoposidium", dose="100 mg/m**2"), "unknown drug 'etoposidium'"),
        (drug(drug="methotrexate", dose="30 mg/kg"), "without leucovorin"),
        (drug(drug="methotrexate", dose="2 g"), "without leucovorin"),
        (drug(drug="etoposide", dose="100000 mg/m**2"), "above the largest cited etoposide dose"),
        (drug(drug="carboplatin", dose="AUC 500"), "above the largest cited carboplatin dose"),
        (drug(drug="vincristine", dose="20 mg"), "above the largest cited vincristine dose"),
    ],
)
def test_clinical_dose_checks(tmp_path: Path, line: dict[str, Any], text: str) -> None:
    problems = lint_one(tmp_path, changed(drugs=[*GOOD["drugs"], line]))
    assert any(text in p for p in problems), problems


def test_low_dose_methotrexate_needs_no_leucovorin(tmp_path: Path) -> None:
    assert lint_one(tmp_path, changed(drugs=[*GOOD["drugs"], drug(drug="methotrexate", dose="20 mg/m**2")])) == []


def test_mesna_is_checked_per_cycle(tmp_path: Path) -> None:
    lines = [
        drug(drug="ifosfamide", dose="1000 mg/m**2", cycles=[1, 2]),
        drug(drug="mesna", dose="1000 mg/m**2", cycles=[1]),
    ]
    problems = lint_one(tmp_path, changed(drugs=lines, cycles=2))
    assert any("ifosfamide without mesna in cycle 2" in p for p in problems), problems


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    lines = [
        drug(drug="etoposide", dose="100 mg/m**2", days=[22]),
        drug(drug="etoposide", dose="100 mg/m**2", source="nowhere"),
        drug(drug="etoposide", dose="100 mg/m**2", route="into the vein"),
    ]
    problems = lint_one(tmp_path, changed(drugs=lines, colour="red"))
    joined = "\n".join(problems)
    assert len(problems) >= 2 and "colour" in joined and "route" in joined, problems
    problems = lint_one(tmp_path, changed(drugs=lines[:2]))
    assert any("beyond the 21-day cycle" in p for p in problems) and any("no such key" in p for p in problems)


def test_clinical_line_problems_are_reported_even_when_the_schema_fails(tmp_path: Path) -> None:
    lines = [
        *GOOD["drugs"],
        drug(drug="carboplatin", dose="AUC 500"),
        drug(drug="vincristine", dose="2 mg", route="IT"),
    ]
    problems = lint_one(tmp_path, changed(drugs=lines, cycles="three"))
    joined = "\n".join(problems)
    assert "cycles" in joined and "above the largest cited carboplatin dose" in joined and "IV only" in joined
