"""Patients entered in the workbench: numbered versions of a patient file (design §10.6).

Why versions and not updates: an order keeps the patient file it was calculated on, and a
pharmacist checking a later cycle needs the weight and creatinine history beside the current
values. A save adds a version and never changes an earlier one; each save is an audit event
whose row digests cover the new version (and the patient's row when the name or date of
birth changed), so ``audit --verify`` finds a version edited by hand.

What a save does to orders already made: an order that is prepared or verified but not yet
released was calculated on the old measurements. When height, weight, creatinine, a measured
GFR or any laboratory value changed, :func:`reprepare` cancels it (saying what changed) and
prepares it again from the new version, so it returns to the verification queue; the order
itself is never recalculated in place (an order's doses are a function of its stored inputs).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, or_, select

from ..errors import InputError
from . import Refused, audit
from .db import Database, rows
from .orders import PREPARERS, BlockedPrepare, PrepareRequest, cancel, prepare
from .tables import AuditEvent, Order, PatientRow, PatientVersion, User
from .users import Identity, find_user, require_role

if TYPE_CHECKING:
    from ..patient import Patient
    from .orders import OrderRecord

EDITORS = PREPARERS  # who enters a patient also prepares the orders a change sends back
SEARCH_LIMIT = 200
REPLACEABLE = ("prepared", "verified")


@dataclass(frozen=True)
class VersionInfo:
    version: int
    saved_by: str
    saved_at: dt.datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class PatientEntry:
    """A patient as the workbench shows it: the newest version, or the last order's file."""

    patient_id: str
    name: str
    birth_date: dt.date | None
    data: dict[str, Any] | None  # None: the record has neither a version nor an order
    versions: tuple[VersionInfo, ...]  # newest first
    from_order: int | None = None  # data read from this order's patient file (no version yet)


@dataclass(frozen=True)
class Summary:
    patient_id: str
    name: str
    birth_date: dt.date | None


def file_bytes(data: dict[str, Any]) -> bytes:
    """A patient file as stored and as an order keeps it: canonical JSON (also valid YAML)."""
    return audit.canonical(data).encode("utf-8")


def parse(data: dict[str, Any]) -> Patient:
    from ..models import validate
    from ..patient import Patient

    return validate(Patient, data, "patient")


def save(database: Database, user_name: str, data: dict[str, Any], *, new: bool) -> int:
    """Validate and store a new version; ``new``: refuse an MRN the record already has."""
    patient = parse(data)
    with database.write() as session:
        user = find_user(session, user_name)
        require_role(user, EDITORS, "entering a patient")
        row = session.get(PatientRow, patient.id, with_for_update=True)
        if row is not None and new:
            raise InputError("id", patient.id, "the record has a patient with this MRN: open it to edit")
        if row is None:
            if not new:
                raise InputError("id", patient.id, "no such patient")
            row = PatientRow(id=patient.id, name=patient.name, birth_date=patient.birth_date, created_at=audit.now())
            session.add(row)
        else:
            row.name = patient.name
            if patient.birth_date is not None:
                row.birth_date = patient.birth_date
        last = session.scalar(select(func.max(PatientVersion.version)).where(PatientVersion.patient_id == patient.id))
        version = PatientVersion(
            patient_id=patient.id,
            version=(last or 0) + 1,
            data_json=audit.canonical(data),
            saved_by=user.id,
            saved_at=audit.now(),
        )
        session.add(version)
        audit.append(
            session,
            user.name,
            "patient-saved",
            {"patient_id": patient.id, "version": version.version},
            rows=(row, version),
        )
        return version.version


# Built once: every patient page and live preview reads the entry.
_PATIENT = select(PatientRow.id, PatientRow.name, PatientRow.birth_date).where(PatientRow.id == bindparam("patient_id"))
_VERSIONS = (
    select(PatientVersion.version, User.name, PatientVersion.saved_at, PatientVersion.data_json)
    .join(User, User.id == PatientVersion.saved_by)
    .where(PatientVersion.patient_id == bindparam("patient_id"))
    .order_by(PatientVersion.version.desc())
)


