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
below what guessing an argon2 password needs. The address is the peer's
(``request.client.host``): ``X-Forwarded-For`` and ``Forwarded`` are read only when the peer
is a proxy named with ``serve --trusted-proxy`` (uvicorn's own proxy handling is off: it
trusted any loopback peer, so one client could give every guess a new address).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select

from ..record import audit
from ..record.db import Database, rows
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


# Built once: every request reads its session.
_SESSION_USER = (
    select(WebSession.expires_at, WebSession.csrf_token, User.id, User.name, User.role)
    .join(User, User.id == WebSession.user_id)
    .where(WebSession.token_sha256 == bindparam("digest"))
)


def session_user(database: Database, token: str | None) -> SignedIn | None:
    if not token:
        return None
    with database.read() as session:
        found = rows(session, _SESSION_USER, digest=_digest(token))
    if not found:
        return None
    expires_at, csrf_token, user_id, name, role = found[0]
    if expires_at <= audit.now():
        return None
    return SignedIn(user_id, name, role, csrf_token)


def end_session(database: Database, token: str, user: SignedIn) -> None:
    with database.write() as session:
        ended = tuple(session.scalars(select(WebSession).where(WebSession.token_sha256 == _digest(token))))
        for row in ended:
            session.delete(row)
        audit.append(session, user.name, "signed-out", {}, deleted=ended)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def proxy_network(text: str) -> Network:
    """A ``--trusted-proxy`` value: an address (``10.0.0.5``, ``::1``) or a network (``10.0.0.0/24``)."""
    return ipaddress.ip_network(text.strip(), strict=False)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address as a forwarding header writes it (``1.2.3.4``, ``1.2.3.4:80``,
    ``[2001:db8::1]:80``, quoted), or None (``unknown``, an obfuscated ``_name``, garbage)."""
    value = text.strip().strip('"').strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        found = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _forwarded_for(value: str) -> list[str]:
    """The ``for=`` node of each element of an RFC 7239 ``Forwarded`` header, in order."""
    nodes: list[str] = []
    for element in value.split(","):
        node = ""
        for pair in element.split(";"):
            key, _, item = pair.partition("=")
            if key.strip().lower() == "for":
                node = item
        nodes.append(node)
    return nodes


MAX_FORWARDED_HOPS = 20  # a longer chain is not a proxy's doing; the peer is used instead


def client_address(peer: str | None, headers: Iterable[tuple[str, str]], trusted: tuple[Network, ...]) -> str:
    """The address sign-in throttling counts against.

    The peer's own address, unless the peer is a trusted proxy: then the right-most address
    of ``X-Forwarded-For`` (or, when none was sent, of ``Forwarded``) that is not itself a
    trusted proxy. Everything left of it could have been written by the client, so it is
    never read. A malformed or over-long chain counts against the proxy itself.
    """
    if peer is None:
        return "unknown"
    peer_address = _address(peer)
    if peer_address is None or not any(peer_address in network for network in trusted):
        return peer
    pairs = [(name.lower(), value) for name, value in headers]
    chain = [node for name, value in pairs if name == "x-forwarded-for" for node in value.split(",")]
    if not chain:
        chain = [node for name, value in pairs if name == "forwarded" for node in _forwarded_for(value)]
    if not chain or len(chain) > MAX_FORWARDED_HOPS:
        return str(peer_address)
    for node in reversed(chain):
        address = _address(node)
        if address is None:
            return str(peer_address)
        if not any(address in network for network in trusted):
            return str(address)
    return str(_address(chain[0]))


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
