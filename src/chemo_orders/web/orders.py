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

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import RedirectResponse, Response

from ..errors import InputError, excerpt
from ..record import Refused
from ..record import patients as store
from ..record.orders import (
    CANCELLERS,
    OrderRecord,
    Pending,
    VerifyRequest,
    cancel,
    disagreeing_lines,
    labs_to_check,
    list_orders,
    order_patient,
    prepared_orders,
    release,
    show,
    verify,
)
from ..report import days_text
from ..units import KG, format_measurement, format_number, format_quantity, magnitude_in
from .pages import Ctx, Urls, render

if TYPE_CHECKING:
    from ..patient import Patient
    from ..record.patients import OutOfDate

QUEUE_STATES = ("prepared", "verified", "released", "cancelled", "all")
QUEUE_SORTS = {
    "oldest": "oldest first",
    "newest": "newest first",
    "patient": "patient name",
    "due": "order date",
}


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


def blind_orders(ctx: Ctx, patient_id: str) -> list[Pending]:
    """This patient's prepared orders waiting for the signed-in pharmacist's independent check:
    the patient page does not calculate their regimens for them either (issue 19)."""
    if not ctx.me.may("pharmacist"):
        return []
    return [p for p in prepared_orders(ctx.database, patient_id) if blind_for(ctx, "prepared", p.prepared_by)]


def nurse_only_released(ctx: Ctx, record: OrderRecord) -> None:
    """A nurse sees released orders only (design §11.5): a prepared or verified order is not
    theirs to give, so to them it does not exist (404, as a wrong number), on every route."""
    if ctx.me.may("nurse") and record.state != "released":
        raise InputError("ORDER_ID", str(record.order_id), "no such order")


@dataclass(frozen=True)
class QueueFilter:
    """The queue's filters and order, from the query string (a GET form: a link keeps them)."""

    state: str = "prepared"
    patient: str = ""
    regimen: str = ""
    due: str = ""  # an order date (YYYY-MM-DD): orders dated on or before it
    sort: str = "oldest"
    problem: str = ""  # said beside the date field

    @classmethod
    def read(cls, ctx: Ctx) -> QueueFilter:
        state, sort, due = ctx.field("state") or "prepared", ctx.field("sort") or "oldest", ctx.field("due").strip()
        problem = ""
        if due:
            try:
                dt.date.fromisoformat(due)
            except ValueError:
                problem, due = f"Due by: expected a date such as 2026-11-22 (got '{excerpt(due)}')", ""
        if ctx.me.may("nurse"):
            state = "released"
        return cls(
            state if state in QUEUE_STATES else "prepared",
            ctx.field("patient").strip(),
            ctx.field("regimen").strip(),
            due,
            sort if sort in QUEUE_SORTS else "oldest",
            problem,
        )

    def keeps(self, record: OrderRecord, name: str) -> bool:
        text = self.patient.casefold()
        return (
            (not text or text in name.casefold() or text in record.patient_id.casefold())
            and (not self.regimen or record.regimen == self.regimen)
            and (not self.due or str(record.calc["calculated_on"]) <= self.due)
        )


def queue(ctx: Ctx) -> Response:
    """Orders by state (prepared by default: the verification queue), filtered and sorted; a
    released order whose patient has changed since is flagged (issue 22, item 5)."""
    chosen = QueueFilter.read(ctx)
    found = list_orders(ctx.database, state=None if chosen.state == "all" else chosen.state)
    named = store.names(ctx.database, {r.patient_id for r in found})
    regimens = sorted({(r.regimen, r.calc["regimen"]["name"]) for r in found}, key=lambda pair: pair[1])
    shown = [r for r in found if chosen.keeps(r, named.get(r.patient_id, ""))]
    keys = {
        "oldest": lambda r: r.order_id,
        "newest": lambda r: -r.order_id,
        "patient": lambda r: (named.get(r.patient_id, r.patient_id).casefold(), r.order_id),
        "due": lambda r: (str(r.calc["calculated_on"]), r.order_id),
    }
    shown.sort(key=keys[chosen.sort])
    stale = store.released_out_of_date(ctx.database, {r.patient_id for r in shown if r.state == "released"})
    return render(
        ctx,
        "queue.html.j2",
        title="Released orders" if ctx.me.may("nurse") else "Verification queue",
        orders=shown,
        names=named,
        f=chosen,
        states=QUEUE_STATES,
        sorts=QUEUE_SORTS,
        regimens=regimens,
        stale={order_id: stale_lines(r, stale[order_id]) for r in shown if (order_id := r.order_id) in stale},
    )


