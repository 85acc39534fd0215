"""What a person does on the workbench, as Playwright steps by accessible name (design §10.6)."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

from web_fixtures import AXE, STAFF

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "patients"
_mrns = itertools.count(1)

# The adult B-ALL sample (CD20 40 %, Ph-negative): R-hyper-CVAD fits, R-ICE is blocked (IND002).
RIVERA = {
    "MRN": "",
    "Name": "Rivera, Ana",
    "Date of birth": "1981-03-14",
    "Sex": "female",
    "Height": "165 cm",
    "Weight": "68 kg",
    "Serum creatinine": "0.8 mg/dL",
    "Diagnosis": "b-all",
    "Disease status": "newly-diagnosed",
    "CD20 (%)": "40",
}
# The older adult (68) B-ALL sample: hyper-CVAD is held for age (AGE001) until acknowledged.
LINDQVIST = {
    **RIVERA,
    "Name": "Lindqvist, Erik",
    "Date of birth": "1958-05-30",
    "Sex": "male",
    "Height": "176 cm",
    "Weight": "74 kg",
    "Serum creatinine": "1.1 mg/dL",
    "CD20 (%)": "30",
}


def new_mrn() -> str:
    return f"W{os.getpid()}-{next(_mrns)}"


def sign_in(page: Any, name: str) -> None:
    page.goto("/signin")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(STAFF[name][1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").wait_for()


def new_patient(page: Any, fields: dict[str, str]) -> str:
    """Fill the New patient form by label and save; returns the MRN."""
    mrn = fields["MRN"] or new_mrn()
    page.get_by_role("link", name="New patient").click()
    for label, value in {**fields, "MRN": mrn}.items():
        control = page.get_by_label(label, exact=True)
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    page.get_by_role("button", name="Save patient").click()
    page.get_by_label("Regimen").wait_for()
    return mrn


def choose_regimen(page: Any, regimen: str) -> None:
    """Pick a regimen; the dose area updates by itself (htmx) when JavaScript runs."""
    page.wait_for_load_state()
    with page.expect_response(lambda r: r.url.endswith("/doses")):
        page.get_by_label("Regimen").select_option(regimen)


def dose_rows(page: Any) -> dict[str, str]:
    """Drug → final dose, read from the dose table's rows (one row per order)."""
    rows = page.locator("table.orders tbody tr")
    found: dict[str, str] = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        drug = cells.nth(1).inner_text().splitlines()[0].strip()
        final = cells.nth(4).inner_text().splitlines()[0].strip()
        found[drug] = final
    return found


def axe_violations(page: Any, every: bool = False) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now, or ``every`` one
    whatever its impact (the page's CSP refuses injected scripts: the context must be made
    with ``bypass_csp=True``)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if every or v["impact"] in ("serious", "critical")
    ]


def calc_json(patient: dict[str, Any], regimen: str) -> dict[str, Any]:
    """What ``chemo-orders calc --json`` says for the same patient file (the service layer)."""
    from chemo_orders.orderset import to_json
    from chemo_orders.service import CalcRequest, calculate

    return json.loads(json.dumps(to_json(calculate(CalcRequest(patient=patient, regimen=regimen)))))


def patient_file(fields: dict[str, str], mrn: str) -> dict[str, Any]:
    return {
        "id": mrn,
        "name": fields["Name"],
        "birth_date": fields["Date of birth"],
        "sex": fields["Sex"],
        "height": fields["Height"],
        "weight": fields["Weight"],
        "serum_creatinine": fields["Serum creatinine"],
        "diagnosis": fields["Diagnosis"],
        "disease_status": fields["Disease status"],
        "markers": {"cd20_percent": float(fields["CD20 (%)"])},
    }