def entry(database: Database, patient_id: str) -> PatientEntry | None:
    from .calculation import parse_yaml

    with database.read() as session:
        found_row = rows(session, _PATIENT, patient_id=patient_id)
        if not found_row:
            return None
        row = found_row[0]
        found = rows(session, _VERSIONS, patient_id=patient_id)
        versions = tuple(
            VersionInfo(version, name, saved_at, json.loads(data)) for version, name, saved_at, data in found
        )
        if versions:
            return PatientEntry(row.id, row.name, row.birth_date, versions[0].data, versions)
        last = session.scalars(
            select(Order).where(Order.patient_id == patient_id).order_by(Order.id.desc()).limit(1)
        ).first()
        if last is None:
            return PatientEntry(row.id, row.name, row.birth_date, None, ())
        data = parse_yaml(last.patient_file, "patient file", f"order {last.id}")
        return PatientEntry(row.id, row.name, row.birth_date, data if isinstance(data, dict) else None, (), last.id)


def search(database: Database, text: str = "") -> list[Summary]:
    """Patients whose MRN or name contains ``text`` (any case), by name; at most 200."""
    query = select(PatientRow).order_by(PatientRow.name, PatientRow.id).limit(SEARCH_LIMIT)
    words = text.strip()
    if words:
        pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(PatientRow.id.ilike(pattern, escape="\\"), PatientRow.name.ilike(pattern, escape="\\")))
    with database.read() as session:
        return [Summary(r.id, r.name, r.birth_date) for r in session.scalars(query)]


def dose_inputs(patient: Patient) -> dict[str, str]:
    """Everything a dose or a check depends on, each as one text in fixed units, so that
    ``68 kg`` and ``68.0 kg`` compare equal and ``150 lb`` does not: measurements and labs, and
    the facts the rules read (sex, age, diagnosis, status, markers, allergies, history,
    co-medications, pregnancy, prior exposure). A change to any of them sends a prepared or
    verified order back to the queue; a change of name or note does not (issue 19)."""
    from ..patient import creatinine_mg_dl
    from ..units import QuantityClass

    def text(value: object) -> str:
        if isinstance(value, QuantityClass):
            base = value.to_base_units()
            return f"{float(base.magnitude):.6g} {base.units}"
        return str(value)

    values: dict[str, object] = {
        "height": patient.height,
        "weight": patient.weight,
        "serum_creatinine": creatinine_mg_dl(patient.serum_creatinine) if patient.serum_creatinine else None,
        "measured_gfr": patient.measured_gfr,
        "sex": patient.sex,
        "birth_date": patient.birth_date,
        "age": patient.age,
        "diagnosis": patient.diagnosis,
        "disease_status": patient.disease_status,
        "ecog": patient.ecog,
        "pregnant": patient.pregnant,
        "medications": ", ".join(patient.medications) or None,
        "allergies": "; ".join(sorted(f"{a.drugs} {a.allergen} {a.reaction}" for a in patient.allergies)) or None,
        "history": "; ".join(sorted(f"{h.condition} {h.drug} {h.date}" for h in patient.history)) or None,
        "previous_weight": patient.previous_weight,
        "prior_courses": "; ".join(sorted(f"{c.regimen} {c.cycle} {c.date}" for c in patient.prior_courses)) or None,
        "measurements_confirmed": patient.measurements_confirmed or None,
    }
    for drug, dose in sorted(patient.prior_cumulative.items()):
        values[f"prior_cumulative.{drug}"] = dose
    for group, model in (("labs", patient.labs), ("markers", patient.markers)):
        for name in sorted({*type(model).model_fields, *(model.model_extra or {})}):
            values[f"{group}.{name}"] = getattr(model, name)
    return {name: text(value) for name, value in values.items() if value is not None}


def changed_inputs(before: Patient, after: Patient) -> tuple[str, ...]:
    old, new = dose_inputs(before), dose_inputs(after)
    return tuple(sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name)))


@dataclass(frozen=True)
class Replacement:
    """An order sent back to the queue: cancelled, and prepared again unless refused."""

    old_order: int
    changed: tuple[str, ...]
    new_order: OrderRecord | None
    refusal: str | None = None  # why it could not be prepared again (blocked, held, …)


