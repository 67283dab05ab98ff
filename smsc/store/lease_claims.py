"""The claim of rows POSTed by the HTTP delivery engine (AML reports, outbox jobs): due rows
move to delivering with a lease, oldest first, none claimed twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, and_, bindparam, or_, select, update

from smsc.store.tables import UtcDateTime

__all__ = ["lease_claim"]


def lease_claim(
    table: Table,
    *,
    pending: str,
    delivering: str,
    only: Callable[[Any], Any] | None = None,
) -> Any:
    """UPDATE the oldest due rows of `table` to `delivering` with a lease, RETURNING them.

    Due: `pending` with `next_attempt_at` reached (or none), or `delivering` with its
    `lease_until` passed (its claimer died). Parameters: b_now, b_limit, b_lease. The
    candidates are a locking CTE (FOR UPDATE SKIP LOCKED on PostgreSQL), not a plain
    IN (subquery): PostgreSQL may rescan a LIMIT ... SKIP LOCKED subquery and then update more
    rows than the limit; a locking CTE is evaluated exactly once.

    `only`, given the candidates' alias, makes an extra condition the candidates must meet
    (e.g. ``rows.c.kind.in_(bindparam("b_kinds", expanding=True))``); it must be on columns a
    claim never changes, as it is not checked again on the UPDATE.
    """
    now = bindparam("b_now", type_=UtcDateTime())

    def due(rows: Any) -> Any:
        pending_due = and_(
            rows.c.state == pending,
            or_(rows.c.next_attempt_at.is_(None), rows.c.next_attempt_at <= now),
        )
        lease_expired = and_(
            rows.c.state == delivering,
            or_(rows.c.lease_until.is_(None), rows.c.lease_until <= now),
        )
        return or_(pending_due, lease_expired)

    candidate = table.alias("candidate")
    wanted = due(candidate) if only is None else and_(due(candidate), only(candidate))
    candidates = (
        select(candidate.c.id)
        .where(wanted)
        .order_by(candidate.c.id)
        .limit(bindparam("b_limit"))
        .with_for_update(skip_locked=True)
        .cte("candidates")
    )
    return (
        update(table)
        .where(table.c.id.in_(select(candidates.c.id)), due(table))
        .values(
            state=delivering,
            lease_until=bindparam("b_lease", type_=UtcDateTime()),
            updated_at=now,
        )
        .returning(*table.c)
    )
