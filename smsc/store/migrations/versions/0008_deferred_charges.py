"""Deferred charging: CCRs no OCS answered, kept and replayed until one does.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `deferred_charges` with the claim's and the monitor's indexes."""
    op.create_table(
        "deferred_charges",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("submission_id", sa.String(), nullable=False),
        sa.Column("session_id", sa.String(), nullable=False),
        sa.Column("originator", sa.String(), nullable=False),
        sa.Column("ccr", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_result_code", sa.Integer(), nullable=True),
        sa.Column("last_reason", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_deferred_charges_state_next_attempt_at",
        "deferred_charges",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        "ix_deferred_charges_state_created_at", "deferred_charges", ["state", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_deferred_charges_state_created_at", table_name="deferred_charges")
    op.drop_index("ix_deferred_charges_state_next_attempt_at", table_name="deferred_charges")
    op.drop_table("deferred_charges")
