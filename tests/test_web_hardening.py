"""Issue 19, item 7 ("robust service") on the workbench, one regression test per finding.

A 1 MB ``/api/calc`` body held a worker for 12.7 s with any token; sign-in throttling trusted
``X-Forwarded-For``; the 413 answer lacked the security headers; a full disk printed SQL;
``serve --port``/``--workers`` and the form's percentages read non-ASCII digits. Some checks
drive the ASGI application directly, so that what it reads of a body can be counted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient
from test_web_http import API_PATIENT, PATIENT, new_patient, sign_in
from web_fixtures import STAFF, add_staff

from chemo_orders import cli
from chemo_orders.cli import serve as web_cli
from chemo_orders.cli.exits import EXIT_INPUT, EXIT_INTERNAL
from chemo_orders.record.db import database_problem
from chemo_orders.record.schema import open_database
from chemo_orders.web.app import API_MAX_BODY, FORM_MAX_BODY, SIGNIN_MAX_BODY, create_app
from chemo_orders.web.security import CSP, Throttle, client_address, proxy_network

SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, str, str]]:
    """(client, database URL, pam's API token) on a fresh record; errors become responses."""
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    token = add_staff(url)
    app = create_app(open_database(url))
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        yield client, url, token


def assert_security_headers(headers: Any) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, name


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ASGI-level: what the application reads of a body.


class Body:
    """An ASGI ``receive`` giving ``chunks`` (then the end of the body), counting each read."""

    def __init__(self, chunks: list[bytes] | None = None, endless: bytes = b"") -> None:
        self.chunks = list(chunks or [])
        self.endless = endless  # when set: this chunk forever (a client that never stops)
        self.reads = 0
        self.bytes = 0

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        if self.endless:
            self.bytes += len(self.endless)
            return {"type": "http.request", "body": self.endless, "more_body": True}
        if self.chunks:
            chunk = self.chunks.pop(0)
            self.bytes += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}
        return {"type": "http.disconnect"}


