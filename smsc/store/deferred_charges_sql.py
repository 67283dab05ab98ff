"""The deferred CCRs (`deferred_charges`, migration 0008) on the message store's connections.

Low rate (only while no OCS answers): every operation is one short statement or transaction
of its own. Claims take a lease (smsc.store.lease_claims: FOR UPDATE SKIP LOCKED on
PostgreSQL), so several processes or instances never send the same CCR at once, and a dead
sender's CCRs come back when its lease runs out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from smsc.service.model import (
    ChargingRecord,
    DeferredCharge,
    DeferredChargeCounts,
    DeferredChargeState,
    StoredDeferredCharge,
)
from smsc.store.lease_claims import lease_claim
from smsc.store.tables import (
    UtcDateTime,
    charging_records,
    charging_row,
    clean_text,
    deferred_charge_from_row,
    deferred_charge_row,
    deferred_charges,
    to_utc,
)

__all__ = [
    "add_deferred",
    "claim_deferred",
    "count_deferred",
    "make_deferred_due",
    "record_deferred",
]

_table = deferred_charges
_PENDING = DeferredChargeState.PENDING.value
_SENDING = DeferredChargeState.SENDING.value
_UNSETTLED = (_PENDING, _SENDING)

_INSERT = insert(_table).returning(_table.c.id)
_CLAIM = lease_claim(_table, pending=_PENDING, delivering=_SENDING)


def _record(*, from_states: tuple[str, ...]) -> Update:
    """UPDATE one CCR with an attempt's outcome, if it is in one of `from_states`."""
    return (
        update(_table)
        .where(_table.c.id == bindparam("b_id"), _table.c.state.in_(from_states))
        .values(
            state=bindparam("b_state"),
            attempts=_table.c.attempts + 1,
            next_attempt_at=bindparam("b_next", type_=UtcDateTime()),
            lease_until=None,
            updated_at=bindparam("b_at", type_=UtcDateTime()),
            last_result_code=bindparam("b_code"),
            last_reason=bindparam("b_reason"),
            done_at=bindparam("b_done", type_=UtcDateTime()),
        )
    )


_RETRY = _record(from_states=(_SENDING,))
_SETTLE = _record(from_states=_UNSETTLED)
"""A final outcome is kept even after the lease ran out (and the CCR went back to pending):
an answer from the OCS is worth more than the retry another claimer may have scheduled."""
_COUNTS = select(_table.c.state, func.count()).group_by(_table.c.state)
_OLDEST = select(func.min(_table.c.created_at)).where(_table.c.state.in_(_UNSETTLED))


def _make_due() -> Update:
    """UPDATE every pending CCR due later than b_now to due at b_now.

    The candidates are a locking CTE (FOR UPDATE SKIP LOCKED on PostgreSQL, as in the claim):
    a row another transaction holds is skipped, not waited for, so the wakes of several
    instances (one OCS back for all) neither wait on nor deadlock with each other; whichever
    holds the row makes it due.
    """
    now = bindparam("b_now", type_=UtcDateTime())

    def later(rows: Any) -> Any:
        return and_(rows.c.state == _PENDING, rows.c.next_attempt_at > now)

    candidate = _table.alias("candidate")
    candidates = (
        select(candidate.c.id)
        .where(later(candidate))
        .with_for_update(skip_locked=True)
        .cte("candidates")
    )
    return (
        update(_table)
        .where(_table.c.id.in_(select(candidates.c.id)), later(_table))
        .values(next_attempt_at=now, updated_at=now)
        .returning(_table.c.id)
    )


_MAKE_DUE = _make_due()


async def add_deferred(conn: AsyncConnection, charge: DeferredCharge) -> int:
    """Insert one deferred CCR; its id."""
    return int((await conn.execute(_INSERT, deferred_charge_row(charge))).scalar_one())


async def claim_deferred(
    conn: AsyncConnection, now: datetime, limit: int, lease_s: float
) -> list[StoredDeferredCharge]:
    """Move up to `limit` due CCRs to sending with a lease; oldest first."""
    if limit <= 0:
        return []
    now = to_utc(now)
    params = {"b_now": now, "b_limit": limit, "b_lease": now + timedelta(seconds=lease_s)}
    rows = (await conn.execute(_CLAIM, params)).mappings().all()
    return sorted((deferred_charge_from_row(row) for row in rows), key=lambda c: c.id)


async def make_deferred_due(conn: AsyncConnection, now: datetime) -> int:
    """Every pending CCR whose retry time is later than `now` due at `now`; how many."""
    # RETURNING, not rowcount: sqlite3 reports no rowcount for a statement starting with WITH
    return len((await conn.execute(_MAKE_DUE, {"b_now": to_utc(now)})).all())


async def record_deferred(
    conn: AsyncConnection,
    charge_id: int,
    *,
    at: datetime,
    state: DeferredChargeState,
    result_code: int | None,
    reason: str | None,
    next_attempt_at: datetime | None,
    record: ChargingRecord | None,
) -> bool:
    """One replay's outcome (see DeferredChargeStore.record_deferred_outcome); whether kept."""
    if state is DeferredChargeState.SENDING:
        raise ValueError("a replay ends pending or in a final state, not sending")
    at = to_utc(at)
    final = state.is_final
    params = {
        "b_id": charge_id,
        "b_state": state.value,
        "b_next": None if final or next_attempt_at is None else to_utc(next_attempt_at),
        "b_at": at,
        "b_code": result_code,
        "b_reason": None if reason is None else clean_text(reason),
        "b_done": at if final else None,
    }
    result = await conn.execute(_SETTLE if final else _RETRY, params)
    if not result.rowcount:
        return False
    if record is not None and final:
        await conn.execute(insert(charging_records), [charging_row(record)])
    return True


async def count_deferred(conn: AsyncConnection) -> DeferredChargeCounts:
    """CCRs per state (every state present) and the oldest unsettled one's created_at."""
    counts = dict.fromkeys(DeferredChargeState, 0)
    for state, count in await conn.execute(_COUNTS):
        counts[DeferredChargeState(state)] = int(count)
    oldest = (await conn.execute(_OLDEST)).scalar()
    return DeferredChargeCounts(counts, oldest)
