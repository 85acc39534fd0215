"""The FHIR and CDS Hooks routes of ``serve`` (design §11.7), under the JSON API's bearer token.

Thin: each handler checks the token first (a request without a valid one is answered 401
with its body unread), reads the bounded body, and hands it to the pure functions of
:mod:`chemo_orders.fhir.server` and :mod:`chemo_orders.fhir.cds_hooks` in a worker thread.
FHIR answers ``application/fhir+json`` and speaks OperationOutcome, also for 401 and the
app's own refusals (413, 400); CDS Hooks answers plain JSON errors, as its clients expect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import InputError
from .api import _authorized
from .pages import Workbench, in_worker

if TYPE_CHECKING:
    from ..fhir.server import Calculate
    from ..orderset import OrderSet

FHIR_PREFIX = "/fhir/"
CDS_PREFIX = "/cds-services"
SEARCH_PARAMETERS = frozenset({"_id", "url", "_format"})


def fhir_response(status: int, body: dict[str, Any]) -> Response:
    from ..fhir.server import FHIR_JSON

    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def refusal(path: str, status: int, message: str) -> Response | None:
    """The app's own refusal (body too large, bad Content-Length, an internal error) in the
    language of these endpoints, or None for another path."""
    from ..fhir.server import problem

    element = "(body)" if status in (400, 413) else "(request)"
    if path.startswith(FHIR_PREFIX):
        answer = problem(status, "too-costly" if status == 413 else "exception", element, message)
        return fhir_response(answer.status, answer.body)
    if path.startswith(CDS_PREFIX):
        return JSONResponse({"error": {"field": element, "message": message}}, status_code=status)
    return None


def _unauthorized(fhir: bool) -> Response:
    from ..fhir.server import problem

    message = "a valid Bearer token is required"
    if fhir:
        answer = problem(401, "login", "Authorization", message)
        response = fhir_response(401, answer.body)
    else:
        response = JSONResponse({"error": {"field": "Authorization", "message": message}}, status_code=401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="chemo-orders"'
    return response


def _guarded(work: Callable[[Request, bytes], Response], fhir: bool) -> Callable[[Request], Any]:
    async def run(request: Request) -> Response:
        app: Workbench = request.app.state.workbench
        user = await to_thread.run_sync(_authorized, request, limiter=app.limiter)
        if user is None:
            return _unauthorized(fhir)
        raw = await request.body() if request.method == "POST" else b""
        return await in_worker(request, work, request, raw)

    run.__name__ = f"{'fhir' if fhir else 'cds'}_{work.__name__.lstrip('_')}"
    return run


def _metadata(request: Request, _: bytes) -> Response:
    from ..fhir.server import capability_statement, fhir_version

    return fhir_response(200, capability_statement(fhir_version(request.headers.get("accept", ""))))


def _search(request: Request, _: bytes) -> Response:
    from ..fhir.server import fhir_version, problem, search

    unknown = sorted(set(request.query_params) - SEARCH_PARAMETERS)
    if unknown:
        answer = problem(400, "not-supported", unknown[0], "unsupported search parameter (supported: _id, url)")
        return fhir_response(answer.status, answer.body)
    bundle = search(fhir_version(request.headers.get("accept", "")))
    wanted_id, wanted_url = request.query_params.get("_id"), request.query_params.get("url")
    entries = [
        e
        for e in bundle["entry"]
        if (wanted_id is None or e["resource"]["id"] == wanted_id)
        and (wanted_url is None or e["resource"]["url"] == wanted_url.partition("|")[0])
    ]
    return fhir_response(200, {**bundle, "total": len(entries), "entry": entries})


def _read(request: Request, _: bytes) -> Response:
    from ..fhir.server import fhir_version, read

    answer = read(request.path_params["regimen_id"], fhir_version(request.headers.get("accept", "")))
    return fhir_response(answer.status, answer.body)


def engine(request: Request) -> Calculate:
    """The engine's one door for the FHIR services (``fhir.server.Calculate``): fhir/ sits
    below the service layer, so the interface hands it ``service.calculate``, with what the
    record holds of the patient's id (earlier orders, the last dosed weight), as the JSON API
    and the workbench calculate."""
    from ..record.basis import read_basis
    from ..service import CalcRequest, DoseSettings, calculate

    database = request.app.state.workbench.database

    def calculate_with_record(patient: dict[str, Any], regimen: str, cycle: int | None, on: dt.date | None) -> OrderSet:
        patient_id = patient.get("id")
        history = None
        if isinstance(patient_id, str):
            with database.read() as session:
                history = read_basis(session, patient_id.strip()).history()
        settings = DoseSettings(on=on)
        return calculate(CalcRequest(patient=patient, regimen=regimen, cycle=cycle, settings=settings, history=history))

    return calculate_with_record


def _apply(request: Request, raw: bytes) -> Response:
    from ..fhir.server import apply, fhir_version

    version = fhir_version(request.headers.get("accept", ""))
    answer = apply(request.path_params["regimen_id"], raw, version, engine(request))
    return fhir_response(answer.status, answer.body)


def _elsewhere(request: Request, _: bytes) -> Response:
    """Any other FHIR path: a FHIR 404, so a client learns what is served, not a text page."""
    from ..fhir.server import problem

    answer = problem(404, "not-supported", "(url)", "not served here: see /fhir/metadata (PlanDefinition only)")
    return fhir_response(answer.status, answer.body)


def _discovery(request: Request, _: bytes) -> Response:
    from ..fhir.cds_hooks import discovery

    return JSONResponse(discovery())


def _check(request: Request, raw: bytes) -> Response:
    from ..fhir.cds_hooks import Unavailable, check
    from ..fhir.server import parse_body

    try:
        return JSONResponse(check(parse_body(raw, None), engine(request)))
    except Unavailable as missing:
        return JSONResponse({"error": {"field": "prefetch", "message": str(missing)}}, status_code=412)
    except InputError as error:
        status = 400 if error.field == "(body)" else 422
        return JSONResponse({"error": {"field": error.field, "message": error.problem}}, status_code=status)


ROUTES = [
    Route("/fhir/metadata", _guarded(_metadata, fhir=True), methods=["GET"]),
    Route("/fhir/PlanDefinition", _guarded(_search, fhir=True), methods=["GET"]),
    Route("/fhir/PlanDefinition/{regimen_id}", _guarded(_read, fhir=True), methods=["GET"]),
    Route("/fhir/PlanDefinition/{regimen_id}/$apply", _guarded(_apply, fhir=True), methods=["POST"]),
    Route("/fhir/{path:path}", _guarded(_elsewhere, fhir=True), methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    Route("/cds-services", _guarded(_discovery, fhir=False), methods=["GET"]),
    Route("/cds-services/chemo-order-check", _guarded(_check, fhir=False), methods=["POST"]),
]
