"""The audit log page (pharmacists and admins): events as a readable table, filtered by
patient, user, order and date, and the chain check.

The stored event is canonical JSON, hashed as written; the page never shows it raw. Each
event's detail is laid out as "what: value" pairs, without the row digests (they are for
``audit --verify``, which the "Check the chain" button runs).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from starlette.responses import Response

from ..record import audit
from ..record.tables import AuditEvent, Order
from .pages import Ctx, render

PAGE = 500  # events per page: the newest first
ACTIONS = {  # the words a reader uses for each stored action
    "prepared": "order prepared",
    "verified": "order verified",
    "verify-discrepancy": "verification: doses disagreed",
    "released": "order released",
    "cancelled": "order cancelled",
    "replaced": "order prepared again (patient changed)",
    "refused": "refused",
    "patient-saved": "patient saved",
    "user-added": "user added",
    "authentication-failed": "sign-in failed",
}


@dataclass(frozen=True)
class AuditFilter:
    patient: str = ""
    user: str = ""
    order: str = ""
    date: str = ""
    problems: tuple[tuple[str, str], ...] = ()  # (field id, message) said beside the field

    @classmethod
    def read(cls, ctx: Ctx) -> AuditFilter:
        order, date = ctx.field("order").strip(), ctx.field("date").strip()
        problems = []
        if order and not order.isdigit():
            problems.append(("order", "Order number: expected digits, such as 12"))
            order = ""
        if date:
            try:
                dt.date.fromisoformat(date)
            except ValueError:
                problems.append(("date", "Date: expected a date such as 2026-11-22"))
                date = ""
        return cls(ctx.field("patient").strip()[:64], ctx.field("user").strip()[:64], order, date, tuple(problems))

    def problem(self, field: str) -> str:
        return next((text for name, text in self.problems if name == field), "")


def detail_pairs(detail_json: str) -> list[tuple[str, str]]:
    """An event's detail as "what: value" pairs, row digests left out."""
    detail: dict[str, Any] = json.loads(detail_json)
    pairs = []
    for key, value in detail.items():
        if key == "rows":
            continue
        text = ("; ".join(_short(v) for v in value) or "none") if isinstance(value, list) else _short(value)
        pairs.append((key.replace("_", " "), text))
    return pairs


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_short(v)}" for k, v in value.items() if k != "rows")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)[:300]


def audit_page(ctx: Ctx) -> Response:
    chosen = AuditFilter.read(ctx)
    check = ctx.field("check") == "1"
    with ctx.database.read() as session:
        query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(PAGE)
        if chosen.order:
            query = query.where(AuditEvent.order_id == int(chosen.order))
        if chosen.user:
            query = query.where(AuditEvent.actor == chosen.user)
        if chosen.date:
            query = query.where(AuditEvent.at.like(f"{chosen.date}%"))
        if chosen.patient:
            orders = select(Order.id).where(Order.patient_id == chosen.patient)
            named = audit.canonical({"patient_id": chosen.patient})[1:-1]  # '"patient_id":"MRN"'
            query = query.where(or_(AuditEvent.order_id.in_(orders), AuditEvent.detail_json.contains(named)))
        events = [
            {
                "seq": e.seq,
                "at": e.at[:19].replace("T", " "),
                "actor": e.actor or "—",
                "action": ACTIONS.get(e.action, e.action),
                "order_id": e.order_id,
                "detail": detail_pairs(e.detail_json),
            }
            for e in session.scalars(query)
        ]
        problems = [str(p) for p in audit.verify(session)] if check else None
    filtered = any((chosen.patient, chosen.user, chosen.order, chosen.date))
    return render(
        ctx,
        "audit.html.j2",
        title="Audit log",
        events=events,
        f=chosen,
        filtered=filtered,
        problems=problems,
        limit=PAGE,
    )
