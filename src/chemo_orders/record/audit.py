"""The audit trail: append-only events (who, when, what, why), each chained to the last under
a key kept outside the database, with the newest link anchored outside it too.

Why a key: an unkeyed hash chain proves nothing to someone who can write the database, who can
edit an event (a released dose 481 → 781 mg) and recompute every hash after it. Each event's
link is therefore HMAC-SHA256 under a secret in a key file (``$CHEMO_ORDERS_KEY_FILE``, by
default ``audit.key`` beside the default SQLite file), created on first use with mode 0600 and
refused when anyone but its owner may read it. Without the key nobody can make a link that
verifies.

Why a head file: a keyed chain still verifies after its newest events are deleted, or after
the whole record is replaced by an empty one. ``<key file>.head`` holds the newest link this
host appended (the record's first link, the sequence number and the link, under the key's
HMAC), rewritten atomically after every commit; :func:`verify` requires the chain to contain
it, and :func:`append` refuses to write over a chain that lost it (the evidence stays).

Each event also carries the digest of every row it created, changed or deleted (deleted: null);
:func:`verify` compares those with the rows as they are now, so a row edited by hand (a dose,
a state, an exposure that feeds the cumulative limit, a role, a token, a web session) is found
too, and named. Events written before the chain was keyed (plain sha256 links) still verify,
but only before the first keyed event: the first keyed link covers all of them.

Appending is serialised: PostgreSQL by a transaction-scoped advisory lock, SQLite by its
write lock (every write transaction begins IMMEDIATE, see ``db.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..errors import InputError
from . import Refused
from .db import AFTER_COMMIT, advisory_lock
from .tables import (
    ApiToken,
    AuditEvent,
    Base,
    Order,
    PatientRow,
    PatientVersion,
    User,
    Verification,
    WebSession,
)

GENESIS = "0" * 64
KEY_ENV = "CHEMO_ORDERS_KEY_FILE"
KEY_BYTES = 32
ANCHOR_CHECKED = "audit-anchor-checked"  # session.info: this transaction saw the chain hold its head
# One number for pg_advisory_xact_lock, derived from a name so it cannot collide by accident.
AUDIT_LOCK = int.from_bytes(hashlib.sha256(b"chemo-orders audit chain").digest()[:8], "big", signed=True)
log = logging.getLogger("chemo_orders.record")


class ChainBroken(Refused):
    """The chain no longer holds what its head file anchors: nothing more is written over it."""


def canonical(data: Any) -> str:
    """One spelling of a JSON value: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# The key and the head, outside the database.


def key_path() -> Path:
    """``$CHEMO_ORDERS_KEY_FILE``, else ``audit.key`` in the user's data directory."""
    from platformdirs import user_data_path

    given = os.environ.get(KEY_ENV)
    return Path(given).expanduser() if given else user_data_path("chemo-orders") / "audit.key"


@dataclass(frozen=True)
class Key:
    path: Path
    secret: bytes

    @property
    def head_path(self) -> Path:
        return self.path.with_name(self.path.name + ".head")

    def mac(self, *parts: Any) -> str:
        """HMAC-SHA256 of the parts' canonical JSON; the first part names what is signed, so an
        event's link can never pass for a head or a checkpoint."""
        return hmac.new(self.secret, canonical(list(parts)).encode("utf-8"), hashlib.sha256).hexdigest()


