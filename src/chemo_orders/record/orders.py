"""Orders: prepare, verify, release, cancel, list, show and re-render (design §10.5).

The service layer the command line, the web page and batch call, with typed requests and
results. Each action takes the :class:`~.users.Identity` of a person who proved who they are
(the command line by token or password, the workbench by its session), never a typed name;
the roles are checked here, in the transaction that acts, for every interface.
States: ``prepared`` → ``verified`` → ``released``, or ``cancelled``.

What the record feeds the calculation (:mod:`.basis`: earlier amounts, the last dosed weight,
the courses) is read once under the patient's lock before the engine runs; and

* dose changes: the last verified or released order of the same patient id and regimen
  passes its prescriber's changes (each with its reason) to the next ``prepare``, for the
  drugs this cycle gives, unless the request changes that drug itself or asks for none to
  be carried; the order says what was carried under ``carried_forward``.

Per patient serialisation: PostgreSQL locks the patient's row (``SELECT … FOR UPDATE``),
SQLite takes its write lock up front (``BEGIN IMMEDIATE``). Every change and its audit event
commit together or not at all, so a crash leaves no half order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from ..errors import InputError
from ..settings import DoseSettings
from . import Refused, audit
from .basis import read_basis
from .db import Database, rows
from .tables import (
    Acknowledgement,
    AuditEvent,
    Exposure,
    Measurement,
    Order,
    PatientRow,
    Role,
    User,
    Verification,
)
from .users import Identity, acting_user, require_role

if TYPE_CHECKING:
    from ..changes import DoseChange
    from ..orderset import OrderSet
    from ..patient import Patient
    from ..regimen import Regimen
    from ..render import DocumentView
    from ..verify import Verification as Check

T = TypeVar("T")

PREPARERS: tuple[Role, ...] = ("prescriber", "pharmacist")
# design §10.2: a hold stops the order until a pharmacist acknowledges it (the workbench asks the same)
ACKNOWLEDGERS: tuple[Role, ...] = ("pharmacist",)
CANCELLERS: tuple[Role, ...] = ("prescriber", "pharmacist", "admin")


class BlockedPrepare(Refused):
    """A blocked or held calculation: nothing is recorded but the audit event."""

    def __init__(self, message: str, order_set: OrderSet, calc: dict[str, Any]) -> None:
        super().__init__(message)
        self.order_set = order_set
        self.calc = calc


# Requests: typed values, filled by the command line or the web page.


@dataclass(frozen=True)
class PrepareRequest:
    patient_file: bytes  # the patient file as read, stored byte for byte
    patient_source: str  # where it came from, for error messages
    regimen_id: str
    user: Identity
    cycle: int | None = None
    on: dt.date | None = None  # the calculation date (default today; it fixes the age)
    settings: DoseSettings = field(default_factory=DoseSettings)  # formula, caps, rounding policy
    acknowledgements: tuple[tuple[str, str], ...] = ()  # (rule code, reason)
    changes: tuple[DoseChange, ...] = ()  # the prescriber's dose changes asked for now
    carry_forward: bool = True  # take the last verified/released order's changes for other drugs
    plan: str | None = None  # the treatment plan this course belongs to (plans/*.yaml)


@dataclass(frozen=True)
class VerifyRequest:
    order_id: int
    user: Identity
    prescribed: bytes | None = None  # an independently written prescription (design §4)
    prescribed_source: str = "prescription"
    tolerance_percent: float = 5.0
    # Why the order is verified without doses entered, or after a discrepancy the verifier saw
    # (issue 19): kept in the audit trail and printed with the verification.
    reason: str | None = None
    # The workbench's blind check: the verifier saw no dose before submitting, so verifying
    # without doses, or after a discrepancy they were shown, needs the reason.
    blind: bool = False


# Results.


@dataclass(frozen=True)
class OrderRecord:
    """One order as the record holds it; ``as_json`` is the contract's order object."""

    order_id: int
    state: str
    patient_id: str
    regimen: str
    regimen_version: str
    regimen_sha256: str
    cycle: int
    calc: dict[str, Any]
    basis: dict[str, Any]
    prepared_by: str
    prepared_at: dt.datetime
    acknowledgements: tuple[tuple[str, str], ...]
    verified_by: str | None = None
    verified_at: dt.datetime | None = None
    verification: dict[str, Any] | None = None
    verification_reason: str | None = None  # without doses entered, or after a discrepancy seen
    released_by: str | None = None
    released_at: dt.datetime | None = None
    cancelled_by: str | None = None
    cancelled_at: dt.datetime | None = None
    cancel_reason: str | None = None
    changes: dict[str, Any] | None = None  # {"changes": […], "carried_forward": {…} | None}

    def as_json(self) -> dict[str, Any]:
        def when(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "order_id": self.order_id,
            "state": self.state,
            "patient_id": self.patient_id,
            "regimen": self.regimen,
            "regimen_version": self.regimen_version,
            "regimen_sha256": self.regimen_sha256,
            "cycle": self.cycle,
            "prepared_by": self.prepared_by,
            "prepared_at": when(self.prepared_at),
            "verified_by": self.verified_by,
            "verified_at": when(self.verified_at),
            "verification": self.verification,
            "verification_reason": self.verification_reason,
            "released_by": self.released_by,
            "released_at": when(self.released_at),
            "cancelled_by": self.cancelled_by,
            "cancelled_at": when(self.cancelled_at),
            "cancel_reason": self.cancel_reason,
            "acknowledgements": [{"rule": r, "reason": why} for r, why in self.acknowledgements],
            "changes": (self.changes or {}).get("changes", []),
            "carried_forward": (self.changes or {}).get("carried_forward"),
            "record": self.basis,
            "calc": self.calc,
        }


