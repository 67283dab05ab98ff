"""SQLAlchemy Core tables of the AML reports (migration 0003), on the store's shared metadata.

Kept free of `aml` imports: `smsc.store.sql` imports this module so that the metadata Alembic
compares against always holds these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from smsc.store.tables import UtcDateTime, metadata

__all__ = ["aml_attempts", "aml_reports"]

_ID = BigInteger().with_variant(Integer(), "sqlite")

aml_reports = Table(
    "aml_reports",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("sender_msisdn", String(), nullable=False),
    Column("destination", String(), nullable=False),
    Column("raw_text", Text, nullable=False),
    Column("parsed_json", Text, nullable=False),
    Column("route_name", String(), nullable=False),
    Column("format", String(32), nullable=False),
    Column("url", String(), nullable=False),
    Column("roaming_status", String(), nullable=True),
    Column("visited_plmn", String(), nullable=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_http_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Index("ix_aml_reports_state_next_attempt_at", "state", "next_attempt_at"),
    Index("ix_aml_reports_state_received_at", "state", "received_at"),
)
"""One row per AML report (or emergency text) for a PSAP; never deleted by the service."""

aml_attempts = Table(
    "aml_attempts",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column(
        "report_id",
        _ID,
        ForeignKey("aml_reports.id", ondelete="CASCADE", name="fk_aml_attempts_report_id"),
        nullable=False,
    ),
    Column("at", UtcDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_aml_attempts_report_id", "report_id", "id"),
)
"""Every POST to a PSAP and its outcome."""
