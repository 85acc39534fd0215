"""The architecture as tests: the import contracts hold, one door into the engine, and every
interface gives the same calculation for the same patient (issue 21).

The layers and "no circle" contracts live in pyproject.toml (``[tool.importlinter]``) and are
checked by import-linter; CONTRIBUTING.md draws the same map.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from record_fixtures import me
from starlette.testclient import TestClient
from web_fixtures import add_staff

from chemo_orders.cli import main
from chemo_orders.orderset import dumps, to_json
from chemo_orders.record.db import Database
from chemo_orders.record.orders import PrepareRequest, prepare
from chemo_orders.record.schema import open_database
from chemo_orders.web.app import create_app
from chemo_orders.web.patients import OrderForm, calculate

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "chemo_orders"
PATIENT = ROOT / "samples" / "patients" / "relapsed-dlbcl.yaml"
# What calls the engine itself: the service, and the engine's own views over many regimens.
ENGINE_CALLERS = {"service.py", "options.py", "plan.py"}


def test_the_import_contracts_hold() -> None:
    """No import circle in src/, no import up a layer (pyproject.toml's contracts)."""
    command = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(command), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "BROKEN" not in result.stdout


def _imports_build(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        imported = node.names if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("orderset") else []
        if any(alias.name == "build" for alias in imported):
            return True
        if isinstance(node, ast.Attribute) and node.attr == "build" and getattr(node.value, "id", "") == "orderset":
            return True
    return False


def test_only_the_service_calls_the_engine() -> None:
    """web/, record/, cli/, fhir/, batch and verify never build an order set themselves."""
    callers = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if _imports_build(p)}
    assert callers == ENGINE_CALLERS


def _without_input_hash(calc: dict[str, Any]) -> str:
    """The calc record of a different input document (JSON, a FHIR Bundle) hashes other bytes."""
    return dumps({k: v for k, v in calc.items() if k != "input_hash"})


def test_every_interface_gives_the_same_calc_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHEMO_ORDERS_KEY_FILE", str(tmp_path / "audit.key"))
    data = json.loads(json.dumps(yaml.safe_load(PATIENT.read_text(encoding="utf-8")), default=str))  # as JSON
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    token = add_staff(url)
    database: Database = open_database(url)

    assert main(["calc", str(PATIENT), "--regimen", "r-ice", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)

    bundle = tmp_path / "patient.json"
    assert main(["fhir", "order", str(PATIENT), "--regimen", "r-ice"]) == 0
    bundle.write_text(capsys.readouterr().out, encoding="utf-8")
    assert main(["calc", str(bundle), "--regimen", "r-ice", "--json"]) == 0
    fhir = json.loads(capsys.readouterr().out)

    with TestClient(create_app(database), base_url="http://127.0.0.1") as client:
        response = client.post(
            "/api/calc",
            json={"patient": data, "regimen": "r-ice"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    api = response.json()

    workbench = to_json(calculate(SimpleNamespace(database=database), data, OrderForm("r-ice")))  # type: ignore[arg-type]
    record = prepare(
        database, PrepareRequest(PATIENT.read_bytes(), str(PATIENT), "r-ice", me("pam"), on=dt.date.today())
    ).calc

    assert cli["status"] == "ok" and cli["calculated_on"] == dt.date.today().isoformat()
    assert dumps(record) == dumps(cli)  # the same bytes in: byte-equal, input hash included
    for other in (api, workbench, fhir):
        assert _without_input_hash(other) == _without_input_hash(cli)


def test_prepare_takes_and_stores_every_dose_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``orders prepare --bsa-formula dubois --policy FILE`` calculates as ``calc`` does, and the
    order keeps the resolved options (the policy by its content), so it recalculates the same."""
    from chemo_orders.record.orders import view
    from chemo_orders.service import CalcRequest, calculate
    from chemo_orders.settings import DoseSettings

    monkeypatch.setenv("CHEMO_ORDERS_KEY_FILE", str(tmp_path / "audit.key"))
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    add_staff(url)
    database = open_database(url)
    policy = tmp_path / "policy.yaml"
    policy.write_bytes((ROOT / "samples" / "rounding-policy.yaml").read_bytes())
    settings = DoseSettings(bsa_formula="dubois", policy=policy)
    order = prepare(
        database,
        PrepareRequest(PATIENT.read_bytes(), str(PATIENT), "r-ice", me("pam"), on=dt.date.today(), settings=settings),
    )
    expected = to_json(calculate(CalcRequest(PATIENT, "r-ice", settings=settings)))
    assert dumps(order.calc) == dumps(expected)
    assert order.calc["patient"]["bsa_formula"] == "dubois"
    policy.unlink()  # the stored order does not need the file any more
    # view() recalculates from what the order stored and raises when that differs from its record
    assert view(database, order.order_id, "a4").regimen_id == "r-ice"


def test_the_api_takes_dose_options_and_the_records_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``POST /api/calc`` chooses options as ``calc`` does, refuses unknown ones naming them, and
    counts the record's orders of the patient (here the cycle already prepared: CYC001 holds)."""
    monkeypatch.setenv("CHEMO_ORDERS_KEY_FILE", str(tmp_path / "audit.key"))
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    token = add_staff(url)
    database = open_database(url)
    data = json.loads(json.dumps(yaml.safe_load(PATIENT.read_text(encoding="utf-8")), default=str))
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(database), base_url="http://127.0.0.1") as client:

        def calc(**more: Any) -> Any:
            return client.post("/api/calc", json={"patient": data, "regimen": "r-ice", **more}, headers=headers)

        assert calc(options={"bsa_formula": "dubois"}).json()["patient"]["bsa_formula"] == "dubois"
        refused = calc(options={"bsa_formula": "guess"})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "options.bsa_formula"
        assert calc(options={"policy": "/etc/passwd"}).json()["error"]["field"] == "options.policy"
        before = calc().json()
        prepare(database, PrepareRequest(PATIENT.read_bytes(), str(PATIENT), "r-ice", me("pam"), on=dt.date.today()))
        after = calc().json()
    assert "CYC001" not in {f["rule"] for f in before["findings"]}
    assert "CYC001" in {f["rule"] for f in after["findings"]} and after["status"] == "held"
