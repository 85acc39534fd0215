"""Patient screens: the list, the patient form, and the patient's page with its live doses.

The dose preview is calculated exactly as :func:`chemo_orders.record.orders.prepare` will
calculate the order: the same patient file, the record's prior exposure and last dosed
weight, today's date, the regimen's first cycle unless one is given. What the screen shows
is what gets recorded. A blocked or held preview shows no dose and offers no way to prepare;
a hold is released only by an acknowledgement with a reason, carried with the order.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from itertools import zip_longest
from typing import TYPE_CHECKING, Any

from starlette.responses import RedirectResponse, Response

from ..changes import DoseChange, parse_change
from ..drugs import drug_table
from ..errors import InputError
from ..record import patients as store
from ..record.basis import read_basis
from ..record.orders import ACKNOWLEDGERS, BlockedPrepare, PrepareRequest, list_orders, prepare
from ..regimen import ROUTE_DISPLAY
from ..units import format_quantity
from . import forms
from .pages import Ctx, Urls, message_page, render

if TYPE_CHECKING:
    from ..options import Approach
    from ..orderset import OrderSet
    from ..record.orders import OrderRecord
    from ..render import DocumentView, FindingRow


@lru_cache(maxsize=256)
def _approach(data_json: str, on: str) -> Approach:
    """``options`` for a patient file (31 ms for the whole library): cached per file and day."""
    from ..service import treatment_options

    return treatment_options(json.loads(data_json), dt.date.fromisoformat(on))


@cache
def _content_hash(regimen_id: str) -> str:
    """The library file's hash, once per process (``load_regimen`` keeps the file's content
    from the first use on, so the hash of that content does not change either)."""
    from ..render import regimen_hash

    return regimen_hash(regimen_id)


def approach(data: dict[str, Any]) -> Approach | None:
    try:
        return _approach(json.dumps(data, sort_keys=True), dt.date.today().isoformat())
    except InputError:
        return None


# The list and the patient form.


def patient_list(ctx: Ctx) -> Response:
    query = ctx.field("q")
    return render(ctx, "patients.html.j2", title="Patients", query=query, patients=store.search(ctx.database, query))


def _form_page(ctx: Ctx, values: dict[str, str], *, new: bool, errors: list[InputError] | None = None) -> Response:
    marked: dict[str, str] = {}  # field name -> its message
    general: list[str] = []
    for error in errors or []:
        found = forms.field_for(error)
        if found is None:
            general.append(forms.message(error, None))
        else:
            marked.setdefault(found.name, forms.message(error, found))
    mrn = values.get("mrn", "")
    return render(
        ctx,
        "patient_form.html.j2",
        422 if errors else 200,
        title="New patient" if new else f"Edit {values.get('name', '')}",
        new=new,
        sections=forms.SECTIONS,
        values=values,
        marked=marked,
        general=general,
        action="/patients" if new else Urls.patient(mrn),
        mrn=mrn,
    )


def _read_form(ctx: Ctx, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The patient file the submitted form makes; every problem is raised at once."""
    submitted = {f.name: ctx.field(f.name) for f in forms.FIELDS}
    if previous is not None:
        submitted["mrn"] = str(previous.get("id", ""))  # an MRN is who the orders are for: it never changes
    data = forms.patient_data(submitted, previous)
    found = forms.problems(data)
    if found:
        raise _FormProblems(found)
    return data


class _FormProblems(InputError):
    def __init__(self, errors: list[InputError]) -> None:
        super().__init__(errors[0].field, errors[0].value, errors[0].problem, source=errors[0].source)
        self.errors = errors


def new_patient_page(ctx: Ctx) -> Response:
    return _form_page(ctx, forms.values(None), new=True)


def create_patient(ctx: Ctx) -> Response:
    submitted = {f.name: ctx.field(f.name) for f in forms.FIELDS}
    try:
        data = _read_form(ctx, None)
        store.save(ctx.database, ctx.me.name, data, new=True)
    except _FormProblems as error:
        return _form_page(ctx, submitted, new=True, errors=error.errors)
    except InputError as error:
        return _form_page(ctx, submitted, new=True, errors=[error])
    return RedirectResponse(Urls.patient(data["id"]), status_code=303)


