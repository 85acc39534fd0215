"""Sessions, CSRF tokens, sign-in throttling and the headers every response carries.

Sessions live in the record (``web_sessions``), not in a signed cookie: signing out deletes
the row, so a copied cookie is worthless afterwards, and any number of app processes share
them. Each session row is made and deleted with an audit event that holds its digest, so a
session written into the database by hand is named by ``audit --verify``. The cookie holds
256 random bits; the table holds their sha256 only. Each session has its own CSRF token,
which every state-changing form carries and the server compares in constant time; the
sign-in form, which comes before any session, is protected the same way by a token in a
short-lived cookie of its own (double submit).

Throttling is per process and in memory: after a few failed sign-ins for one user name or
from one address, each further try waits twice as long as the last (capped). An attacker
spreading guesses over several app processes gets a multiple of that budget, still far
below what guessing an argon2 password needs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from ..record import audit
from ..record.db import Database
from ..record.tables import User, WebSession
from ..record.users import Identity

SESSION_HOURS = 10  # one shift and its handover; then sign in again
SIGNIN_COOKIE_SECONDS = 3600

# Content-Security-Policy: scripts and styles from this server's files only (no inline
# script or style anywhere), no plugins, no framing, forms post only here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def cookie_name(secure: bool, name: str) -> str:
    """``__Host-`` pins a cookie to this host and path and requires Secure (browsers enforce it)."""
    return f"__Host-{name}" if secure else name


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """The user behind a request, as read from the record for this request only."""

    user_id: int
    name: str
    role: str
    csrf_token: str

    def may(self, *roles: str) -> bool:
        return self.role in roles

    @property
    def identity(self) -> Identity:
        """Who acts on the record: proven by this session (the record checks the role again)."""
        return Identity(self.user_id, self.name)


def start_session(database: Database, user: User) -> str:
    """A new session for ``user``; returns the cookie value (shown once, kept as a hash)."""
    token = secrets.token_urlsafe(32)
    now = audit.now()
    with database.write() as session:
        expired = tuple(session.scalars(select(WebSession).where(WebSession.expires_at < now)))
        for row in expired:
            session.delete(row)
        started = WebSession(
            token_sha256=_digest(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + dt.timedelta(hours=SESSION_HOURS),
        )
        session.add(started)
        audit.append(session, user.name, "signed-in", {}, rows=(started,), deleted=expired)
    return token


def session_user(database: Database, token: str | None) -> SignedIn | None:
    if not token:
        return None
    with database.read() as session:
        found = session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.token_sha256 == _digest(token))
        ).first()
        if found is None:
            return None
        row, user = found
        if row.expires_at <= audit.now():
            return None
        return SignedIn(user.id, user.name, user.role, row.csrf_token)


def end_session(database: Database, token: str, user: SignedIn) -> None:
    with database.write() as session:
        ended = tuple(session.scalars(select(WebSession).where(WebSession.token_sha256 == _digest(token))))
        for row in ended:
            session.delete(row)
        audit.append(session, user.name, "signed-out", {}, deleted=ended)


def same_token(expected: str, given: object) -> bool:
    return isinstance(given, str) and bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Throttle:
    """Failed sign-ins per key (``user:NAME``, ``ip:ADDRESS``) with exponential backoff."""

    free_failures: int = 5
    base_seconds: float = 1.0
    cap_seconds: float = 900.0
    max_keys: int = 100_000
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _delay(self, count: int) -> float:
        over = count - self.free_failures
        return 0.0 if over < 0 else min(self.cap_seconds, self.base_seconds * 2.0**over)

    def wait_seconds(self, keys: tuple[str, ...], now: float | None = None) -> float:
        """How long until another try is allowed for all of ``keys`` (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            waits = [
                last + self._delay(count) - now
                for count, last in (self._failures.get(key, (0, 0.0)) for key in keys)
                if count
            ]
        return max([0.0, *waits])

    def failed(self, keys: tuple[str, ...], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._failures) >= self.max_keys:
                self._forget(now)
            for key in keys:
                count, _ = self._failures.get(key, (0, 0.0))
                self._failures[key] = (count + 1, now)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _forget(self, now: float) -> None:
        """Drop keys whose last failure is older than the longest wait (bounded memory)."""
        for key, (_, last) in list(self._failures.items()):
            if now - last > self.cap_seconds:
                del self._failures[key]
        while len(self._failures) >= self.max_keys:
            del self._failures[next(iter(self._failures))]