def load_key(*, create: bool) -> Key | None:
    """The key; None when the file does not exist and ``create`` is false. A key file anyone
    but its owner may read, or that is not one, is refused (exit 2 naming the variable)."""
    path = key_path()
    if create and not path.exists():
        _create_key(path)
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError(KEY_ENV, str(path), f"cannot open the audit key ({error.strerror})") from None
    try:
        status = os.fstat(handle)
        if not stat.S_ISREG(status.st_mode):
            raise InputError(KEY_ENV, str(path), "the audit key is not a regular file")
        if status.st_uid != os.geteuid() or status.st_mode & 0o077:
            raise InputError(KEY_ENV, str(path), "the audit key must belong to this account alone (chmod 600)")
        text = os.read(handle, 4 * KEY_BYTES).decode("ascii", "replace").strip()
    finally:
        os.close(handle)
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != KEY_BYTES:
        raise InputError(KEY_ENV, str(path), f"the audit key is not {KEY_BYTES} bytes in hex")
    return Key(path, secret)


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that takes any text (a hand-edited value need not be ASCII)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _create_key(path: Path) -> None:
    """A new random key, mode 0600, written beside the target and linked into place: two
    processes starting together end up with the same key, and nobody reads a half file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        os.write(handle, (os.urandom(KEY_BYTES).hex() + "\n").encode("ascii"))
        os.fsync(handle)
        os.close(handle)
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs is the key
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


@dataclass(frozen=True)
class Anchor:
    """A signed statement that ``record`` (its first link) had ``seq`` events ending in ``head``:
    the head file (this host's newest), or a checkpoint exported for a second system."""

    record: str
    seq: int
    head: str
    at: str
    mac: str

    def signed(self, key: Key, kind: str) -> bool:
        return _same(self.mac, key.mac(kind, self.record, self.seq, self.head, self.at))

    @classmethod
    def make(cls, key: Key, kind: str, record: str, seq: int, head: str) -> Anchor:
        at = now().isoformat(timespec="seconds")
        return cls(record, seq, head, at, key.mac(kind, record, seq, head, at))

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"count": self.seq}


def read_anchor(path: Path, what: str) -> Anchor:
    """An anchor file; an unreadable or malformed one is an InputError naming ``what``."""
    try:
        data = json.loads(path.read_bytes()[:4096])
        return Anchor(str(data["record"]), int(data["seq"]), str(data["head"]), str(data["at"]), str(data["mac"]))
    except FileNotFoundError:
        raise InputError(what, str(path), "file not found") from None
    except OSError as error:
        raise InputError(what, str(path), f"cannot read file ({error.strerror})") from None
    except (ValueError, KeyError, TypeError):
        raise InputError(what, str(path), "not a chemo-orders audit anchor") from None


def _read_head(key: Key) -> Anchor | None:
    return read_anchor(key.head_path, "audit head file") if key.head_path.exists() else None


