"""How a request becomes a page: who is asking, whether they may, and the template.

Every screen's handler is a plain function of a :class:`Ctx`, run in a worker thread (the
record and the engine are synchronous). :func:`endpoint` wraps it with the checks every
request gets, in this order: a session (else sign in), the CSRF token on a POST, the role.
So no handler can forget one. Templates come from the PDF's jinja2 environment
(:func:`chemo_orders.render.environment`): one set of partials for paper and screen.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from anyio import CapacityLimiter, to_thread
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .. import DISCLAIMER
from ..errors import InputError
from ..record import Refused
from ..record.db import Database
from .security import Network, SignedIn, Throttle, client_address, cookie_name, same_token, session_user

log = logging.getLogger("chemo_orders.web")
ALL_ROLES = ("prescriber", "pharmacist", "nurse", "admin")
EDITORS = ("prescriber", "pharmacist")  # enter patients and prepare orders (record.orders.PREPARERS)
AUDITORS = ("pharmacist", "admin")
MAX_FORM_FIELDS = 500
WORKER_THREADS = 1  # per process: requests run Python under one GIL (see in_worker)


@dataclass
class Workbench:
    """What the app holds between requests: the record's engine, settings and the throttle."""

    database: Database
    secure: bool = False  # behind TLS: Secure and __Host- cookies, HSTS
    trusted_proxies: tuple[Network, ...] = ()  # serve --trusted-proxy: whose forwarding headers count
    throttle: Throttle = field(default_factory=Throttle)
    limiter: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(WORKER_THREADS))
    pdf_limiter: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(1))  # PDFs queue apart

    @property
    def session_cookie(self) -> str:
        return cookie_name(self.secure, "chemo_session")

    @property
    def signin_cookie(self) -> str:
        return cookie_name(self.secure, "chemo_signin")


class Urls:
    """Every link the templates make, in one place (path parts are quoted)."""

    @staticmethod
    def patient(mrn: str) -> str:
        return f"/patients/{quote(mrn, safe='')}"

    @staticmethod
    def patient_edit(mrn: str) -> str:
        return f"/patients/{quote(mrn, safe='')}/edit"

    @staticmethod
    def plan(mrn: str) -> str:
        return f"/patients/{quote(mrn, safe='')}/plan"

    @staticmethod
    def doses(mrn: str) -> str:
        return f"/patients/{quote(mrn, safe='')}/doses"

    @staticmethod
    def prepare(mrn: str) -> str:
        return f"/patients/{quote(mrn, safe='')}/orders"

    @staticmethod
    def regimen(regimen_id: str) -> str:
        return f"/regimens/{quote(regimen_id, safe='')}"

    @staticmethod
    def order(order_id: int) -> str:
        return f"/orders/{order_id}"

    @staticmethod
    def order_pdf(order_id: int) -> str:
        return f"/orders/{order_id}/pdf"

    @staticmethod
    def order_action(order_id: int, action: str) -> str:
        return f"/orders/{order_id}/{action}"


@dataclass
class Ctx:
    """One request as a handler sees it (already authenticated and checked)."""

    request: Request
    form: FormData | None
    user: SignedIn | None
    app: Workbench

    @property
    def database(self) -> Database:
        return self.app.database

    @property
    def me(self) -> SignedIn:
        assert self.user is not None, "endpoint() lets no anonymous request reach a non-public handler"
        return self.user

    @property
    def htmx(self) -> bool:
        """An htmx request wants the fragment it will swap in, not the whole page."""
        return self.request.headers.get("hx-request") == "true"

    def field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else self.request.query_params.get(name)
        return value if isinstance(value, str) else ""

    def fields(self, name: str) -> list[str]:
        if self.form is None:
            return self.request.query_params.getlist(name)
        return [v for v in self.form.getlist(name) if isinstance(v, str)]

    def path_param(self, name: str) -> str:
        return str(self.request.path_params[name])

    @property
    def client(self) -> str:
        """The address sign-in throttling counts against (the peer, or what a trusted proxy says)."""
        peer = self.request.client.host if self.request.client else None
        return client_address(peer, self.request.headers.items(), self.app.trusted_proxies)