def _entry(ctx: Ctx) -> store.PatientEntry:
    mrn = ctx.path_param("mrn")
    found = store.entry(ctx.database, mrn)
    if found is None:
        raise InputError("MRN", mrn, "no such patient")
    return found


def edit_patient_page(ctx: Ctx) -> Response:
    entry = _entry(ctx)
    values = forms.values(entry.data)
    values["mrn"] = entry.patient_id
    return _form_page(ctx, values, new=False)


def update_patient(ctx: Ctx) -> Response:
    entry = _entry(ctx)
    submitted = {f.name: ctx.field(f.name) for f in forms.FIELDS} | {"mrn": entry.patient_id}
    try:
        data = _read_form(ctx, entry.data or {"id": entry.patient_id})
        notices = _save(ctx, data)
    except _FormProblems as error:
        return _form_page(ctx, submitted, new=False, errors=error.errors)
    except InputError as error:
        return _form_page(ctx, submitted, new=False, errors=[error])
    return patient_view(ctx, _entry(ctx), OrderForm.initial(data), notices=notices)


def _save(ctx: Ctx, data: dict[str, Any]) -> list[str]:
    """A new version, and every unreleased order calculated on other measurements sent back."""
    version = store.save(ctx.database, ctx.me.name, data, new=False)
    notices = [f"Saved as version {version}."]
    for order_id, changed in store.stale_orders(ctx.database, data["id"], data):
        replaced = store.reprepare(ctx.database, order_id, changed, ctx.me.identity, data)
        what = ", ".join(name.replace("_", " ") for name in changed)
        if replaced.new_order is not None:
            notices.append(
                f"Order {order_id} was calculated on another {what}: cancelled and prepared again as "
                f"order {replaced.new_order.order_id}, which needs verification."
            )
        else:
            notices.append(
                f"Order {order_id} was calculated on another {what}: cancelled; it could not be prepared "
                f"again ({replaced.refusal}). Choose the regimen below to see why."
            )
    for order_id, flag in store.released_out_of_date(ctx.database, {data["id"]}).items():
        what = ", ".join(name.replace("_", " ") for name in flag.changed)
        notices.append(
            f"Released order {order_id} was calculated on another {what}: it is flagged out of date; "
            "check it before it is given."
        )
    return notices


# The patient's page: the order form and its live doses.


