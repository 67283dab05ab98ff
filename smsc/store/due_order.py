"""The order in which recipients with a due head are served: priority heads first."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["priority_first"]


def priority_first(priority: list[str], others: Iterable[str], limit: int) -> list[str]:
    """At most `limit` recipients: those whose head is a priority SMS (oldest head first), then
    the others in their order, each once."""
    found = priority[:limit]
    seen = set(found)
    for recipient in others:
        if len(found) >= limit:
            break
        if recipient not in seen:
            seen.add(recipient)
            found.append(recipient)
    return found
