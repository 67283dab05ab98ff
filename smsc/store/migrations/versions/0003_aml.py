"""AML: the reports for PSAPs and every delivery attempt.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create `aml_reports` and `aml_attempts` (existing tables are untouched)."""
    op.create_table(
        "aml_reports",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("sender_msisdn", sa.String(), nullable=False),
        sa.Column("destination", sa.String(), nullable=False),
        sa.Column("raw_text", sa.Text(), nullable=False),
        sa.Column("parsed_json", sa.Text(), nullable=False),
        sa.Column("route_name", sa.String(), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("roaming_status", sa.String(), nullable=True),
        sa.Column("visited_plmn", sa.String(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_http_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
    )
    op.create_index(
        "ix_aml_reports_state_next_attempt_at", "aml_reports", ["state", "next_attempt_at"]
    )
    op.create_index("ix_aml_reports_state_received_at", "aml_reports", ["state", "received_at"])
    op.create_table(
        "aml_attempts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column(
            "report_id",
            _ID,
            sa.ForeignKey("aml_reports.id", ondelete="CASCADE", name="fk_aml_attempts_report_id"),
            nullable=False,
        ),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_aml_attempts_report_id", "aml_attempts", ["report_id", "id"])


def downgrade() -> None:
    """Drop the AML tables (their data is lost)."""
    op.drop_index("ix_aml_attempts_report_id", table_name="aml_attempts")
    op.drop_table("aml_attempts")
    op.drop_index("ix_aml_reports_state_received_at", table_name="aml_reports")
    op.drop_index("ix_aml_reports_state_next_attempt_at", table_name="aml_reports")
    op.drop_table("aml_reports")
