"""The JSON API for integrations (design §10.6), with ``Authorization: Bearer TOKEN``.

``POST /api/calc`` answers exactly what ``calc --json`` prints for the same patient file,
regimen and cycle (the service layer and ``orderset.to_json``), HTTP 200 whatever the
``status``: a blocked or held calculation is an answer, not an error. Bad input is 422 with
``{"error": {"field": …, "message": …}}`` naming the field as the request spelled it
(``patient.height``, ``cycle``); no token or an unknown one is 401, answered before the body is
read. Bodies are bounded (``app.API_MAX_BODY``) and read like a ``.json`` patient file
(:func:`chemo_orders.loader.parse_json`). Like ``calc``, the API
does not read the order record: it is a calculator, and nothing it is sent is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import InputError
from ..record.users import user_for_token
from ..settings import CHOSEN
from .pages import Workbench, in_worker

if TYPE_CHECKING:
    from ..record.db import Database

log = logging.getLogger("chemo_orders.web")
CALC_KEYS = frozenset({"patient", "regimen", "cycle", "date", "acknowledge", "options"})
OPTIONS_KEYS = frozenset({"patient", "date"})


def _error(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "message": message}}, status_code=status)


def _unauthorized() -> JSONResponse:
    response = JSONResponse({"error": {"field": "Authorization", "message": "a valid Bearer token is required"}}, 401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="chemo-orders"'
    return response


def _authorized(request: Request) -> tuple[str, str] | None:
    """(name, role) of the token's user, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    app: Workbench = request.app.state.workbench
    with app.database.read() as session:
        user = user_for_token(session, token.strip())
        return None if user is None else (user.name, user.role)


def _awaiting_check(request: Request, user: tuple[str, str], raw: bytes) -> int | None:
    """A prepared order of this patient and regimen that this pharmacist may verify: the API
    does not calculate it for them before they have (the blind check, issue 19)."""
    from ..record.orders import list_orders

    name, role = user
    if role != "pharmacist":
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
        return None  # the calculation refuses the body itself
    patient = data.get("patient") if isinstance(data, dict) else None
    patient_id = patient.get("id") if isinstance(patient, dict) else None
    if not isinstance(patient_id, str):
        return None
    app: Workbench = request.app.state.workbench
    for record in list_orders(app.database, patient_id=patient_id.strip(), state="prepared"):
        if record.regimen == data.get("regimen") and record.prepared_by != name:
            return record.order_id
    return None


def _body(raw: bytes, allowed: frozenset[str]) -> dict[str, Any]:
    """The request's JSON object, read by the loader that reads patient files: nesting and the
    number of values bounded, duplicate keys, NaN and infinities refused."""
    from ..loader import decode, parse_json

    try:
        data = parse_json(decode(raw, "(body)", "request body"), "(body)", "request body")
    except InputError as error:
        raise InputError(error.field, "", error.problem) from None
    if not isinstance(data, dict):
        raise InputError("(body)", type(data).__name__, "expected a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InputError(unknown[0], "", f"unknown field; expected {', '.join(sorted(allowed))}")
    patient = data.get("patient")
    if not isinstance(patient, dict):
        raise InputError("patient", "", "expected the patient file's fields as an object")
    return data


def _date(data: dict[str, Any]) -> dt.date | None:
    value = data.get("date")
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        pass
    raise InputError("date", value, "expected YYYY-MM-DD")


def _field(error: InputError) -> str:
    """The request's own name for the field an error is about."""
    if error.source == "patient":
        return f"patient.{error.field}"
    name = error.field.removeprefix("--")
    if name.replace("-", "_") in CHOSEN:  # a dose option, named as the request's ``options`` names it
        return f"options.{name.replace('-', '_')}"
    return {"reason": "acknowledge.reason", "ORDER_ID": "order"}.get(name, name)


def _calc(database: Database, raw: bytes) -> dict[str, Any]:
    """The calculation ``prepare`` would record: the record's history of this patient id
    (earlier amounts, the last dosed weight, the courses) goes in as on the workbench."""
    from ..orderset import to_json
    from ..record.basis import read_basis
    from ..service import CalcRequest, acknowledgements, calculate
    from ..settings import settings_from_json

    data = _body(raw, CALC_KEYS)
    regimen, cycle = data.get("regimen"), data.get("cycle")
    if not isinstance(regimen, str) or not regimen:
        raise InputError("regimen", regimen or "", "expected a regimen id (GET /api/regimens)")
    if cycle is not None and (isinstance(cycle, bool) or not isinstance(cycle, int)):
        raise InputError("cycle", cycle, "expected a whole number from 1")
    acks = data.get("acknowledge") or []
    if not isinstance(acks, list) or not all(isinstance(a, dict) for a in acks):
        raise InputError("acknowledge", "", 'expected a list of {"rule": CODE, "reason": TEXT}')
    codes = [str(a.get("rule", "")) for a in acks]
    reasons = [str(a.get("reason", "")) for a in acks]
    patient_id = data["patient"].get("id")
    history = None
    if isinstance(patient_id, str):
        with database.read() as session:
            history = read_basis(session, patient_id.strip()).history()
    request = CalcRequest(
        patient=data["patient"],
        regimen=regimen,
        cycle=cycle,
        settings=settings_from_json(data.get("options"), _date(data)),
        acknowledgements=acknowledgements(codes, reasons),
        history=history,
    )
    return to_json(calculate(request))


def _options(_: Database, raw: bytes) -> dict[str, Any]:
    from ..service import treatment_options

    data = _body(raw, OPTIONS_KEYS)
    return treatment_options(data["patient"], _date(data)).as_json()


def _regimens(_: Database, __: bytes) -> dict[str, Any]:
    from ..regimen import all_regimens
    from ..report import regimen_summary

    return {"regimens": [regimen_summary(r) for r in all_regimens()]}


def _run(
    request: Request, user: tuple[str, str], work: Callable[[Database, bytes], dict[str, Any]], raw: bytes
) -> Response:
    if work is _calc:
        waiting = _awaiting_check(request, user, raw)
        if waiting is not None:
            message = f"order {waiting} of this patient and regimen waits for your independent check"
            return _error(403, "patient.id", message)
    try:
        return JSONResponse(work(request.app.state.workbench.database, raw))
    except InputError as error:
        return _error(422, _field(error), error.message)


def api(work: Callable[[Database, bytes], dict[str, Any]]) -> Callable[[Request], Any]:
    async def run(request: Request) -> Response:
        # The token first, the body after: a request without a valid token is answered 401
        # with its body unread (and a body is read only up to app.API_MAX_BODY).
        app: Workbench = request.app.state.workbench
        user = await to_thread.run_sync(_authorized, request, limiter=app.limiter)
        if user is None:
            return _unauthorized()
        raw = await request.body() if request.method == "POST" else b""
        return await in_worker(request, _run, request, user, work, raw)

    run.__name__ = f"api{work.__name__}"
    return run


api_calc = api(_calc)
api_options = api(_options)
api_regimens = api(_regimens)