@dataclass(frozen=True)
class VerifyOutcome:
    """A verification: ``order`` is verified unless the prescription disagreed (``passed`` false)."""

    order: OrderRecord
    passed: bool
    check: Check | None = None  # the recalculation, when a prescription was given
    check_json: dict[str, Any] | None = None


# Transactions whose refusals are audited.


def _audited(database: Database, actor: str, action: str, order_id: int | None, work: Callable[[Session], T]) -> T:
    """``work`` in one write transaction. A :class:`Refused` inside it undoes its changes (a
    savepoint) but commits an audit event saying who was refused what, and why; then it
    propagates."""
    with database.write() as session:
        try:
            with session.begin_nested():
                return work(session)
        except Refused as error:
            detail: dict[str, Any] = {"action": action, "why": str(error)}
            if isinstance(error, BlockedPrepare):
                detail.update(_refused_calc(error.calc))
            audit.append(session, actor, "refused", detail, order_id=order_id)
            refusal = error
    raise refusal


def _refused_calc(calc: dict[str, Any]) -> dict[str, Any]:
    return {
        "patient_id": calc["patient"]["id"],
        "regimen": calc["regimen"]["id"],
        "cycle": calc["regimen"]["cycle"],
        "status": calc["status"],
        "findings": sorted({f["rule"] for f in calc["findings"] if f["severity"] in ("block", "hold")}),
    }


# The transitions.


