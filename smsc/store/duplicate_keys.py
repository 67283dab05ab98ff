"""The duplicate keys of a batch: which to take, and which messages the taken ones let in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

__all__ = ["PURGE_EVERY_S", "first_windows", "rows_to_insert"]

T = TypeVar("T")

PURGE_EVERY_S = 30.0
"""How often a writer deletes the duplicate keys whose window has ended."""


def first_windows(entries: Iterable[tuple[str, T] | None]) -> dict[str, T]:
    """Each key of the batch once, with the window end of its first message."""
    wanted: dict[str, T] = {}
    for entry in entries:
        if entry is not None:
            wanted.setdefault(entry[0], entry[1])
    return wanted


def rows_to_insert(keys: Iterable[str | None], taken: Iterable[str]) -> list[bool]:
    """Per message: True without a key, or for the first message of a key the batch took;
    a later copy of it in the same batch, or a message whose key is held, is a duplicate."""
    free = set(taken)
    kept: list[bool] = []
    for key in keys:
        if key is None:
            kept.append(True)
        elif key in free:
            free.discard(key)
            kept.append(True)
        else:
            kept.append(False)
    return kept
