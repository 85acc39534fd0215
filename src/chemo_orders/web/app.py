"""The workbench application: routes, the headers every response carries, and the server.

Every response gets the Content-Security-Policy (scripts and styles only from this server's
own files; htmx is told not to inject styles), ``nosniff``, no framing, no referrer, and
``no-store`` (patient data is not left in caches); HSTS behind TLS. The log line of a request
names the screen, the status and the time, never the path (an MRN) or a query; uvicorn's own
access log is off for the same reason. Request bodies are bounded per endpoint before they
are read (:func:`body_limit`), and every refusal and error response carries the same headers.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..record.db import Database
from ..record.orders import CANCELLERS
from . import api, audit_log, auth, fhir_routes, orders, patients, plan_page, regimens
from .pages import ALL_ROLES, AUDITORS, EDITORS, Ctx, Workbench, endpoint, message_page
from .security import CSP, Network, proxy_network

log = logging.getLogger("chemo_orders.web")
STATIC = Path(__file__).resolve().parent / "static"
# The largest request body each kind of endpoint reads (docs/web.md, "Limits"). A body that
# says it is larger is refused before a byte of it is read; one that grows past the limit
# while streaming (chunked, or a false Content-Length) is refused at that chunk, unread beyond.
SIGNIN_MAX_BODY = 16 * 1024  # sign in and out: a name, a password of at most 1024 characters, two tokens
FORM_MAX_BODY = 128 * 1024  # every other form (the patient form with its allergies is the largest)
API_MAX_BODY = 256 * 1024  # the JSON API, FHIR and CDS Hooks: a patient file or Bundle is a few kB


def body_limit(path: str) -> int:
    """The most bytes of request body ``path``'s endpoint reads."""
    if path.startswith(("/api/", "/fhir/", "/cds-services")):
        return API_MAX_BODY
    if path in ("/signin", "/signout"):
        return SIGNIN_MAX_BODY
    return FORM_MAX_BODY


class BodyTooLarge(Exception):
    """The request body grew past its endpoint's limit while it was being read."""


class Guard:
    """ASGI middleware: security headers, body limits, the last word on errors, timing and a
    log line without data.

    Every response leaves through ``guarded``, which adds the headers: normal ones, the 413 of
    an oversized body, and the 500 or 503 of an error no handler caught (Starlette's own error
    middleware sits outside this one and would answer without them).
    """

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0
        limit = body_limit(scope["path"])
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
                if self.secure:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
                headers.append("Server-Timing", f"total;dur={(time.perf_counter() - start) * 1000:.2f}")
            await send(message)

        length = _content_length(scope)
        name = getattr(scope.get("endpoint"), "__name__", "static" if scope["path"].startswith("/static/") else "-")
        if length is None:
            await _refusal(scope, 400, "the Content-Length header is not a number")(scope, receive, guarded)
        elif length > limit:
            await _refusal(scope, 413, _too_large(limit))(scope, receive, guarded)
        else:
            try:
                await self.app(scope, limited, guarded)
            except BodyTooLarge:
                if status:
                    raise
                await _refusal(scope, 413, _too_large(limit))(scope, receive, guarded)
            except Exception as error:
                name = getattr(scope.get("endpoint"), "__name__", name)
                if status:  # the response has begun: nothing more can be said to this client
                    log.error("error after the response began in %s: %s", name, error.__class__.__name__)
                    raise
                await _error_response(scope, error, name)(scope, receive, guarded)
        name = getattr(scope.get("endpoint"), "__name__", name)
        log.info("%s %s %d %.1f ms", scope["method"], name, status, (time.perf_counter() - start) * 1000)


def _content_length(scope: Scope) -> int | None:
    """The declared body length (0 when none is declared), or None when it is not a number."""
    declared = dict(scope["headers"]).get(b"content-length")
    if declared is None:
        return 0
    text = declared.strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _too_large(limit: int) -> str:
    return f"request body too large (at most {limit // 1024} KiB here)"


def _refusal(scope: Scope, status: int, message: str, title: str = "Refused") -> Response:
    """An error in the language of the endpoint asked: JSON for the API, text for the health
    check, the workbench's own page for everything else."""
    path = scope["path"]
    spoken = fhir_routes.refusal(path, status, message)
    if spoken is not None:
        return spoken
    if path.startswith("/api/"):
        field = "(record)" if status == 503 else "(body)" if status in (400, 413) else "(request)"
        return JSONResponse({"error": {"field": field, "message": message}}, status_code=status)
    if path == "/healthz" or path.startswith("/static/"):
        return PlainTextResponse(message, status_code=status)
    request = Request(scope)
    return message_page(
        Ctx(request, None, None, request.app.state.workbench), title, message[:1].upper() + message[1:] + ".", status
    )


def _error_response(scope: Scope, error: Exception, name: str) -> Response:
    """The answer to an error no handler caught: 503 when the record failed (nothing of its
    statement or parameters, in the answer or the log), else 500."""
    from ..record.db import database_problem

    problem = database_problem(error)
    if problem is not None:
        log.error("record unavailable in %s: %s", name, problem)
        return _refusal(
            scope, 503, "the record is unavailable: try again, and tell the administrator if it persists", "Unavailable"
        )
    log.error("internal error in %s: %s", name, error.__class__.__name__)
    log.debug("traceback", exc_info=True)
    return _refusal(scope, 500, "the request failed with an internal error", "Internal error")


