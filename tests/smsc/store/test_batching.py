"""The write-behind group committer: grouping, failure propagation, cancellation, close."""

from __future__ import annotations

import asyncio

import pytest

from smsc.store.batching import GroupCommitter
from smsc.store.errors import StoreClosedError


class Recorder:
    """A flush function that records its batches and answers each item doubled."""

    def __init__(self, *, fail: Exception | None = None, pause: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail
        self.pause = pause

    async def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        if self.pause:
            await asyncio.sleep(self.pause)
        if self.fail is not None:
            raise self.fail
        return [item * 2 for item in items]


async def test_concurrent_submits_share_few_flushes_and_keep_order() -> None:
    recorder = Recorder()
    batcher = GroupCommitter(recorder, max_items=100, delay_s=0.005)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(1_000)))
    assert results == [i * 2 for i in range(1_000)]
    assert batcher.flushes == len(recorder.batches) == 10
    assert [item for batch in recorder.batches for item in batch] == list(range(1_000))
    assert batcher.items_flushed == 1_000
    assert batcher.largest_batch == 100
    await batcher.close()


async def test_a_lone_item_waits_at_most_about_the_delay() -> None:
    batcher = GroupCommitter(Recorder(), max_items=500, delay_s=0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await batcher.submit(21) == 42
    assert loop.time() - started < 1.0
    assert batcher.flushes == 1
    await batcher.close()


async def test_items_queued_during_a_flush_form_the_next_batch() -> None:
    recorder = Recorder(pause=0.02)
    batcher = GroupCommitter(recorder, max_items=500, delay_s=0.0)
    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0.005)  # the first flush is now in progress
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(2, 50)]
    await asyncio.gather(first, *rest)
    assert recorder.batches == [[1], list(range(2, 50))]
    await batcher.close()


async def test_a_failed_flush_fails_every_caller_of_that_batch_only() -> None:
    recorder = Recorder(fail=OSError("disk on fire"))
    batcher = GroupCommitter(recorder, max_items=10, delay_s=0.005)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(10)), return_exceptions=True)
    assert all(isinstance(r, OSError) and str(r) == "disk on fire" for r in results)
    assert batcher.flushes == 1
    recorder.fail = None
    assert await batcher.submit(5) == 10
    await batcher.close()


async def test_per_item_exceptions_reach_only_their_caller() -> None:
    async def flush(items: list[int]) -> list[int | BaseException]:
        return [KeyError(i) if i % 2 else i for i in items]

    batcher = GroupCommitter(flush, max_items=10, delay_s=0.005)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(4)), return_exceptions=True)
    assert results[0] == 0 and results[2] == 2
    assert isinstance(results[1], KeyError) and isinstance(results[3], KeyError)
    await batcher.close()


async def test_wrong_number_of_results_fails_the_batch() -> None:
    async def flush(items: list[int]) -> list[int | BaseException]:
        return []

    batcher = GroupCommitter(flush, delay_s=0.0)
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await batcher.submit(1)
    await batcher.close()


async def test_a_caller_cancelled_before_its_batch_is_taken_is_not_written() -> None:
    recorder = Recorder()
    batcher = GroupCommitter(recorder, max_items=10, delay_s=0.05)
    doomed = asyncio.ensure_future(batcher.submit(1))
    kept = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0)
    doomed.cancel()
    assert await kept == 4
    assert recorder.batches == [[2]]
    await batcher.close()


async def test_close_flushes_pending_items_then_refuses_new_ones() -> None:
    recorder = Recorder()
    batcher = GroupCommitter(recorder, max_items=10, delay_s=10.0)
    pending = [asyncio.ensure_future(batcher.submit(i)) for i in range(3)]
    await asyncio.sleep(0)
    await batcher.close()
    assert [p.result() for p in pending] == [0, 2, 4]
    with pytest.raises(StoreClosedError):
        await batcher.submit(9)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_items"):
        GroupCommitter(Recorder(), max_items=0)
    with pytest.raises(ValueError, match="delay_s"):
        GroupCommitter(Recorder(), delay_s=-1)
