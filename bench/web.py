"""Workbench load run (issue 14): live recalculation and PDF download under concurrent clients.

Run:  .venv/bin/python bench/web.py [--clients 20] [--seconds 30] [--workers 2] [--phases live,pdf]

Starts ``chemo-orders serve --workers N`` on a free 127.0.0.1 port with a throwaway SQLite
record, signs each client in (its own session), enters one patient and prepares one
R-hyper-CVAD order, then runs each phase for ``--seconds`` with ``--clients`` concurrent
clients, each sending its next request as soon as the last is answered: ``live`` is the live
dose table (POST /patients/MRN/doses as htmx sends it, a different weight each time), ``typing``
the same requests at the pace of people typing without a pause (each client at most one per
400 ms, the form's debounce: the load of that many pharmacists at once, not a saturation), ``pdf``
the order's PDF (re-rendered from the record every time), ``mixed`` one PDF in ten live
requests, ``plan`` the treatment-plan page of a patient with eight hyper-CVAD courses and
eight saved versions (one client, one request after another: the page's own time). Bounded
in time and in clients, loopback only; the load generator shares the machine's cores with
the server. The throwaway record has its own audit key in the same temporary folder.

Reports p50/p95/p99 per endpoint twice: as the client saw it (queueing included) and as the
server measured it (its ``Server-Timing`` header: from the request's arrival in the app to
its response; the work alone, wall time in the worker thread; and the work's own processor
time, which leaves out waiting for a core or for the interpreter lock), and the errors (any
status but 200). Speed is measured, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the browser tests' server fixture and users
from web_fixtures import RIVERA_FORM, STAFF, add_staff, start_server  # noqa: E402

PATIENT = {**RIVERA_FORM, "mrn": "MRN-BENCH", "name": "Bench, Patient"}


# The patient form recalculates 400 ms after the last change (hx-trigger "change delay:400ms"):
# a person typing without a pause sends at most one recalculation in that time.
TYPING_INTERVAL_S = 0.4


@dataclass
class Samples:
    client_ms: list[float] = field(default_factory=list)
    server_ms: dict[str, list[float]] = field(default_factory=lambda: {"app": [], "cpu": [], "queue": [], "total": []})
    errors: int = 0


def server_timing(response: httpx2.Response) -> dict[str, float]:
    """``Server-Timing``: app (the work), cpu (the processor time of the work itself), queue
    (waiting for a worker), total (both, in the app)."""
    header = ", ".join(response.headers.get_list("server-timing"))
    return {name: float(value) for name, value in re.findall(r"(\w+);dur=([\d.]+)", header)}


async def signed_in(url: str, name: str) -> tuple[httpx2.AsyncClient, str]:
    client = httpx2.AsyncClient(base_url=url, timeout=60, follow_redirects=True)
    page = (await client.get("/signin")).text
    token = re.search(r'name="signin_token" value="([^"]+)"', page)
    assert token
    form = {"username": name, "password": STAFF[name][1], "signin_token": token.group(1)}
    response = await client.post("/signin", data=form)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert csrf, "sign-in failed"
    return client, csrf.group(1)


async def setup(url: str) -> str:
    """One patient and one prepared order; returns the order's path."""
    client, csrf = await signed_in(url, "pam")
    await client.post("/patients", data={**PATIENT, "csrf_token": csrf})
    form = {"csrf_token": csrf, "regimen": "r-hyper-cvad-a", "height": "165 cm", "weight": "68 kg"}
    response = await client.post("/patients/MRN-BENCH/orders", data={**form, "serum_creatinine": "0.8 mg/dL"})
    await client.aclose()
    return response.url.path


async def client_loop(url: str, order: str, stop: float, phase: str, live: Samples, pdf: Samples, seed: int) -> None:
    # The second pharmacist recalculates another regimen: the prepared order's own doses stay
    # hidden from him until his independent check (issue 19), so his page would show none.
    name = "phil" if seed % 2 and phase in ("live", "typing") else "pam"
    regimen = "r-hyper-cvad-b" if name == "phil" else "r-hyper-cvad-a"
    client, csrf = await signed_in(url, name)
    count = seed
    next_at = time.perf_counter() + TYPING_INTERVAL_S * seed / 20  # the typists do not start in step
    try:
        while time.monotonic() < stop:
            count += 1
            start = time.perf_counter()
            if phase == "typing":  # the next change no sooner than the form's debounce allows
                await asyncio.sleep(max(0.0, next_at - start))
                start = time.perf_counter()
                next_at = start + TYPING_INTERVAL_S
            if phase == "pdf" or (phase == "mixed" and count % 10 == 0):
                response, samples = await client.get(f"{order}/pdf"), pdf
                ok = response.status_code == 200 and response.content.startswith(b"%PDF")
            else:
                weight = f"{60 + count % 30} kg"
                form = {"csrf_token": csrf, "regimen": regimen, "height": "165 cm", "weight": weight}
                response = await client.post(
                    "/patients/MRN-BENCH/doses",
                    data={**form, "serum_creatinine": "0.8 mg/dL"},
                    headers={"HX-Request": "true"},
                )
                samples = live
                ok = response.status_code == 200 and "<table" in response.text
            samples.client_ms.append((time.perf_counter() - start) * 1000)
            for name, value in server_timing(response).items():
                samples.server_ms[name].append(value)
            if not ok:
                samples.errors += 1
    finally:
        await client.aclose()