def asgi(app: Any, method: str, path: str, headers: dict[str, str], body: Body) -> tuple[int, dict[str, str], bytes]:
    """One request straight into the application: (status, headers, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # In a thread of its own: the browser tests' event loop may still be running in this one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, app(scope, body, send)).result()
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, answer


@pytest.fixture
def bare_app(tmp_path: Path) -> tuple[Any, str]:
    """(the application without a test client, pam's API token)."""
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    token = add_staff(url)
    return create_app(open_database(url)), token


# 1. Bodies bounded before they are read.


def test_a_declared_oversized_body_is_refused_unread(bare_app: tuple[Any, str]) -> None:
    app, token = bare_app
    for path, limit in (("/api/calc", API_MAX_BODY), ("/patients", FORM_MAX_BODY), ("/signin", SIGNIN_MAX_BODY)):
        body = Body([b"x" * 1024])
        headers = {"content-length": str(limit + 1), **bearer(token)}
        status, answer_headers, _ = asgi(app, "POST", path, headers, body)
        assert status == 413 and body.reads == 0, path
        assert_security_headers(answer_headers)


def test_a_streamed_body_is_refused_at_the_chunk_that_passes_the_limit(bare_app: tuple[Any, str]) -> None:
    """No Content-Length (chunked), or a false one: reading stops where the limit is passed."""
    app, token = bare_app
    chunk = b"a" * 4096
    for path, limit, headers in (
        ("/api/calc", API_MAX_BODY, {**bearer(token), "content-type": "application/json"}),
        ("/patients", FORM_MAX_BODY, {"content-type": "application/x-www-form-urlencoded"}),
        ("/signin", SIGNIN_MAX_BODY, {"content-type": "application/x-www-form-urlencoded", "content-length": "10"}),
    ):
        body = Body(endless=chunk)
        status, answer_headers, _ = asgi(app, "POST", path, headers, body)
        assert status == 413, path
        assert body.bytes <= limit + len(chunk), f"{path}: read {body.bytes} bytes past a limit of {limit}"
        assert_security_headers(answer_headers)


def test_413_speaks_the_endpoints_language_with_the_security_headers(site: tuple[TestClient, str, str]) -> None:
    client, _, token = site
    api = client.post("/api/calc", content=b"{" + b" " * API_MAX_BODY + b"}", headers=bearer(token))
    assert api.status_code == 413 and api.json()["error"]["field"] == "(body)"
    assert "256 KiB" in api.json()["error"]["message"]
    assert_security_headers(api.headers)
    form = client.post("/patients", content=b"x" * (FORM_MAX_BODY + 1))
    assert form.status_code == 413 and form.headers["content-type"].startswith("text/html")
    assert "<h1>Refused</h1>" in form.text and "128 KiB" in form.text
    assert_security_headers(form.headers)
    signin = client.post("/signin", data={"username": "pam", "password": "p" * SIGNIN_MAX_BODY})
    assert signin.status_code == 413
    assert_security_headers(signin.headers)


def test_a_form_of_too_many_fields_is_a_400_page(site: tuple[TestClient, str, str]) -> None:
    client = site[0]
    response = client.post("/patients", data={f"f{i}": "1" for i in range(501)})
    assert response.status_code == 400 and "Too many fields" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert_security_headers(response.headers)


def test_bodies_within_the_limits_still_work(site: tuple[TestClient, str, str]) -> None:
    client, _, token = site
    token_csrf = sign_in(client, "pam")
    allergies = "\n".join(["latex (rash)"] * 100)  # the most the patient model takes
    new_patient(client, token_csrf, allergies=allergies)
    assert client.post("/api/calc", json={"patient": API_PATIENT, "regimen": "r-ice"}, headers=bearer(token)).is_success


# 2. The token before the body.


def test_a_wrong_token_is_401_without_reading_the_body(bare_app: tuple[Any, str]) -> None:
    app, token = bare_app
    for headers in ({"authorization": "Bearer not-a-token"}, {}, {"authorization": "Basic cGFtOnB3"}):
        body = Body(endless=b"{" * 4096)
        status, answer_headers, answer = asgi(app, "POST", "/api/calc", headers, body)
        assert status == 401 and body.reads == 0
        assert b'"field":"Authorization"' in answer
        assert_security_headers(answer_headers)
    body = Body([b'{"patient": {}, "regimen": "r-ice"}'])
    status, _, answer = asgi(app, "POST", "/api/calc", bearer(token), body)
    assert status == 422 and body.reads >= 1  # with the right token the body is read (and judged)


def test_api_bodies_are_read_by_the_bounded_json_loader(site: tuple[TestClient, str, str]) -> None:
    client, _, token = site
    cases = {
        b'{"patient": {"id": "A", "id": "B"}, "regimen": "r-ice"}': "id",  # a duplicate key
        b'{"patient": {"weight": NaN}, "regimen": "r-ice"}': "(body)",
        b"[" * 5000 + b"]" * 5000: "(body)",  # nesting: once a RecursionError and a 500
        b'{"patient": ' + b"\xff" + b"}": "(body)",  # not UTF-8
    }
    for raw, field in cases.items():
        response = client.post("/api/calc", content=raw, headers=bearer(token))
        assert response.status_code == 422, raw[:40]
        assert response.json()["error"]["field"] == field, raw[:40]


# 3. Per-request CPU bound: patient data beyond the documented sizes is refused first.


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"allergies": ["latex (rash)"] * 101}, "patient.allergies"),
        ({"history": [{"condition": "pancreatitis"}] * 101}, "patient.history"),
        ({"medications": ["ondansetron"] * 101}, "patient.medications"),
        ({"prior_courses": [{"regimen": "r-ice", "cycle": 1, "date": "2020-01-01"}] * 501}, "patient.prior_courses"),
        ({"markers": {f"cd{i}_percent": 1 for i in range(101)}}, "patient.markers"),
        ({"labs": {f"x{i}": "1" for i in range(101)}}, "patient.labs"),
        ({"labs": {"ldh": "9" * 201}}, "patient.labs.ldh"),
        ({"markers": {"k" * 201: "1"}}, "patient.markers"),
        ({"name": "N" * 1001}, "patient.name"),
        ({"allergies": [{"substance": "latex " * 40}]}, "patient.allergies.0.substance"),
    ],
)
def test_patient_data_beyond_the_documented_sizes_is_422_naming_the_field(
    site: tuple[TestClient, str, str], changes: dict[str, Any], field: str
) -> None:
    client, _, token = site
    body = {"patient": {**API_PATIENT, **changes}, "regimen": "r-hyper-cvad-a"}
    response = client.post("/api/calc", json=body, headers=bearer(token))
    assert response.status_code == 422 and response.json()["error"]["field"] == field


