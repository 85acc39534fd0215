"""Users, roles, passwords, API tokens, and the proof of who acts (design §11.6).

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile); only the hash is stored, and the command line reads a password from stdin only, so
it never appears in argv, a shell history or a process list. API tokens are 256 random bits,
shown once; the record keeps their sha256 (a fast hash is enough for a random secret of that
length, and it lets a request find its token by an indexed lookup).

Nobody acts by typing a name: the record's actions take an :class:`Identity`, which only a
password or a token (:func:`prove`) or a signed-in session (the workbench) yields.

User names are NFKC-normalised and compared case-insensitively (stored lower-case), in ASCII
letters, digits, ``.``, ``-`` and ``_`` only, so that ``PAM``, a Cyrillic ``pаm`` or a name
with a zero-width or bidi character cannot pass for ``pam``. Names stored before this rule in
mixed case keep working: lookups compare lower-cased.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import InputError
from . import Refused, audit
from .tables import ROLES, ApiToken, Role, User

if TYPE_CHECKING:
    from .db import Database

NAME_MAX = 64
NAME_RULE = re.compile(r"[a-z0-9._-]{1,64}", re.ASCII)


@dataclass(frozen=True)
class NewUser:
    name: str
    role: Role
    password: str | None = None  # from stdin; None: the user cannot sign in by password


@dataclass(frozen=True)
class Identity:
    """A person who proved who they are (a password, a token, a signed-in session). The record
    reads the user again by id in the transaction that acts, so a role changed since, or a user
    removed, counts at once."""

    user_id: int
    name: str


def canonical_name(text: str, field: str = "NAME") -> str:
    """The one spelling of a user name: NFKC, lower-case, ASCII letters, digits, ``.-_``."""
    name = unicodedata.normalize("NFKC", text).strip().lower()
    if not NAME_RULE.fullmatch(name):
        raise InputError(
            field, text, f"a user name is 1-{NAME_MAX} ASCII letters, digits, '.', '-' or '_' (nothing else)"
        )
    return name


def _by_name(session: Session, name: str) -> User | None:
    """The user called ``name`` (canonical), matching a mixed-case name stored before the rule."""
    found = list(session.scalars(select(User).where(func.lower(User.name) == name).order_by(User.id).limit(2)))
    if len(found) > 1:
        raise InputError("NAME", name, "two users differ only in case: ask an administrator to rename one")
    return found[0] if found else None


def operating_system_user() -> str:
    """Who ran the command, as the operating system knows them (``users add`` records it)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        return f"uid {os.getuid()}"


def hash_password(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def add_user(session: Session, request: NewUser) -> User:
    """An administrative act on the database (like ``createuser``): audited with the
    operating-system user who did it, since no user of the record has proven anything."""
    name = canonical_name(request.name)
    if request.role not in ROLES:
        raise InputError("--role", request.role, f"expected one of {', '.join(ROLES)}")
    if request.password is not None and not request.password:
        raise InputError("password", "", "empty password on stdin")
    if _by_name(session, name) is not None:
        raise InputError("NAME", name, "a user with this name exists")
    user = User(
        name=name,
        role=request.role,
        password_hash=hash_password(request.password) if request.password is not None else None,
        created_at=audit.now(),
    )
    session.add(user)
    detail = {"user": name, "role": request.role, "os_user": operating_system_user()}
    audit.append(session, None, "user-added", detail, rows=(user,))
    return user


def find_user(session: Session, name: str) -> User:
    user = _by_name(session, canonical_name(name, "--user"))
    if user is None:
        raise InputError("--user", name, "no such user (add one with `chemo-orders users add`)")
    return user


def require_role(user: User, roles: tuple[Role, ...], action: str) -> None:
    if user.role not in roles:
        raise Refused(f"{user.name} is a {user.role}; {action} needs a {' or '.join(roles)}")


def current_user(session: Session, identity: Identity) -> User:
    """The user behind ``identity`` as the record holds it now."""
    user = session.get(User, identity.user_id)
    if user is None or user.name != identity.name:
        raise Refused(f"{identity.name} is not a user of this record")
    return user


def acting_user(session: Session, identity: Identity, roles: tuple[Role, ...], action: str) -> User:
    """:func:`current_user`, if their role allows ``action``."""
    user = current_user(session, identity)
    require_role(user, roles, action)
    return user


def check_password(session: Session, name: str, password: str) -> User | None:
    """The user if the password matches (a wrong name and a wrong password look the same)."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        user = _by_name(session, canonical_name(name))
    except InputError:
        user = None
    hasher = PasswordHasher()
    if user is None or user.password_hash is None:
        hasher.hash(password)  # the same work either way: no timing hint that the name exists
        return None
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def authenticate(session: Session, name: str, *, token: str | None = None, password: str | None = None) -> User | None:
    """The user called ``name`` if the password (when given) or the API token matches; a
    malformed name is an InputError naming ``--user``."""
    claimed = canonical_name(name, "--user")
    if password is not None:
        return check_password(session, claimed, password)
    found = user_for_token(session, token) if token else None
    return found if found is not None and found.name.lower() == claimed else None


def prove(database: Database, name: str, *, token: str | None = None, password: str | None = None) -> Identity:
    """``name``'s identity, proven by their password or one of their API tokens (the password
    when both are given). No credential, or a wrong one, is refused; a wrong one is audited
    (who claimed to be whom, how, and the operating-system user) before the refusal."""
    claimed = canonical_name(name, "--user")
    if password is None and not token:
        raise Refused(f"{claimed}: give their token in CHEMO_ORDERS_TOKEN or their password with --password-stdin")
    how = "password" if password is not None else "token"
    with database.write() as session:
        user = authenticate(session, claimed, token=token, password=password)
        if user is not None:
            return Identity(user.id, user.name)
        detail = {"user": claimed, "by": how, "os_user": operating_system_user()}
        audit.append(session, None, "authentication-failed", detail)
    raise Refused(f"{claimed}: wrong user name or {how}")


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, identity: Identity) -> str:
    """A new API token for a person who proved who they are; only its hash is stored, so this
    is the one chance to see it."""
    user = current_user(session, identity)
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_sha256=_token_sha256(token), created_at=audit.now())
    session.add(row)
    audit.append(session, user.name, "token-issued", {"user": user.name}, rows=(row,))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _token_sha256(token)))
    return None if row is None else session.get(User, row.user_id)