@dataclass(frozen=True)
class OrderForm:
    """What the order form holds: the regimen, the cycle, the measurements, the acknowledgements."""

    regimen: str = ""
    cycle: str = ""
    measurements: dict[str, str] = field(default_factory=dict)  # height, weight, serum_creatinine
    acks: tuple[tuple[str, str], ...] = ()
    reasons: tuple[tuple[str, str], ...] = ()  # (hold code, reason typed) for the holds shown now
    acknowledge: bool = False  # the Acknowledge button sent the form
    changes: tuple[tuple[str, str, str], ...] = ()  # (drug@route, "-20%" or "600 mg", reason)

    @classmethod
    def initial(cls, data: dict[str, Any] | None, regimen: str = "") -> OrderForm:
        values = forms.values(data)
        return cls(regimen, "", {f.name: values[f.name] for f in forms.ORDER_MEASUREMENTS})

    @classmethod
    def read(cls, ctx: Ctx) -> OrderForm:
        codes, reasons = ctx.fields("ack"), ctx.fields("ack_reason")
        acks = tuple((c.strip().upper(), r) for c, r in zip(codes, reasons, strict=False) if c.strip() and r.strip())
        keys, values, why = ctx.fields("change_key"), ctx.fields("change_value"), ctx.fields("change_reason")
        # A row with only its reason typed so far is kept (the change table stays open); it
        # changes nothing until it has a value.
        changes = tuple(
            (k.strip(), v.strip(), r.strip())
            for k, v, r in zip_longest(keys, values, why, fillvalue="")
            if v.strip() or r.strip()
        )
        button = ctx.field("acknowledge").strip().upper()
        # One form for every hold shown: each a ``hold`` code and its ``reason``. A client that
        # sends one code on the button and one reason (the form before issue 22) still works.
        holds = [c.strip().upper() for c in ctx.fields("hold")] or ([button] if button not in ("", "ALL") else [])
        return cls(
            ctx.field("regimen").strip(),
            ctx.field("cycle").strip(),
            {f.name: ctx.field(f.name) for f in forms.ORDER_MEASUREMENTS},
            acks,
            tuple(zip(holds, ctx.fields("reason"), strict=False)),
            bool(button),
            changes,
        )

    def dose_changes(self) -> tuple[DoseChange, ...]:
        """The typed changes, each with its required reason, by the strict grammar (exit-2 errors)."""
        found = []
        for key, value, reason in self.changes:
            if not value:
                continue
            if not reason:
                raise InputError(f"Why change {key.split('@')[0]}", value, "a dose change needs a reason")
            found.append(parse_change(f"{key}={value}", reason))
        return tuple(found)

    def value_for(self, key: str) -> tuple[str, str]:
        return next(((v, r) for k, v, r in self.changes if k == key), ("", ""))

    def reason_for(self, code: str) -> str:
        return next((r for c, r in self.reasons if c == code), "")

    def acknowledged(self) -> tuple[OrderForm, dict[str, str]]:
        """This form with the holds acknowledged that have a reason, and a problem for each
        that has none (said beside its own Reason field)."""
        problems = {code: f"acknowledging {code} needs a reason" for code, reason in self.reasons if not reason.strip()}
        given = tuple((code, reason.strip()) for code, reason in self.reasons if reason.strip())
        return replace(self, acks=(*self.acks, *given), reasons=(), acknowledge=False), problems

    def previewable(self) -> tuple[OrderForm, dict[str, str]]:
        """This form with only the dose changes that can apply now, and why each other one
        does not yet: a change typed without its reason, or not by the grammar, waits beside
        its field while the table stays on screen (the change applies once it is complete)."""
        usable, waiting = [], {}
        for key, value, why in self.changes:
            if not value:
                continue
            try:
                parse_change(f"{key}={value}", why or "-")
            except InputError as error:
                waiting[key] = error.problem
                continue
            if why:
                usable.append((key, value, why))
            else:
                waiting[key] = "a dose change needs a reason: it applies once it has one"
        return replace(self, changes=tuple(usable)), waiting


@dataclass(frozen=True)
class Doses:
    """The live part of the patient's page: findings, the dose table, acknowledge, prepare."""

    status: str  # "none" (no regimen chosen), "error", "ok", "held", "blocked"
    form: OrderForm
    doc: DocumentView | None = None
    problem: str = ""
    problem_field: str = ""
    holds: tuple[FindingRow, ...] = ()  # every hold still to acknowledge
    reason_errors: dict[str, str] = field(default_factory=dict)  # hold code -> problem
    blocking: tuple[FindingRow, ...] = ()
    lines: tuple[tuple[str, str, str], ...] = ()  # (drug@route, display name, dose before any change)
    waiting: dict[str, str] = field(default_factory=dict)  # change key -> why it does not apply yet

    @property
    def summary(self) -> str:
        """The status line beside the Regimen select: blocked · N holds · ok, in words."""
        if self.status == "blocked":
            return "blocked: " + ", ".join(f.rule for f in self.blocking)
        if self.status == "held":
            count = len(self.holds)
            return f"{count} hold{'s' if count != 1 else ''}: " + ", ".join(f.rule for f in self.holds)
        if self.status == "ok":
            return "ok: dose change waits for its reason" if self.waiting else "ok"
        return {"none": "no regimen chosen", "error": "cannot calculate", "blind": "waits for your check"}[self.status]


