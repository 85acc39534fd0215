"""The record's tables (SQLAlchemy 2 typed ORM). The schema itself is made by migrations.

What an order keeps, and why: the patient file exactly as read (bytes), the regimen file's
text with its id, version and sha256 (a later library change must not change a stored order),
the calculation options, what the record contributed (prior exposure, the weight last dosed
on), the acknowledgements and the calc JSON. From these the order can be recalculated and its
PDF re-rendered with the same content, and a verifier can recheck it independently.

JSON is stored as text in one canonical spelling (not a JSON column type): PostgreSQL's jsonb
would reorder keys, and the audit chain hashes what is stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal, get_args

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

Role = Literal["prescriber", "pharmacist", "nurse", "admin"]
State = Literal["prepared", "verified", "released", "cancelled"]
ROLES: tuple[str, ...] = get_args(Role)
STATES: tuple[str, ...] = get_args(State)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC in Python, naive UTC in the database: the same value back from both backends."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the record stores UTC")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2; None: no sign-in by password
    created_at: Mapped[dt.datetime]


class ApiToken(Base):
    """Only the token's sha256 is kept: the token itself is shown once, when it is made."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]


class PatientRow(Base):
    """One row per patient id: the row prepares lock to serialise per patient."""

    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[dt.date | None]
    created_at: Mapped[dt.datetime]


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_in("state", STATES), name="state"),
        Index("ix_orders_patient_id_state", "patient_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    state: Mapped[str] = mapped_column(String(16))
    regimen_id: Mapped[str] = mapped_column(String(100))
    regimen_version: Mapped[str] = mapped_column(String(32))
    regimen_sha256: Mapped[str] = mapped_column(String(64))
    regimen_text: Mapped[str] = mapped_column(Text)
    cycle: Mapped[int]
    patient_file: Mapped[bytes] = mapped_column(LargeBinary)
    patient_sha256: Mapped[str] = mapped_column(String(64))
    options_json: Mapped[str] = mapped_column(Text)
    basis_json: Mapped[str] = mapped_column(Text)  # what the record added to the inputs
    calc_json: Mapped[str] = mapped_column(Text)  # the calc record, byte for byte as produced
    changes_json: Mapped[str | None] = mapped_column(Text)  # dose changes applied, and what was carried forward
    prepared_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    prepared_at: Mapped[dt.datetime]
    released_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[dt.datetime | None]
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    acknowledgements: Mapped[list[Acknowledgement]] = relationship(order_by="Acknowledgement.id")
    exposures: Mapped[list[Exposure]] = relationship(order_by="Exposure.id")
    measurement: Mapped[Measurement] = relationship()
    verification: Mapped[Verification | None] = relationship()
    preparer: Mapped[User] = relationship(foreign_keys=[prepared_by])
    releaser: Mapped[User | None] = relationship(foreign_keys=[released_by])
    canceller: Mapped[User | None] = relationship(foreign_keys=[cancelled_by])


class Acknowledgement(Base):
    """A warn-level finding the preparer acknowledged, with the reason printed on the order."""

    __tablename__ = "acknowledgements"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    rule: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)


class Exposure(Base):
    """Per drug, the amount per m² one order gives in its cycle (DOS002's arithmetic)."""

    __tablename__ = "exposures"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    drug: Mapped[str] = mapped_column(String(64))
    mg_per_m2: Mapped[float] = mapped_column(Float)


class Measurement(Base):
    """The patient's measurements as dosed on: the next order's weight baseline (WGT001)."""

    __tablename__ = "measurements"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    height_cm: Mapped[float] = mapped_column(Float)
    weight_kg: Mapped[float] = mapped_column(Float)
    bsa_m2: Mapped[float] = mapped_column(Float)
    serum_creatinine_mg_dl: Mapped[float | None] = mapped_column(Float)
    crcl_ml_min: Mapped[float | None] = mapped_column(Float)
    measured_on: Mapped[dt.date | None]


class Verification(Base):
    """The second pharmacist's check, with the independently written prescription if given."""

    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    pharmacist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[dt.datetime]
    prescribed_text: Mapped[str | None] = mapped_column(Text)
    result_json: Mapped[str | None] = mapped_column(Text)

    pharmacist: Mapped[User] = relationship()


class AuditEvent(Base):
    """Append-only; ``sha256`` covers ``prev_sha256`` and the canonical JSON of the event."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))  # ISO 8601 UTC, hashed as written
    actor: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(index=True)  # no foreign key: refused prepares have none
    detail_json: Mapped[str] = mapped_column(Text)
    prev_sha256: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)


class PatientVersion(Base):
    """One saved version of a patient file, entered in the workbench (design §10.6).

    A save never changes an earlier version: the measurements a dose was calculated on stay
    readable beside the later ones (weight and creatinine history). ``data_json`` is the
    patient file as a canonical JSON mapping, with every quantity as the text that was typed
    (``"68.9 in"``); orders prepared from it keep those bytes as their patient file.
    """

    __tablename__ = "patient_versions"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    version: Mapped[int]
    data_json: Mapped[str] = mapped_column(Text)
    saved_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    saved_at: Mapped[dt.datetime]


class WebSession(Base):
    """A signed-in browser: only the cookie value's sha256 is kept, so a copy of the database
    signs no one in; signing out deletes the row (the cookie is worthless from then on)."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
