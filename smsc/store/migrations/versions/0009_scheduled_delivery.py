"""Scheduled delivery and priority: the time a message is not delivered before, and its
priority (SMPP priority_flag), kept with it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


_PRIORITY_INDEX = "ix_messages_priority_state_id"
_PRIORITY = sa.text("priority > 0")


def upgrade() -> None:
    """Add the nullable `deliver_at` to `messages` (a scheduled message's state is the text
    'scheduled' in the existing state column; the state / next_attempt_at index finds it),
    and `priority` (0 for the rows there) with a partial index of the priority messages."""
    op.add_column("messages", sa.Column("deliver_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "messages",
        sa.Column("priority", sa.SmallInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.create_index(
        _PRIORITY_INDEX,
        "messages",
        ["state", "id"],
        sqlite_where=_PRIORITY,
        postgresql_where=_PRIORITY,
    )


def downgrade() -> None:
    """Drop `priority` and `deliver_at` (plain ALTER TABLE DROP COLUMN, as 0002 explains);
    scheduled messages become queued, due at their time, which the older code delivers in id
    order."""
    op.drop_index(_PRIORITY_INDEX, table_name="messages")
    op.execute("UPDATE messages SET state = 'queued' WHERE state = 'scheduled'")
    op.drop_column("messages", "priority")
    op.drop_column("messages", "deliver_at")
