"""Write-behind group commit: concurrent callers share one transaction and await their result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from smsc.store.errors import StoreClosedError

__all__ = ["FlushFunction", "GroupCommitter"]

T = TypeVar("T")
R = TypeVar("R")

FlushFunction = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]
"""Writes a batch in one transaction; one result (or exception for that item) per item."""

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending(Generic[T, R]):
    item: T
    future: asyncio.Future[R]
    queued_at: float


class GroupCommitter(Generic[T, R]):
    """Collects items from concurrent `submit()` calls and flushes them in batches.

    One flusher task takes up to `max_items` queued items, or whatever is queued once the oldest
    has waited `delay_s`, and hands them to `flush` (one transaction). Each caller's future gets
    its result; if `flush` raises, every caller of that batch gets the exception. Items whose
    caller was cancelled before their batch was taken are dropped, never written.
    """

    def __init__(
        self,
        flush: FlushFunction[T, R],
        *,
        max_items: int = 500,
        delay_s: float = 0.002,
        name: str = "group-commit",
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        if delay_s < 0:
            raise ValueError("delay_s must not be negative")
        self._flush = flush
        self._max_items = max_items
        self._delay_s = delay_s
        self._name = name
        self._queue: deque[_Pending[T, R]] = deque()
        self._wakeup = asyncio.Event()
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.flushes = 0
        """Batches handed to `flush` (transactions attempted)."""
        self.items_flushed = 0
        """Items handed to `flush`."""
        self.largest_batch = 0

    @property
    def pending(self) -> int:
        """Items queued and not yet taken by a flush."""
        return len(self._queue)

    async def submit(self, item: T) -> R:
        """Queue `item` and wait until its batch is committed; returns its result."""
        return await self.submit_nowait(item)

    def submit_nowait(self, item: T) -> asyncio.Future[R]:
        """Queue `item`; the future settles once its batch is committed (no coroutine, no Task).

        Cancelling the future before its batch is taken drops the item, as with `submit`.
        """
        if self._closing:
            raise StoreClosedError(f"{self._name} is closed")
        task = self._task
        running = task is not None and not task.done()
        # the flusher's loop is the running one; asyncio.get_running_loop() costs a getpid()
        loop = task.get_loop() if task is not None and running else asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        queue = self._queue
        queue.append(_Pending(item, future, loop.time()))
        if len(queue) == 1:
            self._wakeup.set()
        if len(queue) >= self._max_items:
            self._full.set()
        if not running:
            self._task = loop.create_task(self._run(), name=self._name)
        return future

    async def close(self) -> None:
        """Flush everything queued, then stop the flusher; later submits raise StoreClosedError."""
        self._closing = True
        self._wakeup.set()
        self._full.set()
        if self._task is not None:
            await asyncio.shield(self._task)
            self._task = None

    async def _run(self) -> None:
        """The flusher: wait for items, let a batch form, flush it; repeat."""
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._let_batch_form()
            batch = self._take_batch()
            if batch:
                await self._flush_batch(batch)

    async def _let_batch_form(self) -> None:
        """Wait until the batch is full or its oldest item has waited `delay_s`."""
        if self._delay_s <= 0 or self._closing or len(self._queue) >= self._max_items:
            return
        loop = asyncio.get_running_loop()
        remaining = self._queue[0].queued_at + self._delay_s - loop.time()
        if remaining <= 0:
            return
        self._full.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._full.wait(), remaining)

    def _take_batch(self) -> list[_Pending[T, R]]:
        """Up to `max_items` queued items whose callers still wait."""
        batch: list[_Pending[T, R]] = []
        while self._queue and len(batch) < self._max_items:
            pending = self._queue.popleft()
            if not pending.future.done():
                batch.append(pending)
        return batch

    async def _flush_batch(self, batch: list[_Pending[T, R]]) -> None:
        """Write one batch and settle its futures."""
        self.flushes += 1
        self.items_flushed += len(batch)
        self.largest_batch = max(self.largest_batch, len(batch))
        try:
            results = await self._flush([pending.item for pending in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self._name}: {len(results)} results for {len(batch)} items")
        except asyncio.CancelledError:
            closed = StoreClosedError(f"{self._name} was cancelled while flushing")
            for pending in batch:
                _settle(pending.future, closed)
            raise
        except Exception as exc:
            log.debug("%s: batch of %d failed: %r", self._name, len(batch), exc)
            for pending in batch:
                _settle(pending.future, exc)
            return
        for pending, result in zip(batch, results, strict=True):
            _settle(pending.future, result)


def _settle(future: asyncio.Future[R], result: R | BaseException) -> None:
    """Resolve a caller's future unless the caller has gone away."""
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