def _write_head(key: Key, record: str, seq: int, head: str) -> None:
    """Move the head file forward (never back: a slower process that committed an earlier
    event must not overwrite a later head), atomically and under a lock beside the key."""
    lock = os.open(key.path.with_name(key.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = _read_head(key)
        except InputError:
            current = None
        if current is not None and current.record == record and current.seq >= seq:
            return
        data = canonical(Anchor.make(key, "head", record, seq, head).as_json()).encode("utf-8")
        handle, temporary = tempfile.mkstemp(prefix=f".{key.head_path.name}.", dir=key.path.parent)
        try:
            os.write(handle, data)
            os.fsync(handle)
            os.close(handle)
            os.replace(temporary, key.head_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    finally:
        os.close(lock)


def _anchor_after_commit(key: Key, record: str, seq: int, head: str) -> None:
    """Run by ``Database.write`` once the event is committed. A failure cannot undo the commit:
    it is logged, and the head stays a lower bound (what it anchors is still checked)."""
    try:
        _write_head(key, record, seq, head)
    except OSError as error:
        log.error("audit head file %s not updated to event %d: %s", key.head_path, seq, error)


# Rows and events.


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    return value


def _columns(row: Base) -> dict[str, object]:
    return {column.key: _plain(getattr(row, column.key)) for column in row.__table__.columns}


def row_key(row: Base) -> str:
    identity = row.__mapper__.primary_key_from_instance(row)
    return f"{row.__tablename__}:{identity[0]}"


def row_digest(row: Base) -> str:
    """sha256 of a row's columns; an order's digest covers its acknowledgements, exposures and
    measurements too, the rows that feed later calculations."""
    data: dict[str, object] = _columns(row)
    if isinstance(row, Order):
        data["acknowledgements"] = [_columns(a) for a in row.acknowledgements]
        data["exposures"] = [_columns(e) for e in row.exposures]
        data["measurement"] = _columns(row.measurement)
    return hashlib.sha256(canonical(data).encode("utf-8")).hexdigest()


def _fields(event: AuditEvent) -> list[object]:
    return [event.seq, event.at, event.actor, event.action, event.order_id, event.detail_json]


def _unkeyed_link(prev: str, event: AuditEvent) -> str:
    """How events were chained before the key (still accepted before the first keyed event)."""
    return hashlib.sha256(f"{prev}\n{canonical(_fields(event))}".encode()).hexdigest()


def _link(key: Key, prev: str, event: AuditEvent) -> str:
    return key.mac("event", prev, _fields(event))


def append(
    session: Session,
    actor: str | None,
    action: str,
    detail: dict[str, Any],
    *,
    order_id: int | None = None,
    rows: tuple[Base, ...] = (),
    deleted: tuple[Base, ...] = (),
) -> AuditEvent:
    """Add one event in the caller's transaction (it commits or rolls back with the change).

    ``rows``: the rows created or changed, digested after flushing; ``deleted``: the rows this
    change deletes (recorded as null, so that verify expects them gone). Refuses with
    :class:`ChainBroken` when the chain no longer contains the head file's link."""
    gone = {row_key(r): None for r in deleted}
    session.flush()  # ids and defaults of the rows to digest
    key = load_key(create=True)
    assert key is not None
    advisory_lock(session, AUDIT_LOCK)
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).first()
    if session.info.get(ANCHOR_CHECKED):  # an earlier event of this transaction: its head is not written yet
        record = session.scalar(select(AuditEvent.sha256).where(AuditEvent.seq == 1))
    else:
        record = _check_anchor(session, key, last)
        session.info[ANCHOR_CHECKED] = True
    body = {**detail, "rows": {row_key(r): row_digest(r) for r in rows} | gone}
    event = AuditEvent(
        seq=last.seq + 1 if last else 1,
        at=now().isoformat(timespec="microseconds"),
        actor=actor,
        action=action,
        order_id=order_id,
        detail_json=canonical(body),
        prev_sha256=last.sha256 if last else GENESIS,
        sha256="",
    )
    event.sha256 = _link(key, event.prev_sha256, event)
    session.add(event)
    session.flush()
    anchored = (key, record or event.sha256, event.seq, event.sha256)
    session.info.setdefault(AFTER_COMMIT, {})["audit-head"] = lambda: _anchor_after_commit(*anchored)
    return event


def _check_anchor(session: Session, key: Key, last: AuditEvent | None) -> str | None:
    """The record's first link (None when empty), once the chain is seen to hold the head."""
    head = _read_head(key)
    first = session.scalar(select(AuditEvent.sha256).where(AuditEvent.seq == 1))
    if head is None:
        if last is not None and _unkeyed_link(last.prev_sha256, last) != last.sha256:
            raise ChainBroken(
                f"the audit head file {key.head_path} is missing but the chain is keyed: "
                "nothing is written until it is restored (run `chemo-orders audit --verify`)"
            )
        return first  # a new record, or the first keyed event after unkeyed ones
    problem = _anchor_problem(session, key, head, "head", first)
    if problem is not None:
        raise ChainBroken(f"{problem}: nothing is written over it (run `chemo-orders audit --verify`)")
    return first


def _anchor_problem(session: Session, key: Key, anchor: Anchor, kind: str, first: str | None) -> Problem | None:
    """Whether the record holds what ``anchor`` signs: its first link and its ``seq``th link."""
    where = "audit head file" if kind == "head" else "audit checkpoint"
    if not anchor.signed(key, kind):
        return Problem(where, "its HMAC does not match its content (edited, or made with another key)")
    if first is None:
        return Problem(where, f"anchors {anchor.seq} events but the record has none (wiped or replaced)")
    if first != anchor.record:
        return Problem("audit event 1", f"not the first event of the record the {where} anchors (replaced)")
    link = session.scalar(select(AuditEvent.sha256).where(AuditEvent.seq == anchor.seq))
    if link is None:
        return Problem(f"audit event {anchor.seq}", f"missing: the {where} anchors it (newest events removed)")
    if link != anchor.head:
        return Problem(f"audit event {anchor.seq}", f"differs from the link the {where} anchors (rewritten)")
    return None


@dataclass(frozen=True)
class Problem:
    where: str  # "audit event 17", "orders:12", "audit head file"
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def events(session: Session, order_id: int | None = None) -> Iterator[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if order_id is not None:
        query = query.where(AuditEvent.order_id == order_id)
    yield from session.scalars(query.execution_options(yield_per=500))


def verify(session: Session, checkpoint: Anchor | None = None) -> list[Problem]:
    """Walk the chain from the first event, check the head file (and ``checkpoint``), then
    compare every recorded row with its last event.

    The first problem is the first broken, missing or inserted link (in chain order); rows
    follow in table order. Without the key file a record with events fails (its unkeyed links
    are still walked, so a careless edit is named too).
    """
    try:
        key = load_key(create=False)
        head = _read_head(key) if key is not None else None
    except InputError as error:
        return [Problem("audit key", error.message)]
    problems = _walk(session, key)
    if problems:
        return problems  # row digests from a broken chain prove nothing
    first = session.scalar(select(AuditEvent.sha256).where(AuditEvent.seq == 1))
    if key is not None and head is None and first is not None:
        problems.append(Problem("audit head file", f"{key.head_path} is missing: removed newest events go unseen"))
    for anchor, kind in ((head, "head"), (checkpoint, "checkpoint")):
        if anchor is not None:
            if key is None:
                return [Problem("audit key", f"no key file at {key_path()}: the {kind} cannot be checked")]
            problem = _anchor_problem(session, key, anchor, kind, first)
            if problem is not None:
                problems.append(problem)
    if problems:
        return problems
    return _check_rows(session)


def _walk(session: Session, key: Key | None) -> list[Problem]:
    problems: list[Problem] = []
    expected_prev, expected_seq, keyed = GENESIS, 1, False
    for event in events(session):
        where = f"audit event {event.seq}"
        if event.seq != expected_seq:
            problems.append(Problem(where, f"expected event {expected_seq} here: events missing"))
        if event.prev_sha256 != expected_prev:
            problems.append(Problem(where, "does not link to the event before it (an event was edited or removed)"))
        if key is not None and _same(_link(key, event.prev_sha256, event), event.sha256):
            keyed = True
        elif keyed or _unkeyed_link(event.prev_sha256, event) != event.sha256:
            problems.append(Problem(where, "its HMAC does not match its content (edited or inserted by hand)"))
        expected_prev, expected_seq = event.sha256, event.seq + 1
    if expected_seq > 1 and key is None:
        problems.append(Problem("audit key", f"no key file at {key_path()}: the chain cannot be checked"))
    return problems


def _check_rows(session: Session) -> list[Problem]:
    problems: list[Problem] = []
    latest: dict[str, tuple[int, str | None]] = {}  # row key -> (event seq, digest; None: deleted)
    for event in events(session):
        try:
            rows = json.loads(event.detail_json).get("rows", {})
        except (ValueError, AttributeError):
            rows = {}
        for row, digest in rows.items():
            latest[row] = (event.seq, digest)
    for row in _recorded_rows(session):
        name = row_key(row)
        if name not in latest:
            problems.append(Problem(name, "no audit event created this row (inserted by hand)"))
            continue
        seq, digest = latest.pop(name)
        if digest is None:
            problems.append(Problem(name, f"audit event {seq} deleted this row, but it is back (inserted by hand)"))
        elif row_digest(row) != digest:
            problems.append(Problem(name, f"differs from what audit event {seq} recorded (edited by hand)"))
    for name, (seq, digest) in sorted(latest.items(), key=lambda item: item[1][0]):
        if digest is not None:
            problems.append(Problem(name, f"recorded by audit event {seq} but no longer in the database (deleted)"))
    return problems


def export(session: Session) -> Anchor:
    """A signed checkpoint of the record as it is (after it verifies): a second system keeps it,
    and ``verify`` with it later shows the record still contains what it signs."""
    key = load_key(create=False)
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).first()
    first = session.scalar(select(AuditEvent.sha256).where(AuditEvent.seq == 1))
    if key is None or last is None or first is None:
        raise InputError("--export", "", "the record has no keyed audit events to sign yet")
    return Anchor.make(key, "checkpoint", first, last.seq, last.sha256)


def _recorded_rows(session: Session) -> Iterator[Base]:
    yield from session.scalars(select(User).order_by(User.id))
    yield from session.scalars(select(ApiToken).order_by(ApiToken.id))
    yield from session.scalars(select(WebSession).order_by(WebSession.token_sha256))
    yield from session.scalars(select(PatientRow).order_by(PatientRow.id))
    yield from session.scalars(select(PatientVersion).order_by(PatientVersion.id))
    orders = select(Order).order_by(Order.id)
    loads = orders.options(
        selectinload(Order.acknowledgements), selectinload(Order.exposures), selectinload(Order.measurement)
    )
    yield from session.scalars(loads.execution_options(yield_per=500))
    yield from session.scalars(select(Verification).order_by(Verification.id))
