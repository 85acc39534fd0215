"""FHIR ``$apply`` and CDS Hooks under concurrent clients (issue 23): p50/p95/p99 latency.

Run:  .venv/bin/python bench/fhir_services.py [--clients 20] [--seconds 20] [--workers 2]
      CHEMO_ORDERS_TOKEN=… .venv/bin/python bench/fhir_services.py --url http://127.0.0.1:8000
      (the second against a ``serve`` already running: on a loaded machine its start-up can
      outlast the fixture's 60 s wait)

Starts ``chemo-orders serve --workers N`` on a free 127.0.0.1 port with a throwaway SQLite
record and audit key, then runs two phases of ``--seconds`` each with ``--clients`` threads,
each on its own keep-alive ``http.client`` connection, sending its next request as soon as
the last is answered: ``apply`` is ``POST /fhir/PlanDefinition/r-ice/$apply`` for the
relapsed DLBCL sample Bundle (R4), ``cds`` is ``POST /cds-services/chemo-order-check``
(order-sign) with those R-ICE drafts, one dose in ten 16 % high (a card with a suggestion),
the rest as calculated (no card). Bounded in time and clients, loopback only; the load
generator shares the machine's cores with the server. Speed is measured, never asserted.

Reports latency as the client saw it (queueing included) and as the server measured it
(``Server-Timing``: the work, and the wait for a worker), with the errors (any status but
the one expected).
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the server fixture and its users
from test_fhir_services import DLBCL, apply_parameters, hook_request, medication_requests  # noqa: E402
from web_fixtures import add_staff, start_server  # noqa: E402

Request = tuple[str, bytes]  # path, body


@dataclass
class Samples:
    client_ms: list[float] = field(default_factory=list)
    app_ms: list[float] = field(default_factory=list)
    queue_ms: list[float] = field(default_factory=list)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def post(connection: http.client.HTTPConnection, path: str, body: bytes, token: str) -> tuple[int, bytes, str]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read(), ", ".join(response.headers.get_all("server-timing") or [])


def client_loop(url: str, token: str, stop: float, next_request: Callable[[int], Request], samples: Samples) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    count = 0
    try:
        while time.monotonic() < stop:
            count += 1
            path, body = next_request(count)
            start = time.perf_counter()
            status, _, timing = post(connection, path, body, token)
            elapsed = (time.perf_counter() - start) * 1000
            found = dict(re.findall(r"(\w+);dur=([\d.]+)", timing))
            with samples.lock:
                samples.client_ms.append(elapsed)
                samples.app_ms.append(float(found.get("app", "nan")))
                samples.queue_ms.append(float(found.get("queue", "nan")))
                samples.errors += status != 200
    finally:
        connection.close()


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100)
    return f"p50 {cuts[49]:7.1f}  p95 {cuts[94]:7.1f}  p99 {cuts[98]:7.1f} ms"


def phase(name: str, url: str, token: str, clients: int, seconds: float, make: Callable[[int], Request]) -> None:
    samples = Samples()
    stop = time.monotonic() + seconds
    threads = [threading.Thread(target=client_loop, args=(url, token, stop, make, samples)) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    total = len(samples.client_ms)
    rate = f"{total} requests, {total / elapsed:.1f}/s, {samples.errors} errors"
    print(f"{name}: {clients} clients for {seconds:g} s: {rate}")
    print(f"    server, work         {percentiles(samples.app_ms)}")
    print(f"    server, queued       {percentiles(samples.queue_ms)}")
    print(f"    client, end to end   {percentiles(samples.client_ms)}")


def requests(url: str, token: str) -> tuple[Callable[[int], Request], Callable[[int], Request]]:
    """The ``$apply`` body, and the CDS Hooks bodies built from ``$apply``'s own drafts."""
    bundle = json.loads(DLBCL.read_text())
    apply_path, apply_body = "/fhir/PlanDefinition/r-ice/$apply", json.dumps(apply_parameters(bundle)).encode()
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    status, answer, _ = post(connection, apply_path, apply_body, token)
    connection.close()
    if status != 200:
        raise SystemExit(f"$apply answered {status}: {answer[:500]!r}")
    drafts = medication_requests(json.loads(answer))
    high = copy.deepcopy(drafts)
    high[0]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] *= 1.16
    bodies = [json.dumps(hook_request(d, bundle)).encode() for d in (drafts, high)]
    cds = "/cds-services/chemo-order-check"
    return (lambda _: (apply_path, apply_body)), (lambda n: (cds, bodies[n % 10 == 0]))


def bench(url: str, token: str, clients: int, seconds: float) -> None:
    apply_request, cds_request = requests(url, token)
    phase("$apply (r-ice, relapsed DLBCL)", url, token, clients, seconds, apply_request)
    phase("CDS Hooks order-sign (r-ice drafts)", url, token, clients, seconds, cds_request)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="server processes (serve --workers)")
    parser.add_argument("--url", help="a running serve (token in CHEMO_ORDERS_TOKEN); default: start one")
    args = parser.parse_args()
    if args.url is not None:
        token = os.environ.get("CHEMO_ORDERS_TOKEN", "")
        if not args.url.startswith("http://127.0.0.1:") or not token:
            parser.error("--url: a loopback http://127.0.0.1:PORT server, with CHEMO_ORDERS_TOKEN set")
        bench(args.url, token, args.clients, args.seconds)
        return
    if not 1 <= args.clients <= 100 or not 0 < args.seconds <= 300 or not 1 <= args.workers <= 8:
        parser.error("bounded runs only: 1-100 clients, up to 300 s a phase, 1-8 workers")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["CHEMO_ORDERS_KEY_FILE"] = str(Path(folder) / "audit.key")  # never the user's own key
        db_url = f"sqlite:///{Path(folder) / 'record.sqlite3'}"
        token = add_staff(db_url)
        process, url = start_server(db_url, Path(folder) / "server.log", "--workers", str(args.workers))
        try:
            print(f"server: chemo-orders serve --workers {args.workers} on {url}, SQLite record")
            bench(url, token, args.clients, args.seconds)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
