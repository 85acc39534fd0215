"""The workbench over HTTP, without a browser: security, roles, the JSON API, fragments.

Starlette's test client drives the real application on an SQLite record in a temporary
folder; each check is what a forged or careless request would try.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient
from web_fixtures import RIVERA_FORM, STAFF, add_staff

from chemo_orders.orderset import to_json
from chemo_orders.record import audit
from chemo_orders.record.orders import list_orders, show
from chemo_orders.record.schema import open_database
from chemo_orders.service import CalcRequest, DoseSettings, calculate
from chemo_orders.web.app import create_app
from chemo_orders.web.security import CSP, Throttle

PATIENT = {"mrn": "MRN-H1", **RIVERA_FORM}
API_PATIENT = {  # the same patient as a patient file: an id for the MRN, the markers nested
    "id": "MRN-API",
    **{field: value for field, value in RIVERA_FORM.items() if field not in ("cd20", "philadelphia")},
    "markers": {"cd20_percent": 40, "philadelphia": "negative"},
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, str, str]]:
    """(client, database URL, pam's API token) on a fresh record."""
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    token = add_staff(url)
    with TestClient(create_app(open_database(url)), base_url="http://127.0.0.1") as client:
        yield client, url, token


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, name: str) -> str:
    """Signs ``name`` in; returns the CSRF token of the session."""
    form = client.get("/signin").text
    token = re.search(r'name="signin_token" value="([^"]+)"', form)
    assert token
    response = client.post(
        "/signin",
        data={"username": name, "password": STAFF[name][1], "signin_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf(client.get("/patients").text)


def new_patient(client: TestClient, token: str, **changes: str) -> None:
    response = client.post("/patients", data={**PATIENT, **changes, "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text


def order_form(token: str, regimen: str, **changes: str) -> dict[str, str]:
    fields = {"height": "165 cm", "weight": "68 kg", "serum_creatinine": "0.8 mg/dL"}
    return {"csrf_token": token, "regimen": regimen, **fields, **changes}


def prepared_by_pam(client: TestClient) -> str:
    """pam saves the test patient, prepares R-hyper-CVAD course A and signs out; the order's path."""
    token = sign_in(client, "pam")
    new_patient(client, token)
    response = client.post("/patients/MRN-H1/orders", data=order_form(token, "r-hyper-cvad-a"), follow_redirects=False)
    client.post("/signout", data={"csrf_token": token})
    return str(response.headers["location"])


def test_every_response_carries_the_csp_and_no_store(site: tuple[TestClient, str, str]) -> None:
    client = site[0]
    for path in ("/signin", "/healthz", "/static/workbench.css", "/nowhere"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == CSP
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert client.get("/signin").headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script_or_style(site: tuple[TestClient, str, str]) -> None:
    client = site[0]
    token = sign_in(client, "pam")
    new_patient(client, token)
    pages = [client.get(p).text for p in ("/signin", "/patients", "/patients/new", "/patients/MRN-H1", "/queue")]
    for page in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)", page)
        assert "<style" not in page and " style=" not in page and " on" + "click=" not in page
        assert '"includeIndicatorStyles": false' in page


def test_session_cookie_flags(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    add_staff(url)
    for secure in (False, True):
        with TestClient(create_app(open_database(url), secure=secure), base_url="https://127.0.0.1") as client:
            token = re.search(r'name="signin_token" value="([^"]+)"', client.get("/signin").text)
            assert token
            form = {"username": "pam", "password": STAFF["pam"][1], "signin_token": token.group(1)}
            response = client.post("/signin", data=form, follow_redirects=False)
            cookie = next(c for c in response.headers.get_list("set-cookie") if "chemo_session=" in c)
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
            assert ("Secure" in cookie) == secure and cookie.startswith("__Host-") == secure
            assert ("strict-transport-security" in response.headers) == secure


def test_signed_out_requests_are_refused(site: tuple[TestClient, str, str]) -> None:
    client = site[0]
    response = client.get("/patients/MRN-H1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin?next=%2Fpatients%2FMRN-H1"
    assert client.post("/patients", data=PATIENT).status_code == 401
    htmx = client.post("/patients/MRN-H1/doses", data={}, headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/signin"


def test_sign_out_ends_the_session_on_the_server(site: tuple[TestClient, str, str]) -> None:
    client = site[0]
    token = sign_in(client, "pam")
    cookie = client.cookies.get("chemo_session")
    assert client.post("/signout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    client.cookies.set("chemo_session", cookie or "")  # a copy kept by whoever stole it
    assert client.get("/patients", follow_redirects=False).status_code == 303


def test_a_form_without_the_csrf_token_changes_nothing(site: tuple[TestClient, str, str]) -> None:
    client, url, _ = site
    token = sign_in(client, "pam")
    assert client.post("/patients", data=PATIENT).status_code == 403
    assert client.post("/patients", data={**PATIENT, "csrf_token": token[:-1] + "x"}).status_code == 403
    assert "MRN-H1" not in client.get("/patients").text
    new_patient(client, token)
    assert client.post("/patients/MRN-H1/orders", data={**order_form("", "r-hyper-cvad-a")}).status_code == 403
    assert list_orders(open_database(url)) == []


def test_sign_in_form_needs_its_own_token(site: tuple[TestClient, str, str]) -> None:
    client = site[0]
    client.get("/signin")
    form = {"username": "pam", "password": STAFF["pam"][1], "signin_token": "forged"}
    assert client.post("/signin", data=form, follow_redirects=False).status_code == 403


def test_sign_in_is_throttled_after_repeated_failures(site: tuple[TestClient, str, str]) -> None:
    client = site[0]
    free = Throttle().free_failures
    client.app.state.workbench.throttle = Throttle(base_seconds=3600)  # (a test must not race the clock)

    def attempt(password: str) -> int:
        token = re.search(r'name="signin_token" value="([^"]+)"', client.get("/signin").text)
        assert token
        form = {"username": "phil", "password": password, "signin_token": token.group(1)}
        return client.post("/signin", data=form, follow_redirects=False).status_code

    assert [attempt("wrong") for _ in range(free)] == [401] * free
    assert attempt(STAFF["phil"][1]) == 429  # even the right password waits: nothing is checked


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=40))
def test_throttle_waits_grow_with_failures_and_stop_at_the_cap(fewer: int, more: int) -> None:
    fewer, more = sorted((fewer, more))
    waits = []
    for count in (fewer, more):
        throttle = Throttle()
        for _ in range(count):
            throttle.failed(("user:x",), now=100.0)
        waits.append(throttle.wait_seconds(("user:x",), now=100.0))
    assert waits[0] <= waits[1] <= Throttle().cap_seconds
    assert (waits[0] == 0) == (fewer <= Throttle().free_failures - 1)


def test_roles_are_enforced_on_the_server(site: tuple[TestClient, str, str]) -> None:
    client, url, _ = site
    token = sign_in(client, "nina")  # a nurse reads; she enters and prepares nothing
    assert client.get("/patients").status_code == 200
    assert client.post("/patients", data={**PATIENT, "csrf_token": token}).status_code == 403
    assert client.get("/audit").status_code == 403
    client.post("/signout", data={"csrf_token": token})
    order = prepared_by_pam(client)
    token = sign_in(client, "priya")  # a prescriber does not verify or release
    assert client.post(f"{order}/verify", data={"csrf_token": token}).status_code == 403
    assert client.post(f"{order}/release", data={"csrf_token": token}).status_code == 403
    assert show(open_database(url), int(order.rsplit("/", 1)[1])).state == "prepared"


def test_a_prescriber_cannot_acknowledge_a_hold(site: tuple[TestClient, str, str]) -> None:
    client, url, _ = site
    token = sign_in(client, "priya")
    new_patient(client, token, birth_date="1958-05-30", name="Lindqvist, Erik", mrn="MRN-OLD")
    form = order_form(token, "hyper-cvad-a", acknowledge="AGE001", reason="fit")
    assert "needs a pharmacist" in client.post("/patients/MRN-OLD/doses", data=form).text
    forged = order_form(token, "hyper-cvad-a", ack="AGE001", ack_reason="fit")
    assert client.post("/patients/MRN-OLD/orders", data=forged).status_code == 403
    assert list_orders(open_database(url)) == []


def test_live_doses_are_a_fragment_for_htmx_and_a_page_otherwise(site: tuple[TestClient, str, str]) -> None:
    client = site[0]
    token = sign_in(client, "pam")
    new_patient(client, token)
    form = order_form(token, "r-hyper-cvad-a")
    fragment = client.post("/patients/MRN-H1/doses", data=form, headers={"HX-Request": "true"}).text
    page = client.post("/patients/MRN-H1/doses", data=form).text
    assert fragment.lstrip().startswith('<div id="doses"') and "<html" not in fragment
    assert page.startswith("<!DOCTYPE html>") and '<div id="doses"' in page
    assert fragment.count('<tbody class="order') == 8 and "530 mg" in fragment and "530 mg" in page


def test_a_recalculation_reports_its_wait_its_work_and_the_works_processor_time(
    site: tuple[TestClient, str, str],
) -> None:
    """Server-Timing (what bench/web.py reads): the wait for a worker, the work, the work's own
    processor time (never more than the work's wall time), and the whole time in the app."""
    client = site[0]
    token = sign_in(client, "pam")
    new_patient(client, token)
    response = client.post("/patients/MRN-H1/doses", data=order_form(token, "r-ice"), headers={"HX-Request": "true"})
    header = ", ".join(response.headers.get_list("server-timing"))
    timing = {name: float(value) for name, value in re.findall(r"(\w+);dur=([\d.]+)", header)}
    assert set(timing) == {"queue", "app", "cpu", "total"}
    assert 0 < timing["cpu"] <= timing["app"] <= timing["total"]


def test_bad_measurements_name_the_field(site: tuple[TestClient, str, str]) -> None:
    client = site[0]
    token = sign_in(client, "pam")
    response = client.post("/patients", data={**PATIENT, "height": "175", "weight": "", "csrf_token": token})
    assert response.status_code == 422 and "Not saved: 2 problems" in response.text
    assert "Height: missing unit" in response.text and "Weight: required field is missing" in response.text
    assert 'aria-invalid="true"' in response.text and 'value="175"' in response.text  # what was typed stays
    response = client.post("/patients", data={**PATIENT, "cd20": "lots", "csrf_token": token})
    assert "CD20 (%): expected a number" in response.text
    new_patient(client, token, height="68.9 in")
    fragment = client.post(
        "/patients/MRN-H1/doses",
        data=order_form(token, "r-hyper-cvad-a", weight="68 stone"),
        headers={"HX-Request": "true"},
    ).text
    assert "Weight:" in fragment and "<table" not in fragment


def test_saving_new_measurements_sends_a_verified_order_back(site: tuple[TestClient, str, str]) -> None:
    client, url, _ = site
    order = prepared_by_pam(client)
    token = sign_in(client, "phil")
    reason = {"csrf_token": token, "verify_reason": "checked against the protocol sheet by hand"}
    assert client.post(f"{order}/verify", data=reason, follow_redirects=False).status_code == 303
    saved = client.post("/patients/MRN-H1", data={**PATIENT, "weight": "75 kg", "csrf_token": token})
    assert "cancelled and prepared again as order 2" in saved.text
    database = open_database(url)
    assert show(database, 1).state == "cancelled" and show(database, 2).state == "prepared"
    assert show(database, 2).calc["patient"]["weight_kg"] == 75
    assert "Rivera, Ana" in client.get("/queue").text
    with database.read() as session:
        assert audit.verify(session) == []


def test_a_released_order_is_flagged_when_the_patient_changes_and_nurses_see_only_released(
    site: tuple[TestClient, str, str],
) -> None:
    """Issue 22: a nurse never sees an order before release; after release, a weight change
    flags it (WGT001 past 10 %) on its page and in the queue; the audit page is a table."""
    client = site[0]
    order = prepared_by_pam(client)
    token = sign_in(client, "nina")
    assert client.get(order).status_code == 404 and client.get(f"{order}/pdf").status_code == 404
    assert "order 1)" not in client.get("/queue?state=prepared").text
    client.post("/signout", data={"csrf_token": token})
    token = sign_in(client, "phil")
    client.post(f"{order}/verify", data={"csrf_token": token, "verify_reason": "checked against the sheet by hand"})
    client.post(f"{order}/release", data={"csrf_token": token, "labs_checked": "ANC 2.1, platelets 180"})
    saved = client.post("/patients/MRN-H1", data={**PATIENT, "weight": "60 kg", "csrf_token": token}).text
    assert "Released order 1 was calculated on another" in saved
    page = client.get(order).text
    assert "Out of date" in page and "WGT001" in page and "−11.8%" in page
    queue = client.get("/queue?state=released&patient=rivera&sort=newest").text
    assert "Out of date" in queue and "order 1)" in queue
    assert "order 1)" not in client.get("/queue?state=released&patient=nobody").text
    trail = client.get("/audit?patient=MRN-H1").text
    assert "order released" in trail and "patient saved" in trail and '"patient_id"' not in trail


def test_no_patient_data_in_the_log(site: tuple[TestClient, str, str], caplog: pytest.LogCaptureFixture) -> None:
    client = site[0]
    caplog.set_level(logging.DEBUG)
    token = sign_in(client, "pam")
    new_patient(client, token, mrn="MRN-SECRET-7", name="Zyxwv, Secretname")
    client.get("/patients?q=Secretname")
    client.post("/patients/MRN-SECRET-7/doses", data=order_form(token, "r-ice", weight="68 pounds"))
    client.post("/patients/MRN-SECRET-7/orders", data=order_form(token, "r-hyper-cvad-a"))
    server_side = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any("live_doses" in line for line in server_side), "the requests were logged"
    for secret in ("SECRET-7", "Secretname", "1981-03-14", "68 kg", "pounds"):
        assert not [line for line in server_side if secret in line], secret


def test_a_body_over_a_megabyte_is_refused(site: tuple[TestClient, str, str]) -> None:
    assert site[0].post("/signin", content=b"x" * (1024 * 1024 + 1)).status_code == 413


# The JSON API.


def api(client: TestClient, token: str | None, body: Any, path: str = "/api/calc") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(path, json=body, headers=headers)


def test_api_needs_a_valid_token(site: tuple[TestClient, str, str]) -> None:
    client, _, token = site
    body = {"patient": API_PATIENT, "regimen": "r-ice"}
    assert api(client, None, body).status_code == 401
    assert api(client, "not-a-token", body).status_code == 401
    assert client.get("/api/regimens").status_code == 401
    assert api(client, token, body).status_code == 200


def test_api_calc_is_the_calc_json_object(site: tuple[TestClient, str, str]) -> None:
    client, _, token = site
    body = {"patient": API_PATIENT, "regimen": "r-hyper-cvad-a", "cycle": 1, "date": "2026-11-22"}
    response = api(client, token, body)
    import datetime as dt

    expected = to_json(calculate(CalcRequest(API_PATIENT, "r-hyper-cvad-a", 1, DoseSettings(on=dt.date(2026, 11, 22)))))
    assert response.status_code == 200 and response.json() == expected
    blocked = api(client, token, {**body, "regimen": "r-ice"})
    assert blocked.status_code == 200 and blocked.json()["status"] == "blocked"
    assert "IND002" in {f["rule"] for f in blocked.json()["findings"]} and blocked.json()["orders"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"patient": {**API_PATIENT, "height": "175"}, "regimen": "r-ice"}, "patient.height"),
        ({"patient": {**API_PATIENT, "weight": "68 stone"}, "regimen": "r-ice"}, "patient.weight"),
        (
            {"patient": {**API_PATIENT, "markers": {"cd20_percent": 140}}, "regimen": "r-ice"},
            "patient.markers.cd20_percent",
        ),
        ({"patient": API_PATIENT, "regimen": "r-ice", "cycle": 0}, "cycle"),
        ({"patient": API_PATIENT, "regimen": "r-ice", "cycle": "1"}, "cycle"),
        ({"patient": API_PATIENT, "regimen": "r-ice", "cycles": 1}, "cycles"),
        ({"patient": API_PATIENT, "regimen": "r-ice", "date": "22/11/2026"}, "date"),
        ({"patient": API_PATIENT}, "regimen"),
        ({"regimen": "r-ice"}, "patient"),
        ([1, 2], "(body)"),
    ],
)
def test_api_bad_input_is_422_naming_the_field(site: tuple[TestClient, str, str], body: Any, field: str) -> None:
    client, _, token = site
    response = api(client, token, body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field and response.json()["error"]["message"]


def test_api_regimens_and_options(site: tuple[TestClient, str, str]) -> None:
    client, _, token = site
    regimens = client.get("/api/regimens", headers={"Authorization": f"Bearer {token}"}).json()["regimens"]
    assert {"r-ice", "r-hyper-cvad-a"} <= {r["id"] for r in regimens}
    options = api(client, token, {"patient": API_PATIENT}, "/api/options").json()["options"]
    first_misfit = next(i for i, o in enumerate(options) if not o["fits"])
    assert all(o["fits"] for o in options[:first_misfit]) and not any(o["fits"] for o in options[first_misfit:])
    assert next(o for o in options if o["regimen"] == "r-ice")["rules"] == ["IND002"]


def test_a_dose_change_needs_a_reason_shows_its_arithmetic_and_holds_above_standard(
    site: tuple[TestClient, str, str],
) -> None:
    client = site[0]
    token = sign_in(client, "pam")
    new_patient(client, token)
    headers = {"HX-Request": "true"}
    # cyclophosphamide 300 mg/m² × 1.765 m² = 529.5 → 530 mg; −20 % = 424 mg
    change = {"change_key": "cyclophosphamide@IV", "change_value": "-20%"}
    no_reason = client.post(
        "/patients/MRN-H1/doses", data={**order_form(token, "r-hyper-cvad-a"), **change}, headers=headers
    )
    assert "needs a reason" in no_reason.text
    reduced = client.post(
        "/patients/MRN-H1/doses",
        data={**order_form(token, "r-hyper-cvad-a"), **change, "change_reason": "grade 4 neutropenia"},
        headers=headers,
    ).text
    assert "424 mg" in reduced and "grade 4 neutropenia" in reduced and "−106 mg, −20%" in reduced
    above = client.post(
        "/patients/MRN-H1/doses",
        data={
            **order_form(token, "r-hyper-cvad-a"),
            "change_key": "cyclophosphamide@IV",
            "change_value": "+10%",
            "change_reason": "protocol amendment",
        },
        headers=headers,
    ).text
    assert "DOS003" in above and "Acknowledge" in above
    prepared = client.post(
        "/patients/MRN-H1/orders",
        data={**order_form(token, "r-hyper-cvad-a"), **change, "change_reason": "grade 4 neutropenia"},
        follow_redirects=False,
    )
    assert prepared.status_code == 303
    order = client.get(prepared.headers["location"]).text
    assert "424 mg" in order and "grade 4 neutropenia" in order


def test_the_blind_check_shows_no_prepared_dose_before_the_verifier_is_right(site: tuple[TestClient, str, str]) -> None:
    """Issue 19: order page, its PDF, the patient page, the API and a discrepancy answer all keep
    the preparer's doses from the verifier until their own doses agree."""
    client, url, _ = site
    order = prepared_by_pam(client)
    token = sign_in(client, "phil")
    page = client.get(order).text
    assert "530 mg" not in page and 'table class="orders"' not in page
    assert client.get(f"{order}/pdf").status_code in (403, 409)
    patient_page = client.get("/patients/MRN-H1", params={"regimen": "r-hyper-cvad-a"}).text
    assert "530 mg" not in patient_page and "waits for your independent check" in patient_page
    wrong = {f"dose_{i}": "1 mg" for i in range(12)}
    answer = client.post(f"{order}/verify", data={"csrf_token": token, **wrong})
    assert answer.status_code == 409 and "530" not in answer.text and "disagree" in answer.text
    empty = client.post(f"{order}/verify", data={"csrf_token": token})
    assert empty.status_code == 409 and "needs a reason" in empty.text
    database = open_database(url)
    with database.read() as session:
        attempts = [e for e in audit.events(session) if e.action == "verify-discrepancy"]
    assert attempts and "cyclophosphamide" in attempts[-1].detail_json and "530" not in attempts[-1].detail_json
    assert show(database, 1).state == "prepared"
