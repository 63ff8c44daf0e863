"""The archive's first tables: chargers, charging sessions and their meter values.

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-02 04:01:18.632697
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chargers",
        sa.Column("charger_id", sa.String(length=255), nullable=False),
        sa.Column("vendor", sa.String(length=20), nullable=True),
        sa.Column("model", sa.String(length=20), nullable=True),
        sa.Column("serial_number", sa.String(length=25), nullable=True),
        sa.Column("firmware_version", sa.String(length=50), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("charger_id"),
    )
    op.create_table(
        "charging_sessions",
        sa.Column("transaction_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("charger_id", sa.String(length=255), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=True),
        sa.Column("id_tag_status", sa.String(length=20), nullable=True),
        sa.Column("stop_id_tag", sa.String(length=20), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("reservation_status", sa.String(length=20), nullable=True),
        sa.Column("meter_start", sa.BigInteger(), nullable=True),
        sa.Column("meter_stop", sa.BigInteger(), nullable=True),
        sa.Column("energy_wh", sa.BigInteger(), nullable=True),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("stop_reason", sa.String(length=30), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("firmware_version", sa.String(length=50), nullable=True),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charger_id"],
            ["chargers.charger_id"],
        ),
        sa.PrimaryKeyConstraint("transaction_id"),
    )
    op.create_index("ix_charging_sessions_charger", "charging_sessions", ["charger_id", "transaction_id"])
    op.create_index("ix_charging_sessions_id_tag", "charging_sessions", ["id_tag", "transaction_id"])
    op.create_index("ix_charging_sessions_start_time", "charging_sessions", ["start_time"])
    op.create_index("ix_charging_sessions_stop_time", "charging_sessions", ["stop_time"])

    op.create_table(
        "meter_values",
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("context", sa.String(length=40), nullable=True),
        sa.Column("format", sa.String(length=20), nullable=True),
        sa.Column("measurand", sa.String(length=60), nullable=True),
        sa.Column("phase", sa.String(length=10), nullable=True),
        sa.Column("location", sa.String(length=20), nullable=True),
        sa.Column("unit", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["transaction_id"], ["charging_sessions.transaction_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("transaction_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("meter_values")
    op.drop_table("charging_sessions")
    op.drop_table("chargers")
