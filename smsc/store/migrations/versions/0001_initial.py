"""Initial schema: messages and their delivery attempts.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create `messages` and `attempts` with the indexes of the hot queries."""
    op.create_table(
        "messages",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.String(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("originator", sa.String(), nullable=False),
        sa.Column("originator_ton", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("submit_tpdu", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("segment", sa.Integer(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("status_report", sa.Boolean(), nullable=False),
        sa.Column("rp_mr", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("call_id", sa.String(), nullable=True),
        sa.Column("tp_mr", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_sip_status", sa.Integer(), nullable=True),
        sa.Column("last_rp_cause", sa.Integer(), nullable=True),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
    )
    op.create_index("ix_messages_state_next_attempt_at", "messages", ["state", "next_attempt_at"])
    op.create_index("ix_messages_recipient_state_id", "messages", ["recipient", "state", "id"])
    op.create_index("ix_messages_submission_id", "messages", ["submission_id"])
    op.create_table(
        "attempts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column(
            "message_id",
            _ID,
            sa.ForeignKey("messages.id", ondelete="CASCADE", name="fk_attempts_message_id"),
            nullable=False,
        ),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("sip_status", sa.Integer(), nullable=True),
        sa.Column("rp_cause", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
    )
    op.create_index("ix_attempts_message_id", "attempts", ["message_id", "id"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("attempts")
    op.drop_table("messages")
