"""The printable order set: a typed view of an OrderSet, jinja2 to HTML, weasyprint to PDF.

Security: templates autoescape (and ``StrictUndefined`` turns a missing value into an
error, not a blank on a chemotherapy order); the PDF renderer's URL fetcher serves only
files inside the templates folder, so user text that looks like a URL fetches nothing.
weasyprint is imported only here (it costs ~0.7 s), never on the ``calc`` path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from . import DISCLAIMER, __version__
from .body import BSA_FORMULAS
from .criteria import criterion_text, for_cycle, lab_value
from .diagnosis import DIAGNOSIS_NAMES, may_be
from .dosing import TIMES_DAILY, Order
from .drugs import drug_table
from .orderset import Acknowledgement, OrderSet, calc_record
from .patient import creatinine_mg_dl
from .pdf import pdf_from_html, templates_dir
from .regimen import ROUTE_DISPLAY, regimen_paths
from .report import change_text, days_text
from .rules.route import INTRATHECAL_LABEL, VINCA_LABEL
from .units import CM, KG, format_measurement, format_number, format_quantity, format_value


@dataclass(frozen=True)
class OrderRow:
    sequence: str
    name: str
    role: str
    dose: str
    cap: str
    final: str
    schedule: str
    route: str
    duration: str
    diluent: str
    days: str
    calculation: str
    notes: tuple[str, ...]
    rate: str
    vinca: bool
    modification: str = ""  # full dose, percent, modified dose, band and source
    calculated: str = ""  # before rounding and caps (the screen shows it beside the final dose)
    intrathecal: bool = False
    changed: bool = False  # the prescriber changed this dose (the screen badges it)


@dataclass(frozen=True)
class FindingRow:
    severity: str
    rule: str
    name: str
    message: str


@dataclass(frozen=True)
class CriterionRow:
    lab: str
    criterion: str
    value: str


@dataclass(frozen=True)
class ReferenceRow:
    key: str
    text: str


@dataclass(frozen=True)
class DocumentView:
    """Everything the templates may read; nothing else reaches them."""

    title: str
    paper: str
    disclaimer: str
    patient_line: str
    footer_line: str
    patient_name: str
    patient_id: str
    birth_date: str
    age: int
    sex: str
    diagnosis: str
    disease_status: str
    indication: str
    allergies: str
    height: str
    weight: str
    bsa: str
    measured_on: str
    creatinine: str
    crcl: str
    date: str
    cycle: int
    cycle_length: str
    regimen_id: str
    regimen_name: str
    regimen_title: str
    regimen_version: str
    regimen_category: str
    regimen_hash: str
    input_hash: str
    engine: str
    findings: tuple[FindingRow, ...]
    acknowledgements: tuple[Acknowledgement, ...]
    systemic: tuple[OrderRow, ...]
    intrathecal: tuple[OrderRow, ...]
    supportive: tuple[str, ...]
    criteria: tuple[CriterionRow, ...]
    criteria_exemption: str
    notes: tuple[str, ...]
    references: tuple[ReferenceRow, ...] = field(default=())
    verification_note: str = ""  # a recorded order's verification reason (no doses entered, a discrepancy seen)
    # Design §11.5: what this paper is. A render outside the record is a calculation, never an
    # order; a recorded order prints its number and state on every page, and a DRAFT mark until
    # it is verified; a released order names who prepared, verified and released it, and when.
    state_line: str = "CALCULATION — NOT A VERIFIED ORDER"
    draft: bool = False
    signed: tuple[tuple[str, str], ...] = ()  # (role as on the signature block, "name, time")


PAPER = {"a4": "A4", "letter": "letter"}


def _lab_text(value: object) -> str:
    """A lab as printed beside its criterion; absent means the nurse checks it on the day."""
    return format_value(value) if value is not None else "not given: check before administration"


def regimen_hash(regimen_id: str) -> str:
    path = regimen_paths().get(regimen_id)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path else "unknown"


def _short(text: str, limit: int = 60) -> str:
    """The running header has one line: a long name is cut there (in full in the facts table)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _join(first: str, second: str) -> str:
    return f"{first}; {second}" if first else second


