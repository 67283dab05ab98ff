"""The outbox: every HTTP delivery but AML's (applications' MO, delivery reports).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `outbox_jobs` with the claim's, the monitor's and the groups' indexes."""
    op.create_table(
        "outbox_jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("timeout_ms", sa.Integer(), nullable=False),
        sa.Column("verify_tls", sa.Boolean(), nullable=False),
        sa.Column("dedupe_key", sa.String(), nullable=True, unique=True),
        sa.Column("group_key", sa.String(), nullable=True),
        sa.Column("group_size", sa.Integer(), nullable=False),
        sa.Column("group_part", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_http_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_outbox_jobs_state_next_attempt_at", "outbox_jobs", ["state", "next_attempt_at"]
    )
    op.create_index("ix_outbox_jobs_state_created_at", "outbox_jobs", ["state", "created_at"])
    op.create_index("ix_outbox_jobs_group_key", "outbox_jobs", ["group_key"])


def downgrade() -> None:
    op.drop_index("ix_outbox_jobs_group_key", table_name="outbox_jobs")
    op.drop_index("ix_outbox_jobs_state_created_at", table_name="outbox_jobs")
    op.drop_index("ix_outbox_jobs_state_next_attempt_at", table_name="outbox_jobs")
    op.drop_table("outbox_jobs")