def eight_courses(db_url: str) -> str:
    """A patient with hyper-CVAD courses 1-8 on the record, 21 days apart and ending today,
    each after a new version of the patient file (weight and counts change); returns the MRN."""
    from chemo_orders.record.orders import PrepareRequest, prepare
    from chemo_orders.record.patients import file_bytes, save
    from chemo_orders.record.schema import open_database
    from chemo_orders.record.users import prove

    database = open_database(db_url)
    pam = prove(database, "pam", password=STAFF["pam"][1])
    first = dt.date.today() - dt.timedelta(days=21 * 7)
    data: dict[str, object] = {
        "id": "MRN-PLAN",
        "name": "Plan, Patient",
        "birth_date": "1981-03-14",
        "sex": "female",
        "height": "165 cm",
        "diagnosis": "b-all",
        "disease_status": "newly-diagnosed",
        "markers": {"cd20_percent": 40, "philadelphia": "negative"},
    }
    for course in range(1, 9):
        on = first + dt.timedelta(days=21 * (course - 1))
        data |= {
            "weight": f"{68 - course * 0.5} kg",
            "serum_creatinine": f"{0.7 + course * 0.02} mg/dL",
            "measured_on": on.isoformat(),
            "labs": {"anc": f"{1.5 + course * 0.1} x10^9/L", "platelets": f"{120 + course * 5} x10^9/L"},
        }
        save(database, "pam", data, new=course == 1)
        regimen = "hyper-cvad-a" if course % 2 else "hyper-cvad-b"
        request = PrepareRequest(file_bytes(data), "bench", regimen, pam, cycle=course, on=on, plan="hyper-cvad")
        prepare(database, request)
    database.close()
    return "MRN-PLAN"


async def plan_page(url: str, mrn: str, seconds: float) -> None:
    client, _ = await signed_in(url, "pam")
    samples = Samples()
    stop = time.monotonic() + seconds
    try:
        while time.monotonic() < stop:
            start = time.perf_counter()
            response = await client.get(f"/patients/{mrn}/plan")
            samples.client_ms.append((time.perf_counter() - start) * 1000)
            for name, value in server_timing(response).items():
                samples.server_ms[name].append(value)
            if response.status_code != 200 or response.text.count("Order ") < 8:
                samples.errors += 1
    finally:
        await client.aclose()
    print(f"phase plan: treatment-plan page, 8 courses on the record, 1 client for {seconds:g} s")
    print(f"  {len(samples.client_ms)} requests, {samples.errors} errors")
    print(f"    server, work         {percentiles(samples.server_ms['app'])}")
    print(f"    server, work's CPU   {percentiles(samples.server_ms['cpu'])}")
    print(f"    client, end to end   {percentiles(samples.client_ms)}")


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100)
    return f"p50 {cuts[49]:7.1f}  p95 {cuts[94]:7.1f}  p99 {cuts[98]:7.1f} ms"


async def run(url: str, clients: int, seconds: float, phases: list[str], plan_mrn: str) -> None:
    order = await setup(url)
    for phase in phases:
        if phase == "plan":
            await plan_page(url, plan_mrn, seconds)
            continue
        live, pdf = Samples(), Samples()
        stop = time.monotonic() + seconds
        start = time.perf_counter()
        await asyncio.gather(*(client_loop(url, order, stop, phase, live, pdf, i) for i in range(clients)))
        elapsed = time.perf_counter() - start
        total = len(live.client_ms) + len(pdf.client_ms)
        print(f"phase {phase}: {clients} clients for {seconds:g} s: {total} requests, {total / elapsed:.1f}/s")
        for name, samples in (("live recalculation", live), ("PDF download", pdf)):
            if not samples.client_ms:
                continue
            print(f"  {name}: {len(samples.client_ms)} requests, {samples.errors} errors")
            print(f"    server, work         {percentiles(samples.server_ms['app'])}")
            print(f"    server, work's CPU   {percentiles(samples.server_ms['cpu'])}")
            print(f"    server, queued       {percentiles(samples.server_ms['queue'])}")
            print(f"    server, in the app   {percentiles(samples.server_ms['total'])}")
            print(f"    client, end to end   {percentiles(samples.client_ms)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--phases", default="live,pdf", help="comma-separated: live, typing, pdf, mixed, plan")
    parser.add_argument("--workers", type=int, default=2, help="server processes (serve --workers)")
    args = parser.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not 1 <= args.clients <= 100 or not 0 < args.seconds <= 300 or not 1 <= args.workers <= 8:
        parser.error("bounded runs only: 1-100 clients, up to 300 s a phase, 1-8 workers")
    if not phases or not set(phases) <= {"live", "typing", "pdf", "mixed", "plan"}:
        parser.error("--phases: live, typing, pdf, mixed and/or plan")
    with tempfile.TemporaryDirectory() as folder:
        db_url = f"sqlite:///{Path(folder) / 'record.sqlite3'}"
        os.environ["CHEMO_ORDERS_KEY_FILE"] = str(Path(folder) / "audit.key")  # the server inherits it
        add_staff(db_url)
        plan_mrn = eight_courses(db_url) if "plan" in phases else ""
        process, url = start_server(db_url, Path(folder) / "server.log", "--workers", str(args.workers))
        try:
            print(f"server: chemo-orders serve --workers {args.workers} on {url}, SQLite record")
            asyncio.run(run(url, args.clients, args.seconds, phases, plan_mrn))
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
