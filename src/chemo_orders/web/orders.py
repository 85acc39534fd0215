"""Order screens: the order's page, the verification queue, verify, release, cancel, PDF.

The independent check (ASCO/ONS double check): a pharmacist other than the preparer sees the
patient and the regimen but not the preparer's doses, types the dose of each line as they
calculate it, and only then sees the comparison. The doses typed become a prescription that
:func:`chemo_orders.record.orders.verify` recalculates with ``chemo_orders.verify`` against
the order's stored inputs; a disagreement leaves the order unverified. Leaving every dose
empty verifies without that recalculation (as ``orders verify`` without ``--prescribed``),
and the record says which it was. The record itself refuses the preparer, another role, or
a step out of order, whatever the page showed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import RedirectResponse, Response

from ..errors import InputError, excerpt
from ..record import Refused
from ..record import patients as store
from ..record.orders import (
    CANCELLERS,
    OrderRecord,
    VerifyRequest,
    cancel,
    disagreeing_lines,
    labs_to_check,
    list_orders,
    release,
    show,
    verify,
)
from ..report import days_text
from .pages import Ctx, Urls, render


@dataclass(frozen=True)
class CheckLine:
    """One line of the order as the verifier is asked for it (no dose shown)."""

    index: int
    label: str
    drug: str
    route: str
    days: tuple[int, ...]


def check_lines(record: OrderRecord) -> list[CheckLine]:
    lines = []
    for i, o in enumerate(record.calc["orders"]):
        days = tuple(o["days"])
        label = f"{o['display_name']} {o['route_display']}, day{'s' if len(days) > 1 else ''} {days_text(days)}"
        lines.append(CheckLine(i, label, o["drug"], o["route"], days))
    return lines


def awaits_my_check(ctx: Ctx, record: OrderRecord) -> bool:
    """A prepared order this pharmacist may verify: until they have, it is blind for them."""
    return blind_for(ctx, record.state, record.prepared_by)


def blind_for(ctx: Ctx, state: str, prepared_by: str) -> bool:
    """:func:`awaits_my_check` from an order's state and preparer alone (no order record read)."""
    me = ctx.me
    return me.may("pharmacist") and me.name != prepared_by and state == "prepared"


def blind_orders(ctx: Ctx, patient_id: str) -> list[OrderRecord]:
    """This patient's prepared orders waiting for the signed-in pharmacist's independent check:
    the patient page does not calculate their regimens for them either (issue 19)."""
    if not ctx.me.may("pharmacist"):
        return []
    waiting = list_orders(ctx.database, patient_id=patient_id, state="prepared")
    return [r for r in waiting if awaits_my_check(ctx, r)]


def queue(ctx: Ctx) -> Response:
    waiting = list_orders(ctx.database, state="prepared")
    named = store.names(ctx.database, {r.patient_id for r in waiting})
    return render(ctx, "queue.html.j2", title="Verification queue", orders=waiting, names=named)


def _order_id(ctx: Ctx) -> int:
    text = ctx.path_param("order_id")
    if not text.isdigit():
        raise InputError("ORDER_ID", text, "no such order")
    return int(text)


