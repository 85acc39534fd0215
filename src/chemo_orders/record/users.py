"""Users, roles, passwords and API tokens.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile); only the hash is stored, and the command line reads a password from stdin only, so
it never appears in argv, a shell history or a process list. API tokens are 256 random bits,
shown once; the record keeps their sha256 (a fast hash is enough for a random secret of that
length, and it lets a request find its token by an indexed lookup).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InputError
from . import Refused, audit
from .tables import ROLES, ApiToken, Role, User

NAME_MAX = 64


@dataclass(frozen=True)
class NewUser:
    name: str
    role: Role
    password: str | None = None  # from stdin; None: the user cannot sign in by password


def hash_password(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def add_user(session: Session, request: NewUser) -> User:
    name = request.name.strip()
    if not name or len(name) > NAME_MAX or any(c.isspace() for c in name):
        raise InputError("NAME", request.name, f"a user name is 1-{NAME_MAX} characters without spaces")
    if request.role not in ROLES:
        raise InputError("--role", request.role, f"expected one of {', '.join(ROLES)}")
    if request.password is not None and not request.password:
        raise InputError("password", "", "empty password on stdin")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise InputError("NAME", name, "a user with this name exists")
    user = User(
        name=name,
        role=request.role,
        password_hash=hash_password(request.password) if request.password is not None else None,
        created_at=audit.now(),
    )
    session.add(user)
    audit.append(session, None, "user-added", {"user": name, "role": request.role}, rows=(user,))
    return user


def find_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise InputError("--user", name, "no such user (add one with `chemo-orders users add`)")
    return user


def require_role(user: User, roles: tuple[Role, ...], action: str) -> None:
    if user.role not in roles:
        raise Refused(f"{user.name} is a {user.role}; {action} needs a {' or '.join(roles)}")


def check_password(session: Session, name: str, password: str) -> User | None:
    """The user if the password matches (a wrong name and a wrong password look the same)."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    user = session.scalar(select(User).where(User.name == name))
    hasher = PasswordHasher()
    if user is None or user.password_hash is None:
        hasher.hash(password)  # the same work either way: no timing hint that the name exists
        return None
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, name: str) -> str:
    """A new API token for ``name``; only its hash is stored, so this is the one chance to see it."""
    user = find_user(session, name)
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_sha256=_token_sha256(token), created_at=audit.now())
    session.add(row)
    audit.append(session, user.name, "token-issued", {"user": user.name}, rows=(row,))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _token_sha256(token)))
    return None if row is None else session.get(User, row.user_id)