def prepare(database: Database, request: PrepareRequest) -> OrderRecord:
    """Calculate with the record's inputs and store the order; blocked or held → BlockedPrepare."""
    from ..history import exposures
    from ..orderset import Acknowledgement as Ack
    from ..orderset import dumps, to_json
    from ..service import CalcRequest, calculate
    from ..settings import PinnedSettings, options_json
    from ..sources import Document
    from .calculation import parse_patient, parse_regimen, regimen_text

    patient = parse_patient(request.patient_file, request.patient_source)
    text = regimen_text(request.regimen_id)
    regimen = parse_regimen(text, request.regimen_id)
    cycle = request.cycle if request.cycle is not None else regimen.first_cycle()
    # Every option written out and stored: the order recalculates the same from what it keeps.
    options = options_json(replace(request.settings, on=request.on or dt.date.today()).options(cycle))
    if request.plan is not None:
        _check_in_plan(request.plan, regimen.id, cycle)
        options["plan"] = request.plan
    acks = tuple(Ack(code.upper(), reason) for code, reason in request.acknowledgements)

    def work(session: Session) -> OrderRecord:
        user = acting_user(session, request.user, PREPARERS, "preparing an order")
        row = _lock_patient(session, patient)
        basis = read_basis(session, patient.id)
        carried_from, carried = _carried(session, request, patient.id, regimen, cycle)
        changes = request.changes + carried
        order_set = calculate(
            CalcRequest(
                patient=Document(request.patient_file, request.patient_source),
                regimen=Document(text.encode("utf-8"), request.regimen_id),
                cycle=cycle,
                settings=PinnedSettings(options),
                acknowledgements=acks,
                changes=changes,
                history=basis.history(),
            )
        )
        held = sorted({f.rule for f in order_set.findings if f.severity == "hold"} & {a.code for a in acks})
        if held:
            require_role(user, ACKNOWLEDGERS, f"acknowledging the hold {', '.join(held)}")
        calc = to_json(order_set)
        if calc["status"] != "ok":
            raise BlockedPrepare(f"{calc['status']}: nothing recorded", order_set, calc)
        order = Order(
            patient_id=patient.id,
            state="prepared",
            regimen_id=regimen.id,
            regimen_version=regimen.version,
            regimen_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            regimen_text=text,
            cycle=order_set.options.cycle,
            patient_file=request.patient_file,
            patient_sha256=hashlib.sha256(request.patient_file).hexdigest(),
            options_json=audit.canonical(options),
            basis_json=audit.canonical(basis.as_json()),
            calc_json=dumps(calc),
            changes_json=_changes_json(changes, carried_from, carried),
            prepared_by=user.id,
            prepared_at=audit.now(),
            acknowledgements=[Acknowledgement(rule=a.code, reason=a.reason) for a in acks],
            exposures=[Exposure(drug=d, mg_per_m2=v) for d, v in exposures(order_set).items()],
            measurement=Measurement(
                height_cm=calc["patient"]["height_cm"],
                weight_kg=calc["patient"]["weight_kg"],
                bsa_m2=calc["patient"]["bsa_m2"],
                serum_creatinine_mg_dl=_creatinine_mg_dl(patient),
                crcl_ml_min=calc["patient"]["crcl_ml_min"],
                measured_on=patient.measured_on,
            ),
        )
        session.add(order)
        session.flush()
        audit.append(
            session,
            user.name,
            "prepared",
            {
                "patient_id": patient.id,
                "regimen": regimen.id,
                "version": regimen.version,
                "cycle": order.cycle,
                "acknowledged": [{"rule": a.code, "why": a.reason} for a in acks],
            }
            | ({"changes": [c.as_json() for c in changes]} if changes else {}),
            order_id=order.id,
            rows=(row, order),
        )
        return _record(session, order.id)

    return _audited(database, request.user.name, "prepare", None, work)


def _carried(
    session: Session, request: PrepareRequest, patient_id: str, regimen: Regimen, cycle: int
) -> tuple[int | None, tuple[DoseChange, ...]]:
    """The last verified or released order's changes for the drugs of this cycle that the
    request does not change itself (none when the request says not to carry them)."""
    from ..changes import from_json

    if not request.carry_forward:
        return None, ()
    last = session.execute(
        select(Order.id, Order.changes_json)
        .where(
            Order.patient_id == patient_id, Order.regimen_id == regimen.id, Order.state.in_(("verified", "released"))
        )
        .order_by(Order.id.desc())
        .limit(1)
    ).first()
    if last is None or last[1] is None:
        return None, ()
    given = {line.drug for line in regimen.lines_for_cycle(cycle)}
    asked = {c.drug for c in request.changes}
    stored = json.loads(last[1])["changes"]
    carried = tuple(c for c in map(from_json, stored) if c.drug in given and c.drug not in asked)
    return (int(last[0]), carried) if carried else (None, ())


def _changes_json(
    changes: tuple[DoseChange, ...], carried_from: int | None, carried: tuple[DoseChange, ...]
) -> str | None:
    if not changes:
        return None
    forward = None if carried_from is None else {"order_id": carried_from, "changes": [c.as_json() for c in carried]}
    return audit.canonical({"changes": [c.as_json() for c in changes], "carried_forward": forward})


def _creatinine_mg_dl(patient: Patient) -> float | None:
    from ..patient import creatinine_mg_dl

    return None if patient.serum_creatinine is None else float(creatinine_mg_dl(patient.serum_creatinine).magnitude)