async def healthz(request: Request) -> Response:
    from sqlalchemy import text

    app: Workbench = request.app.state.workbench

    def ping() -> None:
        with app.database.read() as session:
            session.execute(text("SELECT 1"))

    await run_in_threadpool(ping)
    return PlainTextResponse("ok")


async def home(request: Request) -> Response:
    return RedirectResponse("/patients", status_code=303)


def _warm() -> None:
    """Load the regimen library, the engine's tables, the templates and weasyprint before the
    first request needs them (~1 s), then set what was loaded aside from garbage collection.

    Why freeze: a worker holds about a million long-lived objects (the libraries, the tables,
    the validated regimens), and each full collection walked them all while a request
    waited; a request makes thousands of short-lived objects, so collections are frequent. The
    frozen objects are never freed (they live as long as the process anyway) and are no longer
    walked: the live preview's work fell by about a fifth."""
    import gc

    import weasyprint  # noqa: F401

    from ..drugs import drug_table
    from ..modifications import modification_table
    from ..products import product_table
    from ..regimen import all_regimens
    from ..render import environment

    all_regimens()
    drug_table(), modification_table(), product_table()
    templates = environment()
    for name in templates.list_templates(filter_func=lambda name: name.endswith(".j2")):
        templates.get_template(name)
    gc.collect()
    gc.freeze()


def create_app(database: Database, *, secure: bool = False, trusted_proxies: tuple[Network, ...] = ()) -> Starlette:
    pharmacist = ("pharmacist",)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(_warm)
        yield
        database.close()

    routes: list[Any] = [
        Route("/healthz", healthz),
        Route("/", home),
        Route("/signin", endpoint(auth.signin_page, public=True), methods=["GET"]),
        Route("/signin", endpoint(auth.signin, public=True), methods=["POST"]),
        Route("/signout", endpoint(auth.signout), methods=["POST"]),
        Route("/patients", endpoint(patients.patient_list), methods=["GET"]),
        Route("/patients", endpoint(patients.create_patient, roles=EDITORS), methods=["POST"]),
        Route("/patients/new", endpoint(patients.new_patient_page, roles=EDITORS), methods=["GET"]),
        Route("/patients/{mrn}", endpoint(patients.patient_page, reads_only=True), methods=["GET"]),
        Route("/patients/{mrn}", endpoint(patients.update_patient, roles=EDITORS), methods=["POST"]),
        Route("/patients/{mrn}/edit", endpoint(patients.edit_patient_page, roles=EDITORS), methods=["GET"]),
        Route("/patients/{mrn}/plan", endpoint(plan_page.plan_page, reads_only=True), methods=["GET"]),
        Route(
            "/patients/{mrn}/doses", endpoint(patients.live_doses, roles=ALL_ROLES, reads_only=True), methods=["POST"]
        ),
        Route("/patients/{mrn}/orders", endpoint(patients.prepare_order, roles=EDITORS), methods=["POST"]),
        Route("/queue", endpoint(orders.queue), methods=["GET"]),
        Route("/regimens/{regimen_id}", endpoint(regimens.regimen_page), methods=["GET"]),
        Route("/orders/{order_id}", endpoint(orders.order_page), methods=["GET"]),
        Route("/orders/{order_id}/pdf", endpoint(orders.order_pdf, pdf=True), methods=["GET"]),
        Route("/orders/{order_id}/verify", endpoint(orders.verify_order, roles=pharmacist), methods=["POST"]),
        Route("/orders/{order_id}/release", endpoint(orders.release_order, roles=pharmacist), methods=["POST"]),
        Route("/orders/{order_id}/cancel", endpoint(orders.cancel_order, roles=CANCELLERS), methods=["POST"]),
        Route("/audit", endpoint(audit_log.audit_page, roles=AUDITORS), methods=["GET"]),
        Route("/api/calc", api.api_calc, methods=["POST"]),
        Route("/api/options", api.api_options, methods=["POST"]),
        Route("/api/regimens", api.api_regimens, methods=["GET"]),
        *fhir_routes.ROUTES,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.workbench = Workbench(database, secure, trusted_proxies)
    app.add_middleware(Guard, secure=secure)
    return app


SECURE_ENV = "CHEMO_ORDERS_BEHIND_TLS"
TRUSTED_PROXIES_ENV = "CHEMO_ORDERS_TRUSTED_PROXIES"  # comma-separated, for serve --workers N


def from_environment() -> Starlette:
    """The app for each of ``serve --workers N``'s processes: the record URL, the TLS flag and
    the trusted proxies come from the environment ``serve`` set (uvicorn imports the factory
    in each worker)."""
    from ..record.schema import open_database

    proxies = tuple(proxy_network(p) for p in os.environ.get(TRUSTED_PROXIES_ENV, "").split(",") if p.strip())
    return create_app(open_database(None), secure=os.environ.get(SECURE_ENV) == "1", trusted_proxies=proxies)
