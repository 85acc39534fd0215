"""``serve`` speaking FHIR and CDS Hooks (issue 23 item 4, design §11.7), over HTTP in process.

One app for the module (Starlette's test client, an SQLite record, pam's API token): the
token, the CapabilityStatement, the PlanDefinitions, ``$apply`` against ``calc --json``, and
the CDS Hooks cards an EHR would show for the done-when cases of the issue.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from chemo_orders.errors import InputError
from chemo_orders.fhir import cds_hooks, server
from chemo_orders.fhir.export import order_bundle_for
from chemo_orders.fhir.importer import patient_data
from chemo_orders.fhir.terminology import RULE_SYSTEM
from chemo_orders.fhir.validation import model_class
from chemo_orders.orderset import OrderSet, to_json
from chemo_orders.record.schema import open_database
from chemo_orders.record.users import NewUser, add_user, issue_token, prove
from chemo_orders.regimen import all_regimens
from chemo_orders.service import CalcRequest, calculate
from chemo_orders.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
DLBCL = ROOT / "samples" / "fhir" / "relapsed-dlbcl.json"
B_ALL = ROOT / "samples" / "patients" / "adult-b-all-cd20-positive.yaml"
R5 = {"Accept": "application/fhir+json; fhirVersion=5.0"}
PASSWORD = "pam-secret-1"
DISCLAIMER = "requires independent verification by a pharmacist"


def engine(patient: dict[str, Any], regimen: str, cycle: int | None, on: dt.date | None) -> OrderSet:
    """The service's door as the FHIR modules are handed it, without a record."""
    from chemo_orders.service import DoseSettings

    return calculate(CalcRequest(patient=patient, regimen=regimen, cycle=cycle, settings=DoseSettings(on=on)))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One pharmacist with an API token (one argon2 hash, not the web tests' five), and the
    app without its lifespan: nothing here needs weasyprint warmed."""
    folder = tmp_path_factory.mktemp("fhir")
    database = open_database(f"sqlite:///{folder / 'record.sqlite3'}")
    with pytest.MonkeyPatch.context() as env:  # this record's own audit key
        env.setenv("CHEMO_ORDERS_KEY_FILE", str(folder / "audit.key"))
        with database.write() as session:
            add_user(session, NewUser("pam", "pharmacist", PASSWORD))
        pam = prove(database, "pam", password=PASSWORD)
        with database.write() as session:
            token = issue_token(session, pam)
    yield TestClient(create_app(database), base_url="http://127.0.0.1"), {"Authorization": f"Bearer {token}"}
    database.close()


def apply_parameters(bundle: dict[str, Any], subject: str | None = None, **extra: Any) -> dict[str, Any]:
    patient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    parameters = [
        {"name": "subject", "valueReference": {"reference": subject or patient["fullUrl"]}},
        {"name": "data", "resource": bundle},
        {"name": "practitioner", "valueString": "Practitioner/ignored"},
        *({"name": name, **value} for name, value in extra.items()),
    ]
    return {"resourceType": "Parameters", "parameter": parameters}


def b_all_bundle() -> dict[str, Any]:
    """A B-ALL patient as a FHIR Bundle (exported from the sample with a regimen that fits)."""
    return order_bundle_for(calculate(CalcRequest(patient=B_ALL, regimen="hyper-cvad-a")), "r4")


def medication_requests(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]


def prefetch(bundle: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """What an EHR prefetches for the service's templates, from a patient Bundle."""
    resources = [copy.deepcopy(e["resource"]) for e in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")

    def search(kind: str) -> dict[str, Any]:
        found = [r for r in resources if r["resourceType"] == kind]
        for resource in found:
            resource["patient" if kind == "AllergyIntolerance" else "subject"] = {"reference": f"Patient/{patient_id}"}
        return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in found]}

    return {
        "patient": {**patient, "id": patient_id},
        "observations": search("Observation"),
        "conditions": search("Condition"),
        "allergies": search("AllergyIntolerance"),
    }