def _lock_patient(session: Session, patient: Patient) -> PatientRow:
    """The patient's row, created on first sight and locked until commit (PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"id": patient.id, "name": patient.name, "birth_date": patient.birth_date, "created_at": audit.now()}
    session.execute(insert(PatientRow).values(values).on_conflict_do_nothing(index_elements=["id"]))
    row = session.get(PatientRow, patient.id, with_for_update=True, populate_existing=True)
    assert row is not None
    if row.name != patient.name or (patient.birth_date is not None and row.birth_date != patient.birth_date):
        raise InputError(
            "id",
            patient.id,
            f"the record has this id for {row.name} (born {row.birth_date or 'not given'}): wrong patient file?",
        )
    return row


def _locked_order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise InputError("ORDER_ID", order_id, "no such order")
    return order


def _expect_state(order: Order, state: str, action: str) -> None:
    if order.state != state:
        raise Refused(f"order {order.id} is {order.state}; {action} needs a {state} order")


def verify(database: Database, request: VerifyRequest) -> VerifyOutcome:
    """The second pharmacist's check; with a prescription, an independent recalculation too."""

    def work(session: Session) -> VerifyOutcome:
        order = _locked_order(session, request.order_id)
        user = acting_user(session, request.user, ("pharmacist",), "verification")
        if user.id == order.prepared_by:
            raise Refused(f"{user.name} prepared order {order.id}; a second pharmacist must verify it")
        _expect_state(order, "prepared", "verification")
        reason = (request.reason or "").strip()[:500]
        if request.blind and request.prescribed is None and not reason:
            raise Refused(
                f"order {order.id}: verifying without entering the doses needs a reason (how they were checked)"
            )
        check: Check | None = None
        check_json: dict[str, Any] | None = None
        if request.prescribed is not None:
            check = _check_prescription(order, request)
            from ..verify import to_json

            check_json = to_json(check)
            if not check.passed:
                audit.append(
                    session,
                    user.name,
                    "verify-discrepancy",
                    {"counts": check.counts(), "status": check.status, "lines": disagreeing_lines(check_json)},
                    order_id=order.id,
                )
                return VerifyOutcome(_record(session, order.id), False, check, check_json)
            if request.blind and not reason and _saw_discrepancy(session, order.id, user.name):
                raise Refused(
                    f"order {order.id}: you saw a discrepancy on this order; verifying it now needs a reason "
                    "(what was wrong)"
                )
        verification = Verification(
            order_id=order.id,
            pharmacist_id=user.id,
            verified_at=audit.now(),
            prescribed_text=request.prescribed.decode("utf-8") if request.prescribed is not None else None,
            result_json=audit.canonical(check_json) if check_json is not None else None,
        )
        order.state = "verified"
        session.add(verification)
        detail: dict[str, Any] = {"prescribed": request.prescribed is not None}
        if reason:
            detail["reason"] = reason
        audit.append(session, user.name, "verified", detail, order_id=order.id, rows=(order, verification))
        return VerifyOutcome(_record(session, order.id), True, check, check_json)

    return _audited(database, request.user.name, "verify", request.order_id, work)


def disagreeing_lines(check_json: dict[str, Any]) -> list[str]:
    """The lines of a verification that disagree, named by drug, route and day, never by the
    calculated dose: what a blind check may tell the verifier before they are right."""
    return [
        f"{line['drug']} {line.get('route', '')} day {', '.join(str(d) for d in line.get('days', []))}".replace(
            "  ", " "
        )
        for line in check_json.get("lines", [])
        if line.get("verdict") != "ok"
    ]


def _saw_discrepancy(session: Session, order_id: int, user_name: str) -> bool:
    found = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.order_id == order_id,
            AuditEvent.action == "verify-discrepancy",
            AuditEvent.actor == user_name,
        )
    )
    return bool(found)


def verification_reason(session: Session, order_id: int) -> str | None:
    """The reason given with the order's verification, if any (printed with it)."""
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.order_id == order_id, AuditEvent.action == "verified")
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    return json.loads(event.detail_json).get("reason") if event is not None else None