def _cycle(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise InputError("cycle", text, "expected a whole number from 1")
    return int(text)


def calculate(ctx: Ctx, data: dict[str, Any], form: OrderForm) -> OrderSet:
    """The order set ``prepare`` would record now (same inputs from the record, same options)."""
    from ..orderset import Acknowledgement
    from ..service import CalcRequest
    from ..service import calculate as calculate_order_set
    from ..sources import PatientInput

    patient = store.parse(data)  # validated once, with the bytes ``prepare`` stores and hashes
    with ctx.database.read() as session:
        basis = read_basis(session, patient.id)
    return calculate_order_set(
        CalcRequest(
            patient=PatientInput(patient, store.file_bytes(data)),
            regimen=form.regimen,
            cycle=_cycle(form.cycle),
            acknowledgements=tuple(Acknowledgement(code, reason) for code, reason in form.acks),
            changes=form.dose_changes(),
            history=basis.history(),
        )
    )


def _with_measurements(entry: store.PatientEntry, form: OrderForm) -> dict[str, Any]:
    return forms.patient_data(form.measurements, entry.data, forms.ORDER_MEASUREMENTS)


def doses(ctx: Ctx, entry: store.PatientEntry, form: OrderForm) -> Doses:
    from ..render import FindingRow, build_view

    if not form.regimen:
        return Doses("none", form)
    from .orders import blind_orders

    waiting = [r for r in blind_orders(ctx, entry.patient_id) if r.regimen == form.regimen]
    if waiting:
        return Doses(
            "blind",
            form,
            problem=f"Order {waiting[0].order_id} of this regimen waits for your independent check: its doses are "
            "shown after you verify it (Verification queue).",
        )
    reason_errors: dict[str, str] = {}
    if form.acknowledge:
        if not ctx.me.may(*ACKNOWLEDGERS):
            reason_errors = {code: f"acknowledging {code} needs a pharmacist" for code, _ in form.reasons}
        else:
            form, reason_errors = form.acknowledged()
    preview, waiting_changes = form.previewable()
    try:
        data = _with_measurements(entry, form)
        order_set = calculate(ctx, data, preview)
    except InputError as error:
        found = forms.field_for(error, forms.ORDER_MEASUREMENTS)
        name = found.name if found else ("cycle" if "cycle" in error.field else "regimen")
        label = found.label if found else name.capitalize()
        got = f" (got '{error.value}')" if error.value not in ("", None) else ""
        return Doses("error", form, problem=f"{label}: {error.problem}{got}", problem_field=name)
    view = build_view(order_set, content_hash=_content_hash(order_set.regimen.id))
    holds = tuple(FindingRow(f.severity, f.rule, f.name, f.message) for f in order_set.holding)
    blocking = tuple(r for r in view.findings if r.severity == "block")
    table = drug_table()
    lines = tuple(
        (
            f"{o.drug}@{o.line.route}",
            f"{table.display_name(o.drug)} ({ROUTE_DISPLAY[o.line.route]})",
            format_quantity(o.change.before if o.change is not None else o.final),
        )
        for o in order_set.calculation.orders
        if o.line.scales_with is None
    )
    return Doses(
        order_set.status,
        form,
        view,
        holds=holds,
        reason_errors=reason_errors,
        blocking=blocking,
        lines=lines,
        waiting=waiting_changes,
    )


def patient_view(
    ctx: Ctx,
    entry: store.PatientEntry,
    form: OrderForm,
    *,
    notices: list[str] | None = None,
    refusal: str = "",
    status: int = 200,
) -> Response:
    if entry.data is None:
        return message_page(ctx, entry.name, "The record has no patient file for this patient yet.", 404)
    live = doses(ctx, entry, form)
    if ctx.htmx:
        return render(ctx, "_doses.html.j2", status, d=live, entry=entry, refusal=refusal, oob=True)
    with ctx.database.read() as session:
        basis = read_basis(session, entry.patient_id)
    orders: list[OrderRecord] = [
        r
        for r in list_orders(ctx.database, patient_id=entry.patient_id)
        if not ctx.me.may("nurse") or r.state == "released"  # a nurse sees released orders only
    ]
    return render(
        ctx,
        "patient.html.j2",
        status,
        title=entry.name,
        entry=entry,
        facts=_facts(entry.data),
        approach=approach(entry.data),
        d=live,
        oob=False,
        orders=orders,
        basis=basis,
        history=_history(entry),
        notices=notices or [],
        refusal=refusal,
    )


def _facts(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The patient's facts as typed, except the measurements a dose depends on: those in the
    order's units with the typed value after when it was another (``70 kg (154 lb)``)."""
    from ..patient import creatinine_mg_dl
    from ..units import CM, KG, format_measurement

    values = forms.values(data)
    try:
        patient = store.parse(data)
    except InputError:  # a file the record took before a rule tightened: show it as typed
        patient = None
    if patient is not None:
        values["height"] = format_measurement(patient.height.to(CM), patient.height, 1)
        values["weight"] = format_measurement(patient.weight.to(KG), patient.weight, 1)
        if patient.serum_creatinine is not None:
            creatinine = patient.serum_creatinine
            values["serum_creatinine"] = format_measurement(creatinine_mg_dl(creatinine), creatinine, 2)
    return [(f.label, values[f.name]) for f in forms.FIELDS if values[f.name] and f.name not in ("mrn", "name")]


def _history(entry: store.PatientEntry) -> list[dict[str, str]]:
    rows = []
    for version in entry.versions:
        values = forms.values(version.data)
        rows.append(
            {
                "version": str(version.version),
                "saved": f"{version.saved_at:%Y-%m-%d %H:%M} UTC",
                "by": version.saved_by,
                **{f.name: values[f.name] for f in (*forms.ORDER_MEASUREMENTS, forms.BY_NAME["measured_on"])},
            }
        )
    return rows


def patient_page(ctx: Ctx) -> Response:
    entry = _entry(ctx)
    return patient_view(ctx, entry, OrderForm.initial(entry.data, ctx.field("regimen").strip()))


def live_doses(ctx: Ctx) -> Response:
    """The dose table for the form as it is now: a fragment for htmx, else the whole page
    (a read-only route: the patient, its prepared orders and its history in one snapshot)."""
    return patient_view(ctx, _entry(ctx), OrderForm.read(ctx))


def prepare_order(ctx: Ctx) -> Response:
    entry = _entry(ctx)
    form = OrderForm.read(ctx)
    if entry.data is None:
        raise InputError("MRN", entry.patient_id, "no patient file to prepare from")
    try:
        data = _with_measurements(entry, form)
        store.parse(data)
    except InputError:
        return patient_view(ctx, entry, form, status=422)
    if not form.regimen:
        return patient_view(ctx, entry, form, refusal="Not prepared: choose a regimen first", status=422)
    if form.acks and not ctx.me.may(*ACKNOWLEDGERS):
        return patient_view(ctx, entry, form, refusal="Not prepared: only a pharmacist acknowledges a hold", status=403)
    notices: list[str] = []
    if data != entry.data:
        notices = _save(ctx, data)
        entry = _entry(ctx)
    try:
        request = PrepareRequest(
            patient_file=store.file_bytes(data),
            patient_source="the workbench",
            regimen_id=form.regimen,
            user=ctx.me.identity,
            cycle=_cycle(form.cycle),
            acknowledgements=form.acks,
            changes=form.dose_changes(),
            carry_forward=False,  # the page shows every change it applies: prepare exactly what it showed
        )
        record = prepare(ctx.database, request)
    except BlockedPrepare as error:
        why = "; ".join(
            f"{f['rule']}: {f['message']}" for f in error.calc["findings"] if f["severity"] in ("block", "hold")
        )
        return patient_view(
            ctx, entry, form, notices=notices, refusal=f"Not prepared ({error.calc['status']}): {why}", status=409
        )
    except InputError as error:
        return patient_view(ctx, entry, form, notices=notices, refusal=f"Not prepared: {error.message}", status=422)
    return RedirectResponse(Urls.order(record.order_id), status_code=303)
