"""The order record: users, tokens, patients, orders and their parts, verifications, audit.

Revision ID: 0001
Revises: (none: the first)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("prev_sha256", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("sha256", name=op.f("uq_audit_events_sha256")),
    )
    op.create_index("ix_audit_events_order_id", "audit_events", ["order_id"])

    op.create_table(
        "patients",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("role IN ('prescriber', 'pharmacist', 'nurse', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_tokens_token_sha256")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("regimen_id", sa.String(length=100), nullable=False),
        sa.Column("regimen_version", sa.String(length=32), nullable=False),
        sa.Column("regimen_sha256", sa.String(length=64), nullable=False),
        sa.Column("regimen_text", sa.Text(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("patient_file", sa.LargeBinary(), nullable=False),
        sa.Column("patient_sha256", sa.String(length=64), nullable=False),
        sa.Column("options_json", sa.Text(), nullable=False),
        sa.Column("basis_json", sa.Text(), nullable=False),
        sa.Column("calc_json", sa.Text(), nullable=False),
        sa.Column("prepared_by", sa.Integer(), nullable=False),
        sa.Column("prepared_at", sa.DateTime(), nullable=False),
        sa.Column("released_by", sa.Integer(), nullable=True),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_by", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('prepared', 'verified', 'released', 'cancelled')", name=op.f("ck_orders_state")),
        sa.ForeignKeyConstraint(["cancelled_by"], ["users.id"], name=op.f("fk_orders_cancelled_by_users")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_orders_patient_id_patients")),
        sa.ForeignKeyConstraint(["prepared_by"], ["users.id"], name=op.f("fk_orders_prepared_by_users")),
        sa.ForeignKeyConstraint(["released_by"], ["users.id"], name=op.f("fk_orders_released_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index("ix_orders_patient_id_state", "orders", ["patient_id", "state"])

    op.create_table(
        "acknowledgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_acknowledgements_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acknowledgements")),
    )
    op.create_index("ix_acknowledgements_order_id", "acknowledgements", ["order_id"])

    op.create_table(
        "exposures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(length=64), nullable=False),
        sa.Column("mg_per_m2", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_exposures_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exposures")),
    )
    op.create_index("ix_exposures_order_id", "exposures", ["order_id"])

    op.create_table(
        "measurements",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("height_cm", sa.Float(), nullable=False),
        sa.Column("weight_kg", sa.Float(), nullable=False),
        sa.Column("bsa_m2", sa.Float(), nullable=False),
        sa.Column("serum_creatinine_mg_dl", sa.Float(), nullable=True),
        sa.Column("crcl_ml_min", sa.Float(), nullable=True),
        sa.Column("measured_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_measurements_order_id_orders")),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_measurements")),
    )
    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("pharmacist_id", sa.Integer(), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=False),
        sa.Column("prescribed_text", sa.Text(), nullable=True),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_verifications_order_id_orders")),
        sa.ForeignKeyConstraint(["pharmacist_id"], ["users.id"], name=op.f("fk_verifications_pharmacist_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
        sa.UniqueConstraint("order_id", name=op.f("uq_verifications_order_id")),
    )


def downgrade() -> None:
    op.drop_table("verifications")
    op.drop_table("measurements")
    op.drop_index("ix_exposures_order_id", "exposures")
    op.drop_table("exposures")
    op.drop_index("ix_acknowledgements_order_id", "acknowledgements")
    op.drop_table("acknowledgements")
    op.drop_index("ix_orders_patient_id_state", "orders")
    op.drop_table("orders")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("patients")
    op.drop_index("ix_audit_events_order_id", "audit_events")
    op.drop_table("audit_events")
