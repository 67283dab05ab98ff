"""The duplicate keys of stored MO, unique: a re-sent MO is stored once, across restarts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `mo_duplicate_keys` (key primary key, window end indexed for the purge)."""
    op.create_table(
        "mo_duplicate_keys",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mo_duplicate_keys_until", "mo_duplicate_keys", ["until"])


def downgrade() -> None:
    op.drop_index("ix_mo_duplicate_keys_until", table_name="mo_duplicate_keys")
    op.drop_table("mo_duplicate_keys")
