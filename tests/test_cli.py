"""The command line as a user meets it: a subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT

SAMPLES = ROOT / "samples" / "patients"
DATE = ["--date", "2026-11-22"]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chemo_orders.cli", *map(str, args)], capture_output=True, text=True, timeout=60
    )


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SAMPLES / f"{name}.yaml").read_text())
    return data


def test_calc_json_contract() -> None:
    result = run("calc", SAMPLES / "adult-b-all-cd20-positive.yaml", "--regimen", "r-hyper-cvad-a", "--json", *DATE)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "ok"
    assert set(data["patient"]) >= {"id", "age_years", "height_cm", "weight_kg", "bsa_m2", "bsa_formula", "crcl_ml_min"}
    assert data["patient"]["bsa_formula"] == "mosteller"
    assert data["regimen"]["id"] == "r-hyper-cvad-a" and data["regimen"]["version"] == "4"
    order = next(o for o in data["orders"] if o["drug"] == "rituximab")
    assert set(order) >= {"drug", "route", "days", "dose", "calculated", "final", "capped", "rounded", "calculation"}
    assert order["dose"] == {"value": 375, "unit": "mg/m**2"}
    assert order["days"] == [1, 11]
    assert "decision support" in data["disclaimer"].lower()


def test_blocked_calc_exits_3_with_empty_orders() -> None:
    result = run("calc", SAMPLES / "adult-b-all-cd20-positive.yaml", "--regimen", "r-ice", "--json", *DATE)
    assert result.returncode == 3
    data = json.loads(result.stdout)
    assert data["status"] == "blocked" and data["orders"] == []
    assert "IND002" in {f["rule"] for f in data["findings"] if f["severity"] == "block"}


def test_human_output_says_blocked_and_what_to_use() -> None:
    result = run("calc", SAMPLES / "adult-b-all-cd20-positive.yaml", "--regimen", "r-ice", *DATE)
    assert result.returncode == 3
    assert "BLOCKED" in result.stdout and "Use instead" in result.stdout and "CD20" in result.stdout
    assert "requires independent verification by a pharmacist" in result.stdout


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weight": 80}, "weight"),
        ({"weight": "80 cm"}, "weight"),
        ({"height": "1.75 cm"}, "height"),
        ({"serum_creatinine": "90 mg/dL"}, "serum_creatinine"),
        ({"diagnosis": "leukemia"}, "diagnosis"),
        ({"sex": "x"}, "sex"),
        ({"colour": "blue"}, "colour"),
        ({"markers": {"cd20_percent": 140}}, "markers.cd20_percent"),
        ({"labs": {"anc": "1.5"}}, "labs.anc"),
    ],
)
def test_bad_patient_fields_exit_2_naming_the_field(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({**sample("adult-b-all-cd20-positive"), **change}))
    result = run("calc", path, "--regimen", "r-hyper-cvad-a", *DATE)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_required_field(tmp_path: Path) -> None:
    data = sample("adult-b-all-cd20-positive")
    del data["weight"]
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    result = run("calc", path, "--regimen", "r-hyper-cvad-a", *DATE)
    assert result.returncode == 2 and "weight" in result.stderr and "missing" in result.stderr


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["calc", "nope.yaml", "--regimen", "r-ice"], "file not found"),
        (["calc", str(SAMPLES / "relapsed-dlbcl.yaml"), "--regimen", "r-icee"], "did you mean r-ice"),
        (["calc", str(SAMPLES / "relapsed-dlbcl.yaml"), "--regimen", "r-ice", "--date", "22/11/2026"], "--date"),
        (["calc", str(SAMPLES / "relapsed-dlbcl.yaml"), "--regimen", "r-ice", "--cycle", "9"], "--cycle"),
        (["calc", str(SAMPLES / "relapsed-dlbcl.yaml")], "usage"),
        (["frobnicate"], "usage"),
    ],
)
def test_bad_usage_exits_2(args: list[str], text: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert text in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_malformed_yaml(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("id: [unclosed\nname: x\n")
    result = run("calc", path, "--regimen", "r-ice")
    assert result.returncode == 2 and "malformed YAML" in result.stderr


def test_imperial_and_metric_samples_agree_with_their_own_bsa() -> None:
    result = run("calc", SAMPLES / "us-units-b-all.yaml", "--regimen", "r-hyper-cvad-a", "--json", *DATE)
    data = json.loads(result.stdout)
    assert data["patient"]["height_cm"] == 177.8 and data["patient"]["weight_kg"] == 79.83


def test_regimens_json_lists_indications() -> None:
    result = run("regimens", "--json")
    assert result.returncode == 0
    ids = {r["id"]: r for r in json.loads(result.stdout)["regimens"]}
    assert ids["r-ice"]["indications"][0]["disease"] == "dlbcl"
    assert ids["r-ice"]["category"] == "lymphoma-salvage"


def test_parser_bsa_formula_names_match_the_formulas() -> None:
    from chemo_orders.body import BSA_FORMULAS
    from chemo_orders.cli.arguments import BSA_FORMULA_NAMES

    assert sorted(BSA_FORMULA_NAMES) == sorted(BSA_FORMULAS)


def test_building_the_parser_imports_no_pint_or_weasyprint() -> None:
    code = (
        "import sys; import chemo_orders.cli as c; c.build_parser(); "
        "print('pint' in sys.modules, 'weasyprint' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["False", "False"]


def test_calc_never_imports_weasyprint() -> None:
    code = (
        "import sys, io, contextlib; import chemo_orders.cli as c; "
        "f = io.StringIO()\nwith contextlib.redirect_stdout(f): "
        f"c.main(['calc', {str(SAMPLES / 'relapsed-dlbcl.yaml')!r}, '--regimen', 'r-ice', '--json'])\n"
        "print('weasyprint' in sys.modules, 'jinja2' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["False", "False"], result.stderr