def test_the_largest_api_body_is_refused_before_any_work(site: tuple[TestClient, str, str]) -> None:
    """The 12.7 s request: as many allergies as fit in the body, with a valid token, are refused
    by size or by count before a calculation starts (speed itself is measured in bench/)."""
    client, _, token = site
    allergies = ["rituximab (anaphylaxis) " * 8] * 10_000
    raw = b'{"regimen": "r-ice", "patient": ' + repr({**API_PATIENT, "allergies": allergies}).encode() + b"}"
    assert len(raw) > API_MAX_BODY
    assert client.post("/api/calc", content=raw, headers=bearer(token)).status_code == 413
    body = {"patient": {**API_PATIENT, "allergies": allergies[:1200]}, "regimen": "r-ice"}
    response = client.post("/api/calc", json=body, headers=bearer(token))
    assert response.status_code == 422 and response.json()["error"]["field"] == "patient.allergies"


def test_the_form_refuses_too_many_allergies_naming_the_field(site: tuple[TestClient, str, str]) -> None:
    client = site[0]
    token = sign_in(client, "pam")
    allergies = "\n".join(["latex (rash)"] * 101)
    response = client.post("/patients", data={**PATIENT, "allergies": allergies, "csrf_token": token})
    assert response.status_code == 422 and "Allergies: too many entries (at most 100)" in response.text


# 4. Sign-in throttling keyed by the peer; forwarding headers only from a trusted proxy.


def test_client_address_reads_forwarding_headers_only_from_a_trusted_proxy() -> None:
    proxy = (proxy_network("10.0.0.5"), proxy_network("10.1.0.0/16"))
    xff = [("X-Forwarded-For", "6.6.6.6, 203.0.113.7")]
    assert client_address("192.0.2.1", xff, proxy) == "192.0.2.1"  # not a proxy: its headers are the client's
    assert client_address("192.0.2.1", xff, ()) == "192.0.2.1"
    assert client_address("10.0.0.5", xff, proxy) == "203.0.113.7"  # the right-most, added by the proxy
    chain = [("X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.1.2.3")]  # through two trusted proxies
    assert client_address("10.0.0.5", chain, proxy) == "203.0.113.7"
    forwarded = [("Forwarded", 'for=6.6.6.6;proto=https, for="[2001:db8::1]:4711"')]
    assert client_address("10.0.0.5", forwarded, proxy) == "2001:db8::1"
    assert client_address("10.0.0.5", [("forwarded", "for=198.51.100.2:80")], proxy) == "198.51.100.2"
    assert client_address("10.0.0.5", [*xff, *forwarded], proxy) == "203.0.113.7"  # X-Forwarded-For first
    for malformed in ("6.6.6.6, unknown", "6.6.6.6, _hidden", "", "1.1.1.1," * 30):
        assert client_address("10.0.0.5", [("X-Forwarded-For", malformed)], proxy) == "10.0.0.5", malformed
    assert client_address("10.0.0.5", [], proxy) == "10.0.0.5"
    assert client_address("::ffff:10.0.0.5", xff, proxy) == "203.0.113.7"
    assert client_address("testclient", xff, proxy) == "testclient"
    assert client_address(None, xff, proxy) == "unknown"


def _attempt(client: TestClient, name: str, password: str, forwarded_for: str) -> int:
    token = re.search(r'name="signin_token" value="([^"]+)"', client.get("/signin").text)
    assert token
    form = {"username": name, "password": password, "signin_token": token.group(1)}
    headers = {"X-Forwarded-For": forwarded_for, "Forwarded": f"for={forwarded_for}"}
    return client.post("/signin", data=form, headers=headers, follow_redirects=False).status_code