def _modification_text(order: Order) -> str:
    """The organ-function band and the prescriber's change, each as the order prints it."""
    parts = []
    change = order.modification
    if change is not None:
        full = order.final if order.change is None else order.change.before
        parts.append(
            f"{change.rule} dose modification: full dose {format_quantity(change.full)} × "
            f"{format_number(change.percent)}% = {format_quantity(full)} ({change.band}). Source: {change.source}"
        )
    if order.change is not None:
        parts.append(change_text(order))
    return " ".join(parts)


def build_view(order_set: OrderSet, paper: str = "a4", content_hash: str | None = None) -> DocumentView:
    """``content_hash``: the regimen file's, when it is not the library's (a stored order)."""
    patient, regimen, body = order_set.patient, order_set.regimen, order_set.calculation.body
    table = drug_table()
    rows: list[tuple[str, OrderRow]] = []
    # Rows are numbered 1, 2, 3 … in order of administration: first day, then the source's
    # sequence within the day (two rows "3" and none "5" left the nurse to guess).
    ordered = sorted(
        enumerate(order_set.orders),
        key=lambda item: (min(item[1].line.days), item[1].line.sequence or 0, item[0]),
    )
    for index, (_, order) in enumerate(ordered, start=1):
        line = order.line
        schedule = ""
        if line.every is not None:
            schedule = f"every {format_quantity(line.every)} × {line.doses} doses"
        if order.per_administration is not None and line.divided is not None:
            schedule = _join(
                schedule, f"{format_quantity(order.per_administration)} {TIMES_DAILY.get(line.divided, '')}"
            )
        # A per-cycle total helps where a cycle gives several calculated doses; never under a
        # capped or flat dose (vincristine 2 mg twice is not "4 mg per cycle" to a nurse).
        if order.administrations > 1 and not order.capped and order.basis != "flat":
            schedule = _join(schedule, f"{format_quantity(order.course_total)} per cycle")
        rows.append(
            (
                line.route,
                OrderRow(
                    sequence=str(index),
                    name=table.display_name(order.drug),
                    role=line.role,
                    dose=format_quantity(order.dose),
                    cap=format_quantity(order.cap) if order.cap is not None else "",
                    final=format_quantity(order.final),
                    schedule=schedule,
                    route=ROUTE_DISPLAY[line.route],
                    duration=format_quantity(line.duration) if line.duration is not None else "",
                    diluent=line.diluent or "",
                    days=days_text(line.days),
                    calculation=order.calculation,
                    notes=tuple(order.notes) + ((line.note,) if line.note else ()),
                    rate=line.rate or "",
                    vinca=table.get(order.drug).drug_class == "vinca",
                    modification=_modification_text(order),
                    calculated=format_quantity(order.calculated),
                    intrathecal=line.route == "intrathecal",
                    changed=order.change is not None,
                ),
            )
        )
    indications = [i for i in regimen.indications if may_be(patient.diagnosis, i.disease)]
    indication = (
        "; ".join(
            (i.note or DIAGNOSIS_NAMES.get(i.disease, i.disease)) + (f" ({', '.join(i.status)})" if i.status else "")
            for i in indications
        )
        or "not indicated (see findings)"
    )
    cycle_criteria = for_cycle(regimen, order_set.options.cycle)
    criteria = tuple(
        CriterionRow(
            a.lab
            + (f" ({a.criterion.note})" if a.criterion.note else "")
            + (" (institutional default)" if a.default else ""),
            criterion_text(a.criterion),
            _lab_text(lab_value(patient, a.lab)),
        )
        for a in cycle_criteria.applied
    )
    exemption = cycle_criteria.exemption.none if cycle_criteria.exemption is not None else ""
    references = tuple(
        ReferenceRow(
            key,
            ref.citation
            + "".join(
                x
                for x in (
                    f". PMID {ref.pmid}" if ref.pmid else "",
                    f". doi:{ref.doi}" if ref.doi else "",
                    f". {ref.url}" if ref.url and not ref.pmid and not ref.doi else "",
                )
            ),
        )
        for key, ref in regimen.references.items()
    )
    content_hash = content_hash or regimen_hash(regimen.id)
    creatinine = (
        format_measurement(creatinine_mg_dl(patient.serum_creatinine), patient.serum_creatinine, 2)
        if patient.serum_creatinine is not None
        else "not given"
    )
    crcl = (
        f"{format_quantity(body.crcl)} ({body.crcl_note})"
        if body.crcl is not None
        else f"not calculated ({body.crcl_note})"
    )
    bsa = f"{format_quantity(body.bsa)} ({BSA_FORMULAS[body.bsa_formula].name})"
    if body.bsa_cap_note:
        bsa += f"; {body.bsa_cap_note}"
    return DocumentView(
        title=f"{regimen.name} cycle {order_set.options.cycle} — {patient.name}",
        paper=PAPER[paper],
        disclaimer=DISCLAIMER,
        patient_line=f"ID {patient.id} · {_short(patient.name)} · DOB {patient.birth_date or f'age {patient.age}'}",
        footer_line=(
            f"{regimen.id} v{regimen.version} · content {content_hash} · input {order_set.input_hash} · {DISCLAIMER}"
        ),
        patient_name=patient.name,
        patient_id=patient.id,
        birth_date=patient.birth_date.isoformat() if patient.birth_date else "not given (de-identified)",
        age=body.age_years,
        sex=patient.sex,
        diagnosis=DIAGNOSIS_NAMES[patient.diagnosis],
        disease_status=patient.disease_status or "not given",
        indication=indication,
        allergies=", ".join(a.describe() for a in patient.allergies) or "No known allergies recorded",
        height=format_measurement(patient.height.to(CM), patient.height, 1),
        weight=format_measurement(patient.weight.to(KG), patient.weight, 1),
        bsa=bsa,
        measured_on=patient.measured_on.isoformat() if patient.measured_on else "not recorded",
        creatinine=creatinine,
        crcl=crcl,
        date=order_set.options.on.isoformat(),
        cycle=order_set.options.cycle,
        cycle_length=format_quantity(regimen.cycle_length)
        if regimen.cycle_length is not None
        else (regimen.cycle_note or "not fixed"),
        regimen_id=regimen.id,
        regimen_name=regimen.name,
        regimen_title=regimen.title,
        regimen_version=regimen.version,
        regimen_category=regimen.category,
        regimen_hash=content_hash,
        input_hash=order_set.input_hash,
        engine=f"chemo-orders {__version__}",
        findings=tuple(FindingRow(f.severity, f.rule, f.name, f.message) for f in order_set.findings),
        acknowledgements=order_set.acknowledgements,
        systemic=tuple(row for route, row in rows if route != "intrathecal"),
        intrathecal=tuple(row for route, row in rows if route == "intrathecal"),
        supportive=tuple(s.text for s in regimen.supportive),
        criteria=criteria,
        criteria_exemption=exemption,
        notes=tuple(regimen.notes),
        references=references,
    )


@cache
def environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,  # select_autoescape() would miss *.html.j2
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates are part of the installed package: checking each file's date again on
        # every render (jinja2's default) costs the live preview a stat per included template.
        auto_reload=False,
    )
    # The one number style (no trailing zero, thousands grouped) and the Tall Man spelling
    # for values that come from stored JSON rather than from a DocumentView.
    env.filters["num"] = format_number
    env.filters["tall_man"] = drug_table().display_name
    return env


ROUTE_LABELS = {"vinca_label": VINCA_LABEL, "intrathecal_label": INTRATHECAL_LABEL}


def render_html(view: DocumentView) -> str:
    """The printable document; the workbench renders the same ``_orders.html.j2`` with ``screen``."""
    template = environment().get_template("order_set.html.j2")
    return str(template.render(doc=view, screen=False, **ROUTE_LABELS))


def pdf_bytes(html: str, order_set: OrderSet) -> bytes:
    """The PDF (PDF/A-3b) with the calc JSON attached as the machine-readable record."""
    return pdf_from_html(html, calc_record(order_set))
