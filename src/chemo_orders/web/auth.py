"""Signing in and out (design §10.6: fields ``Username``, ``Password``, button ``Sign in``).

A wrong name and a wrong password get the same answer and cost the same argon2 work
(:func:`chemo_orders.record.users.check_password`). Failures count against the name and the
address; past a few, the next try must wait (see :class:`security.Throttle`) and the page
says how long, without checking the password at all.
"""

from __future__ import annotations

import math
import unicodedata

from starlette.responses import RedirectResponse, Response

from ..record.users import check_password
from .pages import Ctx, render
from .security import SIGNIN_COOKIE_SECONDS, end_session, new_token, same_token, start_session

NAME_MAX = 64
PASSWORD_MAX = 1024  # argon2 hashes any length; a megabyte "password" is only a way to burn CPU


def _next(target: str) -> str:
    """Where to go after signing in: a path on this site only (never ``//host`` or a URL)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/patients"


def _form(ctx: Ctx, error: str = "", status: int = 200, username: str = "") -> Response:
    token = new_token()
    response = render(
        ctx,
        "signin.html.j2",
        status,
        title="Sign in",
        error=error,
        signin_token=token,
        username=username,
        next=_next(ctx.field("next")),
    )
    response.set_cookie(
        ctx.app.signin_cookie,
        token,
        max_age=SIGNIN_COOKIE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=ctx.app.secure,
        path="/",
    )
    return response


def signin_page(ctx: Ctx) -> Response:
    if ctx.user is not None:
        return RedirectResponse(_next(ctx.field("next")), status_code=303)
    return _form(ctx)


def signin(ctx: Ctx) -> Response:
    expected = ctx.request.cookies.get(ctx.app.signin_cookie, "")
    if not expected or not same_token(expected, ctx.field("signin_token")):
        return _form(ctx, "The sign-in form expired: please try again.", 403)
    name, password = ctx.field("username").strip(), ctx.field("password")
    keys = (f"user:{unicodedata.normalize('NFKC', name).lower()}", f"ip:{ctx.client}")  # one key per spelling
    wait = ctx.app.throttle.wait_seconds(keys)
    if wait > 0:
        return _form(ctx, f"Too many failed sign-ins: try again in {math.ceil(wait)} seconds.", 429, name)
    user = None
    if name and password and len(name) <= NAME_MAX and len(password) <= PASSWORD_MAX:
        with ctx.database.read() as session:
            user = check_password(session, name, password)
    if user is None:
        ctx.app.throttle.failed(keys)
        return _form(ctx, "Wrong username or password.", 401, name)
    ctx.app.throttle.succeeded(keys)
    token = start_session(ctx.database, user)
    response = RedirectResponse(_next(ctx.field("next")), status_code=303)
    response.set_cookie(
        ctx.app.session_cookie, token, httponly=True, samesite="strict", secure=ctx.app.secure, path="/"
    )
    response.delete_cookie(ctx.app.signin_cookie, path="/", secure=ctx.app.secure, httponly=True, samesite="strict")
    return response


def signout(ctx: Ctx) -> Response:
    token = ctx.request.cookies.get(ctx.app.session_cookie, "")
    end_session(ctx.database, token, ctx.me)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(ctx.app.session_cookie, path="/", secure=ctx.app.secure, httponly=True, samesite="strict")
    return response
