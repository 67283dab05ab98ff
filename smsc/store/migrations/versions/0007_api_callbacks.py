"""Delivery report callbacks of API submissions: callback_url and client_ref on messages.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


_COLUMNS = ("callback_url", "client_ref")


def upgrade() -> None:
    """Two nullable columns (existing rows have no callback)."""
    op.add_column("messages", sa.Column("callback_url", sa.Text(), nullable=True))
    op.add_column("messages", sa.Column("client_ref", sa.String(), nullable=True))


def downgrade() -> None:
    """Plain ALTER TABLE DROP COLUMN, not batch mode: on SQLite that recreates `messages`, and
    dropping the old table with foreign keys on would cascade-delete every attempt."""
    for name in reversed(_COLUMNS):
        op.drop_column("messages", name)
