"""Grouped writes that reference rows by id: one bad id must fail only its own caller."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from smsc.store.errors import StoreUnavailable

T = TypeVar("T")


def _is_unknown_id(exc: StoreUnavailable) -> bool:
    """Whether a constraint refused the write: SQLAlchemy's error, or the stdlib's from the
    SQLite writer thread (sqlite_writer.py)."""
    return isinstance(exc.__cause__, IntegrityError | sqlite3.IntegrityError)


async def write_isolating_unknown_ids(
    batch: list[T],
    write: Callable[[list[T]], Awaitable[None]],
    unknown: Callable[[T], BaseException],
) -> list[BaseException | None]:
    """One transaction for the batch; if a foreign key refuses an id, each item on its own.

    Returns one entry per item: None when written, else the error for that caller.
    """
    try:
        await write(batch)
    except StoreUnavailable as exc:
        if not _is_unknown_id(exc):
            raise
        if len(batch) == 1:
            return [unknown(batch[0])]
        results: list[BaseException | None] = []
        for item in batch:
            try:
                await write([item])
            except StoreUnavailable as alone:
                results.append(unknown(item) if _is_unknown_id(alone) else alone)
            else:
                results.append(None)
        return results
    return [None] * len(batch)