def _check_prescription(order: Order, request: VerifyRequest) -> Check:
    """chemo_orders.verify against the stored inputs (the pinned regimen must be the library's)."""
    from ..models import validate
    from ..service import CheckRequest
    from ..service import verify as check
    from ..sources import Document
    from ..verify import Prescription
    from .calculation import parse_yaml, regimen_text, stored_request

    assert request.prescribed is not None
    prescription = validate(
        Prescription,
        parse_yaml(request.prescribed, "prescription", request.prescribed_source),
        request.prescribed_source,
    )
    if prescription.regimen != order.regimen_id or (prescription.cycle or order.cycle) != order.cycle:
        raise InputError(
            "regimen",
            f"{prescription.regimen} cycle {prescription.cycle or '-'}",
            f"the prescription is not for order {order.id} ({order.regimen_id} cycle {order.cycle})",
            source=request.prescribed_source,
        )
    if hashlib.sha256(regimen_text(order.regimen_id).encode("utf-8")).hexdigest() != order.regimen_sha256:
        raise Refused(
            f"the library's {order.regimen_id} changed since order {order.id} was prepared: "
            "cancel it and prepare again to verify against the current version"
        )
    stored = stored_request(order)
    return check(
        CheckRequest(
            patient=stored.patient,
            prescription=Document(request.prescribed, request.prescribed_source),
            settings=stored.settings,
            tolerance_percent=request.tolerance_percent,
            regimen=stored.regimen,
            acknowledgements=stored.acknowledgements,
            changes=stored.changes,
            history=stored.history,
        )
    )


def release(database: Database, order_id: int, person: Identity, labs_checked: str | None = None) -> OrderRecord:
    """Release a verified order. An order prepared before the day's labs (LAB001 'not given')
    is held here: the releasing pharmacist states the values checked (``labs_checked``), which
    the audit trail keeps with the release."""

    def work(session: Session) -> OrderRecord:
        order = _locked_order(session, order_id)
        user = acting_user(session, person, ("pharmacist",), "release")
        _expect_state(order, "verified", "release")
        missing = missing_criteria_labs(order)
        detail: dict[str, Any] = {}
        if missing and not (labs_checked or "").strip():
            raise Refused(
                f"order {order.id}: the criteria to treat need {', '.join(missing)}, not given when it was "
                "prepared; release with the values checked today (--labs-checked TEXT)"
            )
        if missing:
            detail = {"labs_checked": (labs_checked or "").strip()[:500], "criteria_labs": missing}
        order.state, order.released_by, order.released_at = "released", user.id, audit.now()
        audit.append(session, user.name, "released", detail, order_id=order.id, rows=(order,))
        return _record(session, order.id)

    return _audited(database, person.name, "release", order_id, work)


def missing_criteria_labs(order: Order) -> list[str]:
    """The labs this order's criteria to treat need that its patient file did not give."""
    from ..criteria import for_cycle, lab_value
    from .calculation import parse_patient, parse_regimen

    source = f"order {order.id}"
    patient = parse_patient(order.patient_file, source)
    regimen = parse_regimen(order.regimen_text, f"{source} regimen {order.regimen_id}")
    criteria = for_cycle(regimen, order.cycle)
    return sorted({a.lab for a in criteria.applied if lab_value(patient, a.lab) is None})


def _check_in_plan(plan_id: str, regimen_id: str, cycle: int) -> None:
    from ..plan import courses, load_plan

    plan = load_plan(plan_id)
    if (regimen_id, cycle) not in {(r.id, c) for r, c in courses(plan)}:
        raise InputError("--plan", plan_id, f"{regimen_id} cycle {cycle} is not a course of this plan")


@dataclass(frozen=True)
class NextCourse:
    """Where a patient stands in a plan: the next course and when it is due."""

    patient_id: str
    plan: str
    course: int | None  # None: every course of the plan is on the record
    regimen: str | None
    cycle: int | None
    due: dt.date | None  # None: the last course has no fixed length, or nothing is on the record

    def as_json(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "plan": self.plan,
            "next": None
            if self.course is None
            else {
                "course": self.course,
                "regimen": self.regimen,
                "cycle": self.cycle,
                "due": self.due.isoformat() if self.due else None,
            },
        }


