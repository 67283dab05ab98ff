"""SQLAlchemy Core table of the outbox (migration 0006), on the store's shared metadata."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from smsc.store.tables import UtcDateTime, metadata

__all__ = ["outbox_jobs"]

_ID = BigInteger().with_variant(Integer(), "sqlite")

outbox_jobs = Table(
    "outbox_jobs",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("target", String(), nullable=False),
    Column("url", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("content_type", String(), nullable=False),
    Column("timeout_ms", Integer, nullable=False),
    Column("verify_tls", Boolean, nullable=False),
    Column("dedupe_key", String(), nullable=True, unique=True),
    Column("group_key", String(), nullable=True),
    Column("group_size", Integer, nullable=False),
    Column("group_part", Integer, nullable=False),
    Column("reference", String(), nullable=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_http_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Index("ix_outbox_jobs_state_next_attempt_at", "state", "next_attempt_at"),
    Index("ix_outbox_jobs_state_created_at", "state", "created_at"),
    Index("ix_outbox_jobs_group_key", "group_key"),
)
"""One row per HTTP delivery but AML's (applications' MO, delivery reports); kept after
delivery, like messages."""
