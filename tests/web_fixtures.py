"""Fixtures of the workbench: a real server on a free loopback port, and Debian's Chromium.

The server is ``chemo-orders serve`` in a subprocess (uvicorn, as users run it) on an SQLite
record in a temporary folder, with a pharmacist pair, a prescriber, a nurse and an admin.
The browser is /usr/bin/chromium driven by Playwright (``scripts/setup.sh`` installs it;
``playwright install`` is never run). Both live for the test session; each test gets a
fresh browser context, so cookies never leak from one test to the next.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STAFF = {
    "pam": ("pharmacist", "pam-secret-1"),
    "phil": ("pharmacist", "phil-secret-2"),
    "priya": ("prescriber", "priya-secret-3"),
    "nina": ("nurse", "nina-secret-4"),
    "ada": ("admin", "ada-secret-5"),
}
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
# The adult B-ALL sample (CD20 40 %, Ph-negative) as the patient form posts it, without an MRN:
# R-hyper-CVAD fits, R-ICE is blocked (IND002).
RIVERA_FORM = {
    "name": "Rivera, Ana",
    "birth_date": "1981-03-14",
    "sex": "female",
    "height": "165 cm",
    "weight": "68 kg",
    "serum_creatinine": "0.8 mg/dL",
    "diagnosis": "b-all",
    "disease_status": "newly-diagnosed",
    "cd20": "40",
    "philadelphia": "negative",
}


@dataclass(frozen=True)
class Server:
    url: str
    db_url: str
    token: str  # pam's API token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_staff(db_url: str) -> str:
    """The test users (argon2 hashes, as in production); returns pam's API token."""
    from chemo_orders.record.schema import open_database
    from chemo_orders.record.users import NewUser, add_user, issue_token, prove

    database = open_database(db_url)
    with database.write() as session:
        for name, (role, password) in STAFF.items():
            add_user(session, NewUser(name, role, password))  # type: ignore[arg-type]
    pam = prove(database, "pam", password=STAFF["pam"][1])
    with database.write() as session:
        token = issue_token(session, pam)
    database.close()
    return token


def start_server(db_url: str, log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "chemo_orders.cli", "serve", "--db", db_url, "--port", str(port), *extra]
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped: {log.read_text()[-2000:]}")
        try:
            if httpx2.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"the server did not answer /healthz within 60 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("workbench")
    db_url = f"sqlite:///{folder / 'record.sqlite3'}"
    with pytest.MonkeyPatch.context() as env:  # this record's audit key, for the server too
        env.setenv("CHEMO_ORDERS_KEY_FILE", str(folder / "audit.key"))
        token = add_staff(db_url)
        process, url = start_server(db_url, folder / "server.log")
    yield Server(url, db_url, token)
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def _sized_page(browser: Any, server: Server, viewport: dict[str, int]) -> Iterator[Any]:
    """A page at a device's size on which axe-core can be injected (this context alone
    ignores the CSP) and downloads are kept."""
    context = browser.new_context(base_url=server.url, viewport=viewport, bypass_csp=True, accept_downloads=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Any, server: Server) -> Iterator[Any]:
    yield from _sized_page(browser, server, PHONE)


@pytest.fixture
def desktop(browser: Any, server: Server) -> Iterator[Any]:
    yield from _sized_page(browser, server, DESKTOP)


@pytest.fixture
def page_without_js(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()