def hook_request(
    drafts: list[dict[str, Any]], patient_bundle: dict[str, Any], hook: str = "order-sign"
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "userId": "Practitioner/example",
        "patientId": "p1",
        "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": d} for d in drafts]},
    }
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/1"]
    return {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": context,
        "prefetch": prefetch(patient_bundle, "p1"),
    }


@pytest.fixture(scope="module")
def r_ice_drafts(client: tuple[TestClient, dict[str, str]]) -> list[dict[str, Any]]:
    """R-ICE for the relapsed DLBCL sample, as ``$apply`` proposes it (R4 drafts)."""
    http, auth = client
    response = http.post(
        "/fhir/PlanDefinition/r-ice/$apply", json=apply_parameters(json.loads(DLBCL.read_text())), headers=auth
    )
    assert response.status_code == 200, response.text
    return medication_requests(response.json())


def test_no_or_a_wrong_token_is_refused(client: tuple[TestClient, dict[str, str]]) -> None:
    http, _ = client
    for path in ("/fhir/metadata", "/fhir/PlanDefinition", "/fhir/PlanDefinition/r-ice"):
        response = http.get(path, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/fhir+json")
        assert response.json()["resourceType"] == "OperationOutcome"
    assert http.post("/fhir/PlanDefinition/r-ice/$apply", content=b"{}").status_code == 401
    for method, path in (("GET", "/cds-services"), ("POST", "/cds-services/chemo-order-check")):
        response = http.request(method, path)
        assert response.status_code == 401
        assert response.json()["error"]["field"] == "Authorization"


def test_capability_statement(client: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = client
    for headers, release, version in (({}, "4.0.1", "r4"), (R5, "5.0.0", "r5")):
        statement = http.get("/fhir/metadata", headers={**auth, **headers}).json()
        model_class("CapabilityStatement", version).model_validate(statement)  # type: ignore[arg-type]
        assert statement["fhirVersion"] == release and statement["format"] == ["json"]
        (resource,) = statement["rest"][0]["resource"]
        assert resource["type"] == "PlanDefinition"
        assert {i["code"] for i in resource["interaction"]} == {"read", "search-type"}
        (operation,) = resource["operation"]
        assert operation["name"] == "apply" and "`cycle`" in operation["documentation"]


def test_plan_definitions_search_and_read(client: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = client
    bundle = http.get("/fhir/PlanDefinition", headers=auth).json()
    active = {r.id for r in all_regimens() if r.status == "active"}
    assert bundle["type"] == "searchset" and {e["resource"]["id"] for e in bundle["entry"]} == active
    assert http.get("/fhir/PlanDefinition?_id=r-ice", headers=auth).json()["total"] == 1
    assert http.get("/fhir/PlanDefinition?name=x", headers=auth).status_code == 400
    elsewhere = http.get("/fhir/Patient/1", headers=auth)
    assert elsewhere.status_code == 404 and elsewhere.json()["resourceType"] == "OperationOutcome"
    plan = http.get("/fhir/PlanDefinition/r-ice", headers={**auth, **R5}).json()
    model_class("PlanDefinition", "r5").model_validate(plan)
    assert plan["id"] == "r-ice" and plan["status"] == "active"
    reference_only = next(r.id for r in all_regimens() if r.status == "reference")
    for unknown in ("no-such-regimen", reference_only):
        response = http.get(f"/fhir/PlanDefinition/{unknown}", headers=auth)
        assert response.status_code == 404 and response.json()["issue"][0]["code"] == "not-found"


@pytest.mark.parametrize("version", ["r4", "r5"])
def test_apply_gives_the_doses_of_calc(client: tuple[TestClient, dict[str, str]], version: str) -> None:
    http, auth = client
    headers = {**auth, **(R5 if version == "r5" else {})}
    response = http.post(
        "/fhir/PlanDefinition/r-ice/$apply", json=apply_parameters(json.loads(DLBCL.read_text())), headers=headers
    )
    assert response.status_code == 200, response.text
    bundle = response.json()
    model_class("Bundle", version).model_validate(bundle)  # type: ignore[arg-type]
    first = bundle["entry"][0]["resource"]
    assert first["resourceType"] == ("RequestOrchestration" if version == "r5" else "RequestGroup")
    assert any(DISCLAIMER in note["text"] for note in first["note"])
    calc = to_json(calculate(CalcRequest(patient=DLBCL, regimen="r-ice")))
    doses = [r["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] for r in medication_requests(bundle)]
    assert doses == [o["final"]["value"] for o in calc["orders"]]


def test_apply_when_blocked_names_the_rule_codes(client: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = client
    response = http.post("/fhir/PlanDefinition/r-ice/$apply", json=apply_parameters(b_all_bundle()), headers=auth)
    assert response.status_code == 422
    outcome = response.json()
    model_class("OperationOutcome", "r4").model_validate(outcome)
    errors = [i for i in outcome["issue"] if i["severity"] == "error"]
    assert [c["code"] for i in errors for c in i["details"]["coding"]] == ["IND002"]
    assert errors[0]["details"]["coding"][0]["system"] == RULE_SYSTEM and "lymphoma salvage" in errors[0]["diagnostics"]
    assert any(DISCLAIMER in i.get("diagnostics", "") for i in outcome["issue"])
    held = apply_parameters(with_creatinine(json.loads(DLBCL.read_text()), 1.8))
    response = http.post("/fhir/PlanDefinition/r-ice/$apply", json=held, headers=auth)
    assert response.status_code == 422
    stopping = [i for i in response.json()["issue"] if i["severity"] == "error"]
    assert [i["details"]["coding"][0]["code"] for i in stopping] == ["REN001", "REN001"]


def test_apply_refuses_bad_input_naming_the_element(client: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = client
    bundle = json.loads(DLBCL.read_text())
    url = "/fhir/PlanDefinition/r-ice/$apply"

    def element(body: Any, status: int = 422) -> str:
        response = http.post(url, content=json.dumps(body).encode(), headers=auth)
        assert response.status_code == status, response.text
        return str(response.json()["issue"][0]["expression"][0])

    assert element(apply_parameters(bundle, subject="Patient/someone-else")) == "subject"
    assert element(apply_parameters(bundle, cycle={"valueInteger": 0})) == "cycle"
    assert element(apply_parameters(bundle, date={"valueDate": "2026-13-01"})) == "date"
    assert element(apply_parameters(bundle, colour={"valueString": "blue"})).startswith("Parameters.parameter[")
    assert element({"resourceType": "Patient"}) == "resourceType"
    weight = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "29463-7"
    )
    weight["valueQuantity"]["value"] = 720
    assert element(apply_parameters(bundle)).startswith("data.Observation[weight]")
    response = http.post(url, content=b'{"resourceType": "Parameters", "parameter": [', headers=auth)
    assert response.status_code == 400 and response.json()["resourceType"] == "OperationOutcome"
    assert http.post("/fhir/PlanDefinition/nope/$apply", content=b"{}", headers=auth).status_code == 404


def test_cds_discovery(client: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = client
    services = http.get("/cds-services", headers=auth).json()["services"]
    assert {s["hook"] for s in services} == {"order-select", "order-sign"}
    assert {s["id"] for s in services} == {"chemo-order-check"}
    assert all({"patient", "observations"} <= set(s["prefetch"]) for s in services)
    assert services[0]["prefetch"]["patient"] == "Patient/{{context.patientId}}"


def check(http: TestClient, auth: dict[str, str], request: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = http.post("/cds-services/chemo-order-check", json=request, headers=auth)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_cds_r_ice_in_b_all_is_critical_ind002(
    client: tuple[TestClient, dict[str, str]], r_ice_drafts: list[dict[str, Any]]
) -> None:
    http, auth = client
    for hook in ("order-select", "order-sign"):
        (card,) = check(http, auth, hook_request(r_ice_drafts, b_all_bundle(), hook))["cards"]
        assert card["indicator"] == "critical" and card["summary"].startswith("IND002")
        assert len(card["summary"]) <= 140 and DISCLAIMER in card["detail"]
        assert card["source"]["url"].startswith("https://pubmed.ncbi.nlm.nih.gov/")


def test_cds_dose_above_the_calculated_one_suggests_the_engines_dose(
    client: tuple[TestClient, dict[str, str]], r_ice_drafts: list[dict[str, Any]]
) -> None:
    """Matched by drug set (no instantiatesCanonical): a rituximab dose 16 % high."""
    http, auth = client
    patient = json.loads(DLBCL.read_text())
    assert check(http, auth, hook_request(r_ice_drafts, patient)) == {"cards": []}
    drafts = copy.deepcopy(r_ice_drafts)
    for draft in drafts:
        del draft["instantiatesCanonical"]
    dose = drafts[0]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    correct, dose["value"] = dose["value"], 800
    (card,) = check(http, auth, hook_request(drafts, patient))["cards"]
    assert card["indicator"] == "warning" and card["summary"].startswith("DOSE outside tolerance")
    assert card["selectionBehavior"] == "at-most-one"
    (action,) = card["suggestions"][0]["actions"]
    assert action["type"] == "update"
    model_class("MedicationRequest", "r4").model_validate(action["resource"])
    assert action["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == correct


def test_cds_says_when_the_regimen_is_unclear(
    client: tuple[TestClient, dict[str, str]], r_ice_drafts: list[dict[str, Any]]
) -> None:
    http, auth = client
    (rituximab,) = [d for d in copy.deepcopy(r_ice_drafts) if d["medicationCodeableConcept"]["text"] == "riTUXimab"]
    del rituximab["instantiatesCanonical"]
    (card,) = check(http, auth, hook_request([rituximab], json.loads(DLBCL.read_text())))["cards"]
    assert card["indicator"] == "info" and card["summary"].startswith("REGIMEN")
    assert "suggestions" not in card


def test_cds_refuses_bad_requests(
    client: tuple[TestClient, dict[str, str]], r_ice_drafts: list[dict[str, Any]]
) -> None:
    http, auth = client
    request = hook_request(r_ice_drafts, json.loads(DLBCL.read_text()))
    assert check(http, auth, {**request, "hook": "patient-view"}, 422)["error"]["field"] == "hook"
    assert check(http, auth, {**request, "prefetch": {}}, 412)["error"]["field"] == "prefetch"
    wrong = copy.deepcopy(request)
    wrong["prefetch"]["patient"]["id"] = "p2"
    assert check(http, auth, wrong, 422)["error"]["field"] == "prefetch.patient"
    select = hook_request(r_ice_drafts, json.loads(DLBCL.read_text()), "order-select")
    del select["context"]["selections"]
    assert check(http, auth, select, 422)["error"]["field"] == "context.selections"
    response = http.post("/cds-services/chemo-order-check", content=b"[1,", headers=auth)
    assert response.status_code == 400


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*path, key))


HOSTILE = [None, 0, -1, "", "x", [], {}, True, 1e308, [1], {"a": 1}, "Patient/x", 10**20]


def mutations(request: dict[str, Any], count: int, seed: int) -> Iterator[dict[str, Any]]:
    """``count`` copies of ``request``, each with one element deleted or replaced by a value
    of the wrong kind (a fixed seed: the same cases every run)."""
    rng = random.Random(seed)
    paths = list(_paths(request))[1:]
    for _ in range(count):
        mutated, path = copy.deepcopy(request), rng.choice(paths)
        parent = mutated
        for key in path[:-1]:
            parent = parent[key]
        if rng.random() < 0.3:
            del parent[path[-1]]
        else:
            parent[path[-1]] = rng.choice(HOSTILE)
        yield mutated


def test_hostile_requests_get_an_answer_never_a_crash(r_ice_drafts: list[dict[str, Any]]) -> None:
    """One element of a valid $apply or CDS Hooks request broken at a time: an answer or a
    named refusal (InputError → 400/422, Unavailable → 412), never another exception (a 500)."""
    bundle = json.loads(DLBCL.read_text())
    for parameters in mutations(apply_parameters(bundle), 30, 1):
        assert server.apply("r-ice", json.dumps(parameters).encode(), "r4", engine).status in (200, 400, 404, 422)
    for request in mutations(hook_request(r_ice_drafts, bundle), 30, 2):
        with contextlib.suppress(InputError, cds_hooks.Unavailable):
            cds_hooks.check(request, engine)


def with_creatinine(bundle: dict[str, Any], mg_per_dl: float) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    for entry in changed["entry"]:
        codes = [c.get("code") for c in entry["resource"].get("code", {}).get("coding", [])]
        if entry["resource"]["resourceType"] == "Observation" and "2160-0" in codes:
            entry["resource"]["valueQuantity"]["value"] = mg_per_dl
    return changed


def test_cds_a_renal_band_is_info_a_hold_is_warning(
    client: tuple[TestClient, dict[str, str]], r_ice_drafts: list[dict[str, Any]]
) -> None:
    """CrCl ~51 mL/min: REN001 reduces etoposide and ifosfamide (info cards), so drafts made
    at CrCl 79 are DOSE warnings suggesting the engine's doses now (the reduced ones, and
    carboplatin's by Calvert with the new CrCl); ~40 mL/min: REN001 holds."""
    http, auth = client
    patient = with_creatinine(json.loads(DLBCL.read_text()), 1.4)
    calc = to_json(calculate(CalcRequest(patient=patient_data(patient)[0], regimen="r-ice")))
    cards = check(http, auth, hook_request(r_ice_drafts, patient))["cards"]
    assert [c["summary"][:6] for c in cards if c["indicator"] == "info"] == ["REN001", "REN001"]
    warnings = [c for c in cards if c["indicator"] == "warning"]
    assert warnings and all(c["summary"].startswith("DOSE outside tolerance") for c in warnings)
    final = {o["display_name"]: o["final"]["value"] for o in calc["orders"]}
    suggested = {}
    for card in warnings:
        resource = card["suggestions"][0]["actions"][0]["resource"]
        name = resource["medicationCodeableConcept"]["text"]
        suggested[name] = resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"]
    assert {"etoposide", "ifosfamide"} <= set(suggested)
    assert suggested == {name: final[name] for name in suggested}
    held = check(http, auth, hook_request(r_ice_drafts, with_creatinine(patient, 1.8)))["cards"]
    assert {(c["indicator"], c["summary"][:6]) for c in held} == {("warning", "REN001")}


def test_an_oversized_body_is_refused_in_each_endpoints_language(client: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = client
    body = b" " * (256 * 1024 + 1)
    fhir = http.post("/fhir/PlanDefinition/r-ice/$apply", content=body, headers=auth)
    assert fhir.status_code == 413 and fhir.json()["issue"][0]["expression"] == ["(body)"]
    cds = http.post("/cds-services/chemo-order-check", content=body, headers=auth)
    assert cds.status_code == 413 and cds.json()["error"]["field"] == "(body)"


def test_cds_reads_r5_drafts_by_their_drug_set(client: tuple[TestClient, dict[str, str]]) -> None:
    """R5 MedicationRequests (``medication.concept``, no ``instantiatesCanonical``) as the R5
    ``$apply`` gives them: R-ICE by its drugs, every dose the engine's, so no card."""
    http, auth = client
    patient = json.loads(DLBCL.read_text())
    response = http.post("/fhir/PlanDefinition/r-ice/$apply", json=apply_parameters(patient), headers={**auth, **R5})
    drafts = medication_requests(response.json())
    assert drafts and all("instantiatesCanonical" not in d and "concept" in d["medication"] for d in drafts)
    assert check(http, auth, hook_request(drafts, patient)) == {"cards": []}
