"""GroupCommitter.submit_nowait: futures instead of coroutines, same batching and dropping."""

from __future__ import annotations

import asyncio

from smsc.store.batching import GroupCommitter


async def test_submit_nowait_futures_share_a_batch_and_cancelled_ones_are_dropped() -> None:
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        batches.append(items)
        return [item * 10 for item in items]

    committer = GroupCommitter[int, int](flush, max_items=100, delay_s=0.01)
    futures = [committer.submit_nowait(i) for i in range(5)]
    futures[2].cancel()
    assert await asyncio.gather(*futures[:2], *futures[3:]) == [0, 10, 30, 40]
    assert await committer.submit(7) == 70
    await committer.close()
    assert batches == [[0, 1, 3, 4], [7]]
