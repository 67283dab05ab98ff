"""The outbox's jobs of some kinds only, as one delivery engine's queue: the HTTP engine gets
`OutboxView(store, HTTP_KINDS)` and never claims a job that goes out over SMPP."""

from __future__ import annotations

from datetime import datetime

from smsc.outbox.jobs import OutboxKind, StoredOutboxJob
from smsc.service.ports import OutboxStore

__all__ = ["OutboxView"]


class OutboxView:
    """DeliveryQueue[StoredOutboxJob] of the jobs of `kinds` in `store`: claims, the oldest
    pending age and the overdue ids see those kinds only; attempts and the requeue go to the
    store as they are (a job id is the store's, whatever its kind)."""

    def __init__(self, store: OutboxStore, kinds: frozenset[OutboxKind]) -> None:
        self.store = store
        self.kinds = kinds

    async def claim_due(
        self, now: datetime, limit: int, *, lease_s: float
    ) -> list[StoredOutboxJob]:
        return await self.store.claim_due(now, limit, lease_s=lease_s, kinds=self.kinds)

    async def record_attempt(
        self,
        job_id: int,
        at: datetime,
        ok: bool,
        *,
        http_status: int | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        await self.store.record_attempt(
            job_id,
            at,
            ok,
            http_status=http_status,
            error=error,
            next_attempt_at=next_attempt_at,
        )

    async def requeue_delivering(self) -> int:
        """The store's requeue, of every kind (the store has no filter for it): run it before
        another sender claims jobs of other kinds, as the engine's start does."""
        return await self.store.requeue_delivering()

    async def oldest_pending_age(self, now: datetime) -> float | None:
        return await self.store.oldest_pending_age(now, kinds=self.kinds)

    async def overdue(self, received_before: datetime, limit: int) -> list[int]:
        return await self.store.overdue(received_before, limit, kinds=self.kinds)