def next_course(database: Database, patient_id: str, plan_id: str | None = None) -> NextCourse:
    """The first course of the patient's plan not on the record (not cancelled), due one cycle
    length after the last course given: what CYC001 would hold if ordered sooner."""
    from ..plan import courses, load_plan

    with database.read() as session:
        found = session.execute(
            select(Order.regimen_id, Order.cycle, Order.options_json)
            .where(Order.patient_id == patient_id, Order.state != "cancelled")
            .order_by(Order.id)
        ).all()
    recorded = [(regimen, cycle, json.loads(options)) for regimen, cycle, options in found]
    if plan_id is None:
        plans = [o["plan"] for _, _, o in recorded if o.get("plan")]
        if not plans:
            raise InputError("--plan", "", f"no order of {patient_id} names a plan: give --plan")
        plan_id = plans[-1]
    ordered = courses(load_plan(plan_id))
    done = {(regimen, cycle) for regimen, cycle, _ in recorded}
    for number, (regimen, cycle) in enumerate(ordered, start=1):
        if (regimen.id, cycle) in done:
            continue
        due = None
        if number > 1:
            before, before_cycle = ordered[number - 2]
            dates = [dt.date.fromisoformat(o["on"]) for r, c, o in recorded if (r, c) == (before.id, before_cycle)]
            if dates and before.cycle_length is not None:
                due = max(dates) + dt.timedelta(days=int(before.cycle_length.to("day").magnitude))
        return NextCourse(patient_id, plan_id, number, regimen.id, cycle, due)
    return NextCourse(patient_id, plan_id, None, None, None, None)


def labs_to_check(database: Database, order_id: int) -> list[str]:
    """:func:`missing_criteria_labs` for an order by id (the release form asks for them)."""
    with database.read() as session:
        order = session.get(Order, order_id)
        return missing_criteria_labs(order) if order is not None else []


def cancel(database: Database, order_id: int, person: Identity, reason: str) -> OrderRecord:
    if not reason.strip():
        raise InputError("--reason", reason, "a cancellation needs a reason")

    def work(session: Session) -> OrderRecord:
        order = _locked_order(session, order_id)
        user = acting_user(session, person, CANCELLERS, "cancelling an order")
        if order.state not in ("prepared", "verified"):
            raise Refused(f"order {order.id} is {order.state}; only prepared or verified orders can be cancelled")
        order.state, order.cancelled_by, order.cancelled_at, order.cancel_reason = (
            "cancelled",
            user.id,
            audit.now(),
            reason,
        )
        audit.append(session, user.name, "cancelled", {"why": reason}, order_id=order.id, rows=(order,))
        return _record(session, order.id)

    return _audited(database, person.name, "cancel", order_id, work)


# Reading.


def show(database: Database, order_id: int) -> OrderRecord:
    with database.read() as session:
        if session.get(Order, order_id) is None:
            raise InputError("ORDER_ID", order_id, "no such order")
        return _record(session, order_id)


@dataclass(frozen=True)
class Pending:
    """A prepared order by who prepared it: what a blind check needs, without the order read."""

    order_id: int
    regimen: str
    prepared_by: str


# Built once: the live preview asks on every change (building a statement costs more than running it).
_PREPARED = (
    select(Order.id, Order.regimen_id, User.name)
    .join(User, User.id == Order.prepared_by)
    .where(Order.patient_id == bindparam("patient_id"), Order.state == "prepared")
    .order_by(Order.id)
)


def prepared_orders(database: Database, patient_id: str) -> list[Pending]:
    """This patient's prepared orders, one light query (the live preview asks on every change)."""
    with database.read() as session:
        found = rows(session, _PREPARED, patient_id=patient_id)
    return [Pending(int(order_id), regimen, name) for order_id, regimen, name in found]


def list_orders(database: Database, patient_id: str | None = None, state: str | None = None) -> list[OrderRecord]:
    with database.read() as session:
        query = select(Order.id).order_by(Order.id)
        if patient_id is not None:
            query = query.where(Order.patient_id == patient_id)
        if state is not None:
            query = query.where(Order.state == state)
        return [_record(session, order_id) for order_id in session.scalars(query)]


