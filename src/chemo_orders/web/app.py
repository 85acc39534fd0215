"""The workbench application: routes, the headers every response carries, and the server.

Every response gets the Content-Security-Policy (scripts and styles only from this server's
own files; htmx is told not to inject styles), ``nosniff``, no framing, no referrer, and
``no-store`` (patient data is not left in caches); HSTS behind TLS. The log line of a request
names the screen, the status and the time, never the path (an MRN) or a query; uvicorn's own
access log is off for the same reason. A request body over 1 MB is refused.
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
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..record.db import Database
from ..record.orders import CANCELLERS
from . import api, audit_log, auth, orders, patients
from .pages import ALL_ROLES, AUDITORS, EDITORS, Workbench, endpoint
from .security import CSP

log = logging.getLogger("chemo_orders.web")
STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 1024 * 1024


class Guard:
    """ASGI middleware: security headers, a body size limit, timing and a log line without data."""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > MAX_BODY:
            await PlainTextResponse("request body too large", 413)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return {"type": "http.disconnect"} if received > MAX_BODY else message

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

        await self.app(scope, limited, guarded)
        name = getattr(scope.get("endpoint"), "__name__", "static" if scope["path"].startswith("/static/") else "-")
        log.info("%s %s %d %.1f ms", scope["method"], name, status, (time.perf_counter() - start) * 1000)


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
    """Load the regimen library and weasyprint before the first request needs them (~1 s)."""
    import weasyprint  # noqa: F401

    from ..regimen import all_regimens

    all_regimens()


def create_app(database: Database, *, secure: bool = False) -> Starlette:
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
        Route("/patients/{mrn}", endpoint(patients.patient_page), methods=["GET"]),
        Route("/patients/{mrn}", endpoint(patients.update_patient, roles=EDITORS), methods=["POST"]),
        Route("/patients/{mrn}/edit", endpoint(patients.edit_patient_page, roles=EDITORS), methods=["GET"]),
        Route("/patients/{mrn}/doses", endpoint(patients.live_doses, roles=ALL_ROLES), methods=["POST"]),
        Route("/patients/{mrn}/orders", endpoint(patients.prepare_order, roles=EDITORS), methods=["POST"]),
        Route("/queue", endpoint(orders.queue), methods=["GET"]),
        Route("/orders/{order_id}", endpoint(orders.order_page), methods=["GET"]),
        Route("/orders/{order_id}/pdf", endpoint(orders.order_pdf, pdf=True), methods=["GET"]),
        Route("/orders/{order_id}/verify", endpoint(orders.verify_order, roles=pharmacist), methods=["POST"]),
        Route("/orders/{order_id}/release", endpoint(orders.release_order, roles=pharmacist), methods=["POST"]),
        Route("/orders/{order_id}/cancel", endpoint(orders.cancel_order, roles=CANCELLERS), methods=["POST"]),
        Route("/audit", endpoint(audit_log.audit_page, roles=AUDITORS), methods=["GET"]),
        Route("/api/calc", api.api_calc, methods=["POST"]),
        Route("/api/options", api.api_options, methods=["POST"]),
        Route("/api/regimens", api.api_regimens, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.workbench = Workbench(database, secure)
    app.add_middleware(Guard, secure=secure)
    return app


SECURE_ENV = "CHEMO_ORDERS_BEHIND_TLS"


def from_environment() -> Starlette:
    """The app for each of ``serve --workers N``'s processes: the record URL and the TLS flag
    come from the environment ``serve`` set (uvicorn imports the factory in each worker)."""
    from ..record.schema import open_database

    return create_app(open_database(None), secure=os.environ.get(SECURE_ENV) == "1")