def stale_lines(record: OrderRecord, flag: OutOfDate) -> list[str]:
    """What changed since a released order was calculated, with WGT001's words when the weight
    moved past its threshold (the rule's own numbers: 10 % adults, 5 % children)."""
    from ..rules.weight import ADULT_THRESHOLD_PERCENT, CHILD_THRESHOLD_PERCENT, WGT001

    what = ", ".join(name.replace("_", " ") for name in flag.changed)
    lines = [f"Changed since this order was calculated: {what}. Check before it is given; a new order recalculates."]
    then, now = magnitude_in(flag.weight_then, KG), magnitude_in(flag.weight_now, KG)
    change = (now - then) / then * 100
    limit = ADULT_THRESHOLD_PERCENT if record.calc["patient"]["age_years"] >= 18 else CHILD_THRESHOLD_PERCENT
    if abs(change) >= limit:
        sign = "+" if change > 0 else "−"
        lines.append(
            f"{WGT001.code} {WGT001.name}: weight {format_quantity(flag.weight_now.to(KG), 1)} changed "
            f"{sign}{format_number(abs(change), 1)}% since this order was calculated "
            f"({format_quantity(flag.weight_then.to(KG), 1)}); threshold {format_number(limit)}%: recalculate doses"
        )
    return lines


def measurements(record: OrderRecord, patient: Patient) -> list[tuple[str, str]]:
    """What the verifier checks the doses against, from the order's own patient file: the
    measurements in the order's units (typed value after), allergies and diagnosis."""
    from ..diagnosis import DIAGNOSIS_NAMES
    from ..patient import creatinine_mg_dl
    from ..units import CM

    calc = record.calc["patient"]
    creatinine = patient.serum_creatinine
    crcl = calc.get("crcl_ml_min")
    return [
        ("Height", format_measurement(patient.height.to(CM), patient.height, 1)),
        ("Weight", format_measurement(patient.weight.to(KG), patient.weight, 1)),
        ("BSA", f"{format_number(calc['bsa_m2'], 3)} m² ({calc['bsa_formula']})"),
        (
            "Serum creatinine",
            format_measurement(creatinine_mg_dl(creatinine), creatinine, 2) if creatinine is not None else "not given",
        ),
        ("CrCl", f"{format_number(crcl, 1)} mL/min ({calc['crcl_method']})" if crcl is not None else "not calculated"),
        ("Diagnosis", f"{DIAGNOSIS_NAMES[patient.diagnosis]}, {patient.disease_status or 'status not given'}"),
        ("Allergies", ", ".join(a.describe() for a in patient.allergies) or "none recorded"),
    ]


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
    problem_field: str = "",
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
    flag = (
        store.released_out_of_date(ctx.database, {record.patient_id}).get(record.order_id)
        if record.state == "released"
        else None
    )
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
        problem_field=problem_field,
        comparison=comparison if comparison is not None else record.verification,
        replaces=replaces,
        replaced_by=replaced_by,
        measurements=measurements(record, order_patient(ctx.database, record.order_id)),
        stale=stale_lines(record, flag) if flag is not None else [],
    )


def order_page(ctx: Ctx) -> Response:
    record = show(ctx.database, _order_id(ctx))
    nurse_only_released(ctx, record)
    return order_view(ctx, record)


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
        return order_view(
            ctx,
            record,
            entered=entered,
            problem=_dose_problem(error, positions),
            problem_field=_dose_field(error, positions),
            status=422,
        )
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


def _dose_field(error: InputError, positions: list[CheckLine]) -> str:
    """The dose input an error is about (``dose_3``), so the page says it beside that field."""
    parts = error.field.split(".")
    if len(parts) >= 2 and parts[0] == "doses" and parts[1].isdigit() and int(parts[1]) < len(positions):
        return f"dose_{positions[int(parts[1])].index}"
    return error.field if error.field.startswith("dose_") else ""


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
    nurse_only_released(ctx, record)
    if record.state == "cancelled":
        raise Refused(f"order {order_id} is cancelled: it is not printed")
    if awaits_my_check(ctx, record):
        raise Refused(f"order {order_id} waits for your independent check: its PDF is shown after you verify it")
    return Response(
        pdf(ctx.database, order_id),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="order-{order_id}.pdf"'},
    )