def render(ctx: Ctx, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    from ..render import ROUTE_LABELS, environment

    me = ctx.user
    page = environment().get_template(f"web/{template}")
    html = page.render(
        me=me,
        csrf=me.csrf_token if me else "",
        can_edit=bool(me and me.may(*EDITORS)),
        can_audit=bool(me and me.may(*AUDITORS)),
        u=Urls,
        disclaimer=DISCLAIMER,
        screen=True,
        **ROUTE_LABELS,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def message_page(ctx: Ctx, title: str, text: str, status: int) -> HTMLResponse:
    return render(ctx, "message.html.j2", status, title=title, text=text)


Handler = Callable[[Ctx], Response]


async def in_worker(request: Request, work: Callable[..., Response], *args: Any, pdf: bool = False) -> Response:
    """``work`` in a worker thread, at most ``Workbench.limiter`` at once per process.

    The work is CPU-bound Python: more threads than cores only share the GIL and make every
    request slower, so a request waits for the worker instead (scale with ``serve --workers``).
    A PDF (~0.3 s) waits for a worker of its own, so that it never holds up the live dose
    table. The ``Server-Timing`` header tells the wait (``queue``) from the work (``app``,
    and ``cpu``: the processor time the work itself took).
    """
    app: Workbench = request.app.state.workbench
    arrived = time.perf_counter()
    started = arrived
    cpu = 0.0

    def timed() -> Response:
        nonlocal started, cpu
        started, on_cpu = time.perf_counter(), time.thread_time()
        try:
            return work(*args)
        finally:
            cpu = time.thread_time() - on_cpu

    response = await to_thread.run_sync(timed, limiter=app.pdf_limiter if pdf else app.limiter)
    done = time.perf_counter()
    response.headers.append("Server-Timing", f"queue;dur={(started - arrived) * 1000:.2f}")
    response.headers.append("Server-Timing", f"app;dur={(done - started) * 1000:.2f}")
    # The work's own processor time: the part of ``app`` not spent waiting for a core or for
    # the interpreter lock held by the thread serving the connections.
    response.headers.append("Server-Timing", f"cpu;dur={cpu * 1000:.2f}")
    return response


def endpoint(
    handler: Handler,
    *,
    roles: tuple[str, ...] = ALL_ROLES,
    public: bool = False,
    pdf: bool = False,
    reads_only: bool = False,
) -> Callable[[Request], Awaitable[Response]]:
    """An ASGI endpoint running ``handler`` after the checks every request gets.

    ``reads_only``: the handler writes nothing, so the session check and everything it reads
    run in one read snapshot of the record (the live preview: one transaction instead of four;
    a write inside would be refused)."""

    async def run(request: Request) -> Response:
        form = None
        if request.method == "POST":
            try:
                form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
            except HTTPException as error:  # too many fields, a file, a malformed multipart body
                ctx = Ctx(request, None, None, request.app.state.workbench)
                return message_page(ctx, "Bad input", f"The form was refused: {error.detail}", error.status_code)
        return await in_worker(request, _dispatch, handler, request, form, roles, public, reads_only, pdf=pdf)

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def _dispatch(
    handler: Handler, request: Request, form: FormData | None, roles: tuple[str, ...], public: bool, reads_only: bool
) -> Response:
    app: Workbench = request.app.state.workbench
    if reads_only:
        with app.database.snapshot():
            return _checked(handler, request, form, roles, public)
    return _checked(handler, request, form, roles, public)


def _checked(
    handler: Handler, request: Request, form: FormData | None, roles: tuple[str, ...], public: bool
) -> Response:
    app: Workbench = request.app.state.workbench
    user = session_user(app.database, request.cookies.get(app.session_cookie))
    ctx = Ctx(request, form, user, app)
    if not public:
        if user is None:
            return _sign_in_first(ctx)
        if request.method == "POST" and not same_token(user.csrf_token, ctx.field("csrf_token")):
            return message_page(ctx, "Refused", "This form has expired or did not come from this page: reload it.", 403)
        if user.role not in roles:
            allowed = " or ".join(roles)
            return message_page(ctx, "Refused", f"{user.name} is a {user.role}; this needs a {allowed}.", 403)
    try:
        return handler(ctx)
    except Refused as error:
        return message_page(ctx, "Refused", str(error), 409)
    except InputError as error:
        missing = error.problem.startswith("no such")
        return message_page(ctx, "Not found" if missing else "Bad input", error.message, 404 if missing else 422)
    except Exception as error:  # the last line of defence: a log line without a value in it
        from ..record.db import database_problem

        problem = database_problem(error)
        if problem is not None:  # nothing of the statement or its parameters, here or in the log
            log.error("record unavailable in %s: %s", handler.__name__, problem)
            text = "The record is unavailable: try again, and tell the administrator if it persists."
            return message_page(ctx, "Unavailable", text, 503)
        log.error("internal error in %s: %s", handler.__name__, error.__class__.__name__)
        log.debug("traceback", exc_info=True)
        return message_page(ctx, "Internal error", "The request failed with an internal error.", 500)


def _sign_in_first(ctx: Ctx) -> Response:
    """Signed out: a page view goes to the sign-in page and back; anything else is refused."""
    request = ctx.request
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method == "GET" and not ctx.htmx:
        return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)
    response = message_page(ctx, "Signed out", "Sign in to continue.", 401)
    response.headers["HX-Redirect"] = "/signin"
    return response