def test_forged_forwarding_headers_do_not_escape_the_throttle(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    add_staff(url)
    free = Throttle().free_failures
    with TestClient(create_app(open_database(url)), client=("127.0.0.1", 40000)) as client:
        client.app.state.workbench.throttle = Throttle(base_seconds=3600)
        assert [_attempt(client, "phil", "wrong", f"198.51.100.{i}") for i in range(free)] == [401] * free
        # another user name, another forged address: the peer's address is still throttled
        assert _attempt(client, "pam", STAFF["pam"][1], "203.0.113.99") == 429


def test_a_trusted_proxys_forwarding_header_names_the_client(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    add_staff(url)
    free = Throttle().free_failures
    app = create_app(open_database(url), trusted_proxies=(proxy_network("127.0.0.1"),))
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        client.app.state.workbench.throttle = Throttle(base_seconds=3600)
        assert [_attempt(client, "phil", "wrong", "198.51.100.1") for _ in range(free)] == [401] * free
        assert _attempt(client, "pam", STAFF["pam"][1], "198.51.100.1") == 429  # that client waits
        assert _attempt(client, "pam", STAFF["pam"][1], "198.51.100.2") == 303  # others behind the proxy do not


def test_serve_takes_trusted_proxies_and_turns_uvicorns_proxy_headers_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **settings: seen.update(app=app, **settings))
    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    argv = ["serve", "--db", url, "--trusted-proxy", "10.0.0.5", "--trusted-proxy", "fd00::/8", "--port", "8123"]
    assert cli.main(argv) == 0
    assert seen["proxy_headers"] is False and seen["port"] == 8123
    trusted = seen["app"].state.workbench.trusted_proxies
    assert trusted == (ipaddress.ip_network("10.0.0.5/32"), ipaddress.ip_network("fd00::/8"))


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--trusted-proxy", "proxy.example"],
        ["serve", "--trusted-proxy", "10.0.0.300"],
        ["serve", "--port", "٨٠٠٠"],  # Arabic-Indic 8000: int() read it
        ["serve", "--port", "8_000"],
        ["serve", "--port", "0"],
        ["serve", "--port", "65536"],
        ["serve", "--workers", "２"],  # fullwidth 2
        ["serve", "--workers", "0"],
        ["serve", "--workers", "33"],
    ],
)
def test_serve_options_are_ascii_numbers_and_addresses(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == EXIT_INPUT  # refused before anything opens or binds
    assert argv[1] in capsys.readouterr().err
    assert web_cli.MAX_WORKERS == 32


# 5. Every refusal and error carries the security headers.


def test_every_4xx_and_5xx_carries_the_security_headers(
    site: tuple[TestClient, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, token = site
    answers = [
        client.get("/nowhere"),  # 404
        client.put("/patients"),  # 405
        client.post("/api/calc", json={}),  # 401
        client.post("/api/calc", json={"patient": {}}, headers=bearer(token)),  # 422
        client.post("/patients", data=PATIENT),  # 401 signed out
        client.post("/patients", content=b"x" * (FORM_MAX_BODY + 1)),  # 413
    ]
    assert [a.status_code for a in answers] == [404, 405, 401, 422, 401, 413]

    def broken(*args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("chemo_orders.web.api._authorized", broken)
    answers.append(client.post("/api/calc", json={}, headers=bearer(token)))
    assert answers[-1].status_code == 500 and answers[-1].json()["error"]["field"] == "(request)"
    for answer in answers:
        assert_security_headers(answer.headers)


# 6. Errors never print SQL.


def _disk_full_error(tmp_path: Path) -> OperationalError:
    """A real SQLite "database or disk is full", carrying its INSERT and a patient's name."""
    engine = create_engine(f"sqlite:///{tmp_path / 'full.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE patients (name TEXT)"))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA max_page_count = 2")
            connection.execute(text("INSERT INTO patients VALUES (:name)"), {"name": "Zyxwv, Secretname" * 1000})
    except OperationalError as error:
        assert "INSERT INTO patients" in str(error) and "Secretname" in str(error)
        return error
    finally:
        engine.dispose()
    raise AssertionError("the database did not fill up")


def test_database_problem_names_the_problem_and_nothing_of_the_statement(tmp_path: Path) -> None:
    full = _disk_full_error(tmp_path)
    assert database_problem(full) == "the record could not be written: disk full?"
    assert database_problem(sqlite3.OperationalError("database is locked")) == (
        "the record could not be read or written: the record is busy (locked by another process): try again"
    )
    odd = OperationalError("SELECT secret FROM patients", {"mrn": "MRN-SECRET"}, sqlite3.OperationalError("odd"))
    assert database_problem(odd) == "the record could not be read or written (OperationalError)"
    assert database_problem(ValueError("x")) is None


def test_the_cli_prints_one_line_without_sql_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    full = _disk_full_error(tmp_path)

    def command(args: Any) -> int:
        raise full

    monkeypatch.setitem(cli.COMMANDS, "regimens", command)
    assert cli.main(["regimens"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err == "chemo-orders: error: the record could not be written: disk full?\n"


@pytest.fixture
def full_disk() -> Iterator[None]:
    """Every new SQLite connection may not grow its file: a write that needs a page fails."""

    def limit(connection: Any, _: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    event.listen(Engine, "connect", limit)
    yield
    event.remove(Engine, "connect", limit)


def test_the_web_answers_503_without_sql_on_a_full_disk(
    site: tuple[TestClient, str, str], full_disk: None, caplog: pytest.LogCaptureFixture
) -> None:
    client = site[0]
    csrf = sign_in(client, "pam")
    client.app.state.workbench.database.engine.dispose()  # new connections, each with the limit
    caplog.set_level(logging.DEBUG)
    name = "Zyxwv, Secretname"
    form = {**PATIENT, "name": name, "allergies": "\n".join(["latex (rash)"] * 100), "csrf_token": csrf}
    response = client.post("/patients", data=form)
    assert response.status_code == 503 and "The record is unavailable" in response.text
    assert_security_headers(response.headers)
    for leaked in ("INSERT", "SELECT", "Secretname", "sqlite", "[SQL"):
        assert leaked not in response.text
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("chemo_orders")]
    assert any("disk full?" in line for line in logged)
    assert not [line for line in logged if "Secretname" in line or "INSERT" in line]


def test_the_api_and_healthz_answer_503_when_the_record_fails(
    site: tuple[TestClient, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, token = site
    said = sqlite3.OperationalError("disk I/O error")
    full = OperationalError("SELECT * FROM api_tokens WHERE digest = ?", ("secret",), said)

    def failing(*args: Any) -> Any:
        raise full

    sign_in(client, "pam")
    monkeypatch.setattr(type(client.app.state.workbench.database), "read", failing)
    api = client.post("/api/calc", json={}, headers=bearer(token))
    assert api.status_code == 503 and api.json()["error"]["field"] == "(record)"
    assert "secret" not in api.text and "SELECT" not in api.text
    health = client.get("/healthz")
    assert health.status_code == 503 and "SELECT" not in health.text
    page = client.get("/patients")
    assert page.status_code == 503 and "SELECT" not in page.text
    for answer in (api, health, page):
        assert_security_headers(answer.headers)


# 7. ASCII digits in the form's percentages.


@pytest.mark.parametrize("typed", ["٥", "1_0", "nan", "inf", "1e1", "-5", "５"])
def test_form_percentages_take_ascii_digits_only(site: tuple[TestClient, str, str], typed: str) -> None:
    client = site[0]
    token = sign_in(client, "pam")
    response = client.post("/patients", data={**PATIENT, "cd20": typed, "csrf_token": token})
    assert response.status_code == 422 and "CD20 (%): expected a number from 0 to 100" in response.text
    assert "MRN-H1" not in client.get("/patients").text


def test_form_percentages_in_ascii_are_saved(site: tuple[TestClient, str, str]) -> None:
    client = site[0]
    token = sign_in(client, "pam")
    new_patient(client, token, cd20="40.5 %")
    assert 'value="40.5"' in client.get("/patients/MRN-H1/edit").text
