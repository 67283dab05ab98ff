"""Ro charging: the roaming verdict kept with each message, and the charging records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)
_MESSAGE_COLUMNS = ("roaming_status", "visited_plmn")


def upgrade() -> None:
    """Add the nullable roaming columns to `messages`; create `charging_records`."""
    for name in _MESSAGE_COLUMNS:
        op.add_column("messages", sa.Column(name, sa.String(), nullable=True))
    op.create_table(
        "charging_records",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.String(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("originator", sa.String(), nullable=False),
        sa.Column("session_id", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("result_code", sa.Integer(), nullable=True),
        sa.Column("units", sa.Integer(), nullable=True),
        sa.Column("granted_units", sa.Integer(), nullable=True),
        sa.Column("roaming_status", sa.String(), nullable=True),
        sa.Column("visited_plmn", sa.String(), nullable=True),
        sa.Column("peer", sa.String(), nullable=True),
        sa.Column("retransmitted", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("rp_cause", sa.Integer(), nullable=True),
    )
    op.create_index(
        "ix_charging_records_submission_id", "charging_records", ["submission_id", "at", "id"]
    )


def downgrade() -> None:
    """Drop `charging_records` and the roaming columns (plain ALTER TABLE DROP COLUMN).

    Not batch mode: on SQLite that recreates `messages`, and dropping the old table with foreign
    keys on would cascade-delete every attempt.
    """
    op.drop_index("ix_charging_records_submission_id", table_name="charging_records")
    op.drop_table("charging_records")
    for name in reversed(_MESSAGE_COLUMNS):
        op.drop_column("messages", name)