def stale_orders(database: Database, patient_id: str, data: dict[str, Any]) -> list[tuple[int, tuple[str, ...]]]:
    """Prepared or verified orders of this patient calculated on other clinical facts than ``data``."""
    from .calculation import parse_patient

    current = parse(data)
    with database.read() as session:
        orders = session.scalars(
            select(Order).where(Order.patient_id == patient_id, Order.state.in_(REPLACEABLE)).order_by(Order.id)
        ).all()
        found = []
        for order in orders:
            changed = changed_inputs(parse_patient(order.patient_file, f"order {order.id}"), current)
            if changed:
                found.append((order.id, changed))
        return found


def reprepare(
    database: Database, order_id: int, changed: tuple[str, ...], person: Identity, data: dict[str, Any]
) -> Replacement:
    """Cancel an order whose measurements changed and prepare it again from ``data``.

    Cancelled first, so that its own exposure does not count twice toward a cumulative limit
    in the new calculation. Acknowledgements carry over where the hold or warning still
    stands; a new hold, or a block, leaves the order cancelled and says why.
    """
    from .orders import show

    old = show(database, order_id)
    what = ", ".join(name.replace("_", " ") for name in changed)
    cancel(
        database,
        order_id,
        person,
        f"{what} changed after it was calculated; a new order replaces it for verification",
    )
    request = PrepareRequest(
        patient_file=file_bytes(data),
        patient_source="the workbench",
        regimen_id=old.regimen,
        user=person,
        cycle=old.cycle,
        acknowledgements=old.acknowledgements,
    )
    try:
        try:
            record = prepare(database, request)
        except InputError as error:
            if error.field != "--acknowledge":
                raise
            record = prepare(database, replace(request, acknowledgements=()))
    except BlockedPrepare as error:
        return Replacement(order_id, changed, None, f"the new calculation is {error.calc['status']}")
    except (Refused, InputError) as error:
        return Replacement(order_id, changed, None, str(error))
    with database.write() as session:
        audit.append(
            session, person.name, "replaced", {"replaces": order_id, "changed": list(changed)}, order_id=record.order_id
        )
    return Replacement(order_id, changed, record)


def replaced_by(database: Database, order_id: int) -> tuple[int | None, int | None]:
    """(the order this one replaces, the order that replaced this one), from the audit trail."""
    with database.read() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "replaced").order_by(AuditEvent.seq)
        ).all()
    replaces = replacement = None
    for event in events:
        old = json.loads(event.detail_json).get("replaces")
        if event.order_id == order_id:
            replaces = old
        if old == order_id:
            replacement = event.order_id
    return replaces, replacement


def names(database: Database, patient_ids: set[str]) -> dict[str, str]:
    """The patients' names, for lists of orders (an order keeps only the id)."""
    if not patient_ids:
        return {}
    with database.read() as session:
        rows = session.execute(select(PatientRow.id, PatientRow.name).where(PatientRow.id.in_(patient_ids))).all()
    return {patient_id: name for patient_id, name in rows}


@dataclass(frozen=True)
class OutOfDate:
    """A released order whose calculation the patient's newest file would change (issue 22):
    it is not recalculated (it may be given already), but it is flagged wherever it shows."""

    order_id: int
    changed: tuple[str, ...]
    weight_then: Any  # the weights, for WGT001's percentage
    weight_now: Any


def released_out_of_date(database: Database, patient_ids: set[str]) -> dict[int, OutOfDate]:
    """Each patient's newest released order, when it was calculated on other facts than the
    newest version. Only the newest: the earlier ones are past cycles, and flagging each of
    them after every weight change would be an alarm nobody could act on."""
    from .calculation import parse_patient

    found: dict[int, OutOfDate] = {}
    for patient_id in sorted(patient_ids):
        current = entry(database, patient_id)
        if current is None or current.data is None or current.from_order is not None:
            continue
        now = parse(current.data)
        with database.read() as session:
            orders = session.scalars(
                select(Order)
                .where(Order.patient_id == patient_id, Order.state == "released")
                .order_by(Order.id.desc())
                .limit(1)
            ).all()
            for order in orders:
                then = parse_patient(order.patient_file, f"order {order.id}")
                changed = changed_inputs(then, now)
                if changed:
                    found[order.id] = OutOfDate(order.id, changed, then.weight, now.weight)
    return found
