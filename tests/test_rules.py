"""Safety rules: cases as data (tests/rules/cases), one test id per case so that
``pytest -k IND002`` runs one rule; a meta-test that every rule is documented and has both
a passing and a failing case; and the property the project exists for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import make_patient, options
from hypothesis import given, settings
from hypothesis import strategies as st

from chemo_orders.changes import parse_change
from chemo_orders.orderset import build
from chemo_orders.regimen import Regimen, all_regimens, load_regimen, load_regimen_file
from chemo_orders.rules import RULES

CASES_DIR = Path(__file__).parent / "rules" / "cases"
FIXTURES = Path(__file__).parent / "rules" / "regimens"
CASES: list[dict[str, Any]] = [
    case for path in sorted(CASES_DIR.glob("*.yaml")) for case in yaml.safe_load(path.read_text())
]


def regimen_for(name: str) -> Regimen:
    fixture = FIXTURES / f"{name}.yaml"
    return load_regimen_file(fixture) if fixture.exists() else load_regimen(name)


@pytest.mark.parametrize("case", CASES, ids=[f"{c['rule']}-{c['name']}" for c in CASES])
def test_rule_case(case: dict[str, Any]) -> None:
    regimen = regimen_for(case["regimen"])
    patient = make_patient(**case["patient"])
    changes = tuple(parse_change(c["change"], c["reason"]) for c in case.get("changes", ()))
    order_set = build(patient, regimen, options(cycle=case.get("cycle", regimen.first_cycle())), changes=changes)
    raised = {f.severity for f in order_set.findings if f.rule == case["rule"]}
    if case["expect"] == "none":
        assert not raised, [f.message for f in order_set.findings if f.rule == case["rule"]]
    else:
        assert case["expect"] in raised, (case["why"], [f.message for f in order_set.findings])
    for finding in order_set.findings:
        assert finding.references and finding.message


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_every_rule_is_documented_and_has_cases(rule: Any) -> None:
    for field in ("what", "why", "example", "use_instead"):
        assert len(getattr(rule, field)) > 20, field
    assert rule.references and all(len(ref) > 20 for ref in rule.references)
    expectations = {c["expect"] == "none" for c in CASES if c["rule"] == rule.code}
    assert expectations == {True, False}, "needs a passing and a failing case"
    assert all(c.get("why") for c in CASES if c["rule"] == rule.code)


SALVAGE = [r.id for r in all_regimens() if r.category == "lymphoma-salvage"]


@settings(max_examples=150, deadline=None)
@given(
    regimen_id=st.sampled_from(SALVAGE),
    diagnosis=st.sampled_from(["b-all", "t-all", "all-lineage-unknown"]),
    status=st.sampled_from([None, "newly-diagnosed", "relapsed", "refractory", "mrd-positive"]),
    age=st.integers(min_value=1, max_value=95),
    height=st.integers(min_value=75, max_value=210),
    weight=st.integers(min_value=20, max_value=200),  # growthcleanr adult bound (plausibility.yaml)
    cd20=st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
    creatinine=st.one_of(st.none(), st.sampled_from(["0.3 mg/dL", "0.9 mg/dL", "2.5 mg/dL"])),
)
def test_lymphoma_salvage_is_always_blocked_in_all(
    regimen_id: str,
    diagnosis: str,
    status: str | None,
    age: int,
    height: int,
    weight: int,
    cd20: float | None,
    creatinine: str | None,
) -> None:
    patient = make_patient(
        diagnosis=diagnosis,
        disease_status=status,
        birth_date=None,
        age=age,
        height=f"{height} cm",
        weight=f"{weight} kg",
        serum_creatinine=creatinine,
        markers={"cd20_percent": cd20} if cd20 is not None else {},
        measurements_confirmed=True,  # any body habitus: the block must not depend on it
    )
    order_set = build(patient, load_regimen(regimen_id), options())
    assert order_set.status == "blocked" and order_set.orders == ()
    assert "IND002" in {f.rule for f in order_set.blocking}


def test_salvage_regimens_present() -> None:
    assert {"r-ice", "ice", "r-dhap", "r-gdp"} <= set(SALVAGE)


def test_blocked_findings_carry_sources_and_use_instead() -> None:
    patient = make_patient(diagnosis="b-all", disease_status="newly-diagnosed", markers={"cd20_percent": 40})
    finding = next(f for f in build(patient, load_regimen("r-ice"), options()).blocking if f.rule == "IND002")
    assert any("PMID 14739217" in ref for ref in finding.references)
    assert finding.use_instead and "CD20" in finding.use_instead and "R-hyper-CVAD course A" in finding.use_instead


def test_acknowledgement_of_warning_is_recorded_and_blocks_cannot_be() -> None:
    from chemo_orders.errors import InputError
    from chemo_orders.orderset import Acknowledgement

    old = make_patient(diagnosis="b-all", disease_status="newly-diagnosed", birth_date=None, age=68)
    ack = (Acknowledgement("AGE001", "fit, discussed at tumour board"),)
    assert build(old, load_regimen("hyper-cvad-a"), options(), ack).acknowledgements == ack
    with pytest.raises(InputError, match="cannot be overridden"):
        build(make_patient(diagnosis="b-all"), load_regimen("r-ice"), options(), (Acknowledgement("IND002", "x"),))


def test_docs_rules_md_is_current() -> None:
    from helpers import ROOT

    from chemo_orders.rules import rules_markdown

    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == rules_markdown(), (
        "docs/rules.md is stale: run `python scripts/generate_docs.py`"
    )


def test_rule_command_prints_documentation() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "chemo_orders.cli", "rule", "IND002"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for heading in ("What it does", "Why is this bad?", "Example", "Use instead", "References"):
        assert heading in result.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "chemo_orders.cli", "rule", "XYZ999"], capture_output=True, text=True
    )
    assert unknown.returncode == 2
