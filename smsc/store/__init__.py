"""Durable message store: SQLAlchemy tables and repository, Alembic migrations, in-memory twin."""

from __future__ import annotations

from smsc.store.errors import (
    MessageNotFoundError,
    StoreClosedError,
    StoreError,
    StoreUnavailable,
)
from smsc.store.memory import MemoryMessageStore
from smsc.store.migrate import upgrade, upgrade_sync
from smsc.store.sql import SqlMessageStore

__all__ = [
    "MemoryMessageStore",
    "MessageNotFoundError",
    "SqlMessageStore",
    "StoreClosedError",
    "StoreError",
    "StoreUnavailable",
    "upgrade",
    "upgrade_sync",
]
