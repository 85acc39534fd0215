"""The audit trail: append-only events (who, when, what, why), each hash-chained to the last.

Each event's sha256 covers the previous event's sha256 and every stored column of the event,
so editing or deleting an event breaks the chain at that point. Each event also carries the
digest of every row it created or changed; :func:`verify` compares those digests with the
rows as they are now, so a row edited by hand (a dose, a state, an exposure that feeds the
cumulative limit, a role) is found too, and named.

Appending is serialised: PostgreSQL by a transaction-scoped advisory lock, SQLite by its
write lock (every write transaction begins IMMEDIATE, see ``db.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .db import advisory_lock
from .tables import ApiToken, AuditEvent, Base, Order, PatientRow, PatientVersion, User, Verification

GENESIS = "0" * 64
# One number for pg_advisory_xact_lock, derived from a name so it cannot collide by accident.
AUDIT_LOCK = int.from_bytes(hashlib.sha256(b"chemo-orders audit chain").digest()[:8], "big", signed=True)


def canonical(data: Any) -> str:
    """One spelling of a JSON value: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


def _event_hash(prev: str, event: AuditEvent) -> str:
    fields = [event.seq, event.at, event.actor, event.action, event.order_id, event.detail_json]
    return hashlib.sha256(f"{prev}\n{canonical(fields)}".encode()).hexdigest()


def append(
    session: Session,
    actor: str | None,
    action: str,
    detail: dict[str, Any],
    *,
    order_id: int | None = None,
    rows: tuple[Base, ...] = (),
) -> AuditEvent:
    """Add one event in the caller's transaction (it commits or rolls back with the change)."""
    session.flush()  # ids and defaults of the rows to digest
    advisory_lock(session, AUDIT_LOCK)
    last = session.execute(select(AuditEvent.seq, AuditEvent.sha256).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    body = {**detail, "rows": {row_key(r): row_digest(r) for r in rows}}
    event = AuditEvent(
        seq=seq,
        at=now().isoformat(timespec="microseconds"),
        actor=actor,
        action=action,
        order_id=order_id,
        detail_json=canonical(body),
        prev_sha256=prev,
        sha256="",
    )
    event.sha256 = _event_hash(prev, event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class Problem:
    where: str  # "audit event 17", "orders:12"
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def events(session: Session, order_id: int | None = None) -> Iterator[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if order_id is not None:
        query = query.where(AuditEvent.order_id == order_id)
    yield from session.scalars(query.execution_options(yield_per=500))


def verify(session: Session) -> list[Problem]:
    """Walk the chain from the first event, then compare every row with its last event.

    The first problem is the first broken link (in chain order); rows follow in table order.
    """
    problems: list[Problem] = []
    expected_prev, expected_seq = GENESIS, 1
    latest: dict[str, tuple[int, str]] = {}  # row key -> (event seq, digest)
    for event in events(session):
        where = f"audit event {event.seq}"
        if event.seq != expected_seq:
            problems.append(Problem(where, f"expected event {expected_seq} here: events missing"))
        if event.prev_sha256 != expected_prev:
            problems.append(Problem(where, "does not link to the event before it (an event was edited or removed)"))
        if _event_hash(event.prev_sha256, event) != event.sha256:
            problems.append(Problem(where, "its hash does not match its content (edited by hand)"))
        expected_prev, expected_seq = event.sha256, event.seq + 1
        try:
            rows = json.loads(event.detail_json).get("rows", {})
        except (ValueError, AttributeError):
            rows = {}
        for key, digest in rows.items():
            latest[key] = (event.seq, digest)
    if problems:
        return problems  # row digests from a broken chain prove nothing
    for row in _recorded_rows(session):
        key = row_key(row)
        if key not in latest:
            problems.append(Problem(key, "no audit event created this row (inserted by hand)"))
            continue
        seq, digest = latest.pop(key)
        if row_digest(row) != digest:
            problems.append(Problem(key, f"differs from what audit event {seq} recorded (edited by hand)"))
    for key, (seq, _) in sorted(latest.items(), key=lambda item: item[1][0]):
        problems.append(Problem(key, f"recorded by audit event {seq} but no longer in the database (deleted)"))
    return problems


def _recorded_rows(session: Session) -> Iterator[Base]:
    yield from session.scalars(select(User).order_by(User.id))
    yield from session.scalars(select(ApiToken).order_by(ApiToken.id))
    yield from session.scalars(select(PatientRow).order_by(PatientRow.id))
    yield from session.scalars(select(PatientVersion).order_by(PatientVersion.id))
    orders = select(Order).order_by(Order.id)
    loads = orders.options(
        selectinload(Order.acknowledgements), selectinload(Order.exposures), selectinload(Order.measurement)
    )
    yield from session.scalars(loads.execution_options(yield_per=500))
    yield from session.scalars(select(Verification).order_by(Verification.id))