def _record(session: Session, order_id: int) -> OrderRecord:
    order = session.scalars(
        select(Order)
        .where(Order.id == order_id)
        .options(
            selectinload(Order.acknowledgements),
            selectinload(Order.verification).selectinload(Verification.pharmacist),
            selectinload(Order.preparer),
            selectinload(Order.releaser),
            selectinload(Order.canceller),
        )
    ).one()
    verification = order.verification
    return OrderRecord(
        order_id=order.id,
        state=order.state,
        patient_id=order.patient_id,
        regimen=order.regimen_id,
        regimen_version=order.regimen_version,
        regimen_sha256=order.regimen_sha256,
        cycle=order.cycle,
        calc=json.loads(order.calc_json),
        basis=json.loads(order.basis_json),
        prepared_by=order.preparer.name,
        prepared_at=order.prepared_at,
        acknowledgements=tuple((a.rule, a.reason) for a in order.acknowledgements),
        verified_by=verification.pharmacist.name if verification else None,
        verified_at=verification.verified_at if verification else None,
        verification=json.loads(verification.result_json) if verification and verification.result_json else None,
        verification_reason=verification_reason(session, order.id) if verification else None,
        released_by=order.releaser.name if order.releaser else None,
        released_at=order.released_at,
        cancelled_by=order.canceller.name if order.canceller else None,
        cancelled_at=order.cancelled_at,
        cancel_reason=order.cancel_reason,
        changes=json.loads(order.changes_json) if order.changes_json else None,
    )


def view(database: Database, order_id: int, paper: str = "a4") -> DocumentView:
    """What the order's PDF shows, recalculated from the stored record (see :func:`pdf`): the
    workbench puts the same view through the same order-table template on screen."""
    with database.read() as session:
        return _stored_view(session, order_id, paper)[0]


def _stored_view(session: Session, order_id: int, paper: str) -> tuple[DocumentView, Order]:
    from ..render import build_view
    from .calculation import rebuild

    order = session.scalars(
        select(Order).where(Order.id == order_id).options(selectinload(Order.acknowledgements))
    ).one_or_none()
    if order is None:
        raise InputError("ORDER_ID", order_id, "no such order")
    order_set = rebuild(order)
    view = build_view(order_set, paper, content_hash=order.regimen_sha256[:16])
    reason = verification_reason(session, order.id)
    note = f"Verification reason: {reason}" if reason else ""
    record = _record(session, order.id)
    # The engine version that calculated it, what the verifier said, and what this paper is.
    return (
        replace(
            view,
            engine=json.loads(order.calc_json)["engine"],
            verification_note=note,
            state_line=f"Order {order.id} · {order.state}",
            draft=order.state == "prepared",
            signed=_signed(record),
        ),
        order,
    )


def _signed(record: OrderRecord) -> tuple[tuple[str, str], ...]:
    """Who acted on a released order, and when (UTC), for its signature block (design §11.5)."""
    if record.state != "released":
        return ()

    def when(at: dt.datetime | None) -> str:
        return at.strftime("%Y-%m-%d %H:%M UTC") if at is not None else ""

    return (
        ("Prepared by", f"{record.prepared_by}, {when(record.prepared_at)}"),
        ("Verified by", f"{record.verified_by}, {when(record.verified_at)}"),
        ("Released by", f"{record.released_by}, {when(record.released_at)}"),
    )


def pdf(database: Database, order_id: int, paper: str = "a4") -> bytes:
    """The order's PDF re-rendered from the stored record: the pinned regimen text, the stored
    inputs, the stored calc record attached, the preparation time as the attachment's date; so
    the same order gives the same bytes whatever the library holds now."""
    from ..pdf import pdf_from_html
    from ..render import render_html

    with database.read() as session:
        view, order = _stored_view(session, order_id, paper)
        return pdf_from_html(render_html(view), order.calc_json.encode("utf-8"), created=order.prepared_at)


def order_patient(database: Database, order_id: int) -> Patient:
    """The patient file an order was calculated on, parsed: what its verifier checks the
    measurements, allergies and diagnosis against (never the patient's newer versions)."""
    from .calculation import parse_patient

    with database.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise InputError("ORDER_ID", order_id, "no such order")
        return parse_patient(order.patient_file, f"order {order.id}")