def order_view(
    ctx: Ctx,
    record: OrderRecord,
    *,
    entered: dict[str, str] | None = None,
    problem: str = "",
    comparison: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    from ..record.orders import view

    me = ctx.me
    may_verify = awaits_my_check(ctx, record)
    doc = mismatch = None
    try:
        # Blind until the verifier has submitted doses that agree: nothing of the order's doses
        # reaches the page (not even hidden).
        doc = None if may_verify else view(ctx.database, record.order_id)
    except Refused as error:
        mismatch = str(error)
    replaces, replaced_by = store.replaced_by(ctx.database, record.order_id)
    return render(
        ctx,
        "order.html.j2",
        status,
        title=f"Order {record.order_id}",
        o=record,
        patient_name=store.names(ctx.database, {record.patient_id}).get(record.patient_id, record.patient_id),
        doc=doc,
        mismatch=mismatch,
        may_verify=may_verify,
        hide_doses=may_verify,
        may_release=me.may("pharmacist") and record.state == "verified",
        labs_needed=labs_to_check(ctx.database, record.order_id) if record.state == "verified" else [],
        may_cancel=me.may(*CANCELLERS) and record.state in ("prepared", "verified"),
        lines=check_lines(record),
        entered=entered or {},
        problem=problem,
        comparison=comparison if comparison is not None else record.verification,
        replaces=replaces,
        replaced_by=replaced_by,
    )


def order_page(ctx: Ctx) -> Response:
    return order_view(ctx, show(ctx.database, _order_id(ctx)))


def _prescription(record: OrderRecord, entered: dict[str, str]) -> tuple[bytes, list[CheckLine]] | None:
    """The doses typed as a prescription (one line per day); None when every field is empty."""
    lines = check_lines(record)
    given = [line for line in lines if entered.get(f"dose_{line.index}", "").strip()]
    if not given:
        return None
    if len(given) != len(lines):
        missing = next(line for line in lines if line not in given)
        raise InputError(f"dose_{missing.index}", "", f"{missing.label}: enter every dose, or none")
    doses, by_position = [], []
    for line in lines:
        for day in line.days:
            doses.append(
                {"drug": line.drug, "day": day, "dose": entered[f"dose_{line.index}"].strip(), "route": line.route}
            )
            by_position.append(line)
    text = json.dumps({"regimen": record.regimen, "cycle": record.cycle, "doses": doses}, ensure_ascii=False)
    return text.encode("utf-8"), by_position


def verify_order(ctx: Ctx) -> Response:
    record = show(ctx.database, _order_id(ctx))
    entered = {f"dose_{line.index}": ctx.field(f"dose_{line.index}") for line in check_lines(record)}
    prescribed: bytes | None = None
    positions: list[CheckLine] = []
    try:
        built = _prescription(record, entered)
        if built is not None:
            prescribed, positions = built
        reason = ctx.field("verify_reason").strip() or None
        request = VerifyRequest(
            record.order_id, ctx.me.identity, prescribed, "the doses you entered", reason=reason, blind=True
        )
        outcome = verify(ctx.database, request)
    except InputError as error:
        return order_view(ctx, record, entered=entered, problem=_dose_problem(error, positions), status=422)
    except Refused as error:
        if record.state != "prepared":
            raise
        return order_view(ctx, record, entered=entered, problem=f"Not verified: {error}", status=409)
    if not outcome.passed:
        # Blind until right: the lines that disagree are named, never the calculated doses.
        assert outcome.check_json is not None
        lines = "; ".join(disagreeing_lines(outcome.check_json))
        return order_view(
            ctx,
            outcome.order,
            entered=entered,
            problem=f"Not verified: your doses disagree with the calculation on these lines: {lines}. Recalculate "
            "them; verifying after this needs a reason.",
            status=409,
        )
    return RedirectResponse(Urls.order(record.order_id), status_code=303)


def _dose_problem(error: InputError, positions: list[CheckLine]) -> str:
    """``doses.3.dose: …`` said of the line the verifier typed it in."""
    parts = error.field.split(".")
    if len(parts) >= 2 and parts[0] == "doses" and parts[1].isdigit() and int(parts[1]) < len(positions):
        got = f" (got '{excerpt(error.value)}')" if error.value not in ("", None) else ""
        return f"{positions[int(parts[1])].label}: {error.problem}{got}"
    return error.problem if error.field.startswith("dose_") else error.message


def release_order(ctx: Ctx) -> Response:
    order_id = _order_id(ctx)
    release(ctx.database, order_id, ctx.me.identity, ctx.field("labs_checked").strip() or None)
    return RedirectResponse(Urls.order(order_id), status_code=303)


def cancel_order(ctx: Ctx) -> Response:
    order_id = _order_id(ctx)
    reason = ctx.field("cancel_reason").strip()
    if not reason:
        return order_view(ctx, show(ctx.database, order_id), problem="Cancellation reason: required", status=422)
    cancel(ctx.database, order_id, ctx.me.identity, reason)
    return RedirectResponse(Urls.order(order_id), status_code=303)


def order_pdf(ctx: Ctx) -> Response:
    from ..record.orders import pdf

    order_id = _order_id(ctx)
    record = show(ctx.database, order_id)
    if record.state == "cancelled":
        raise Refused(f"order {order_id} is cancelled: it is not printed")
    if awaits_my_check(ctx, record):
        raise Refused(f"order {order_id} waits for your independent check: its PDF is shown after you verify it")
    return Response(
        pdf(ctx.database, order_id),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="order-{order_id}.pdf"'},
    )
