"""The audit log page (pharmacists and admins): the newest events, one order's, the chain check."""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response

from ..record import audit
from ..record.tables import AuditEvent
from .pages import Ctx, render

PAGE = 500  # events per page: the newest first


def audit_page(ctx: Ctx) -> Response:
    text = ctx.field("order").strip()
    order_id = int(text) if text.isdigit() else None
    check = ctx.field("check") == "1"
    with ctx.database.read() as session:
        query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(PAGE)
        if order_id is not None:
            query = query.where(AuditEvent.order_id == order_id)
        events = list(session.scalars(query))
        problems = [str(p) for p in audit.verify(session)] if check else None
    return render(
        ctx, "audit.html.j2", title="Audit log", events=events, order_id=order_id, problems=problems, limit=PAGE
    )
