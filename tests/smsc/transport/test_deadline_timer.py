"""DeadlineTimer: fires at the deadline followed; a later deadline keeps the armed timer (it
fires early and the owner re-follows), an earlier one re-arms, None disarms."""

from __future__ import annotations

import asyncio

from smsc.transport.deadline_timer import DeadlineTimer


async def test_it_fires_at_the_deadline_and_an_earlier_one_re_arms() -> None:
    loop = asyncio.get_running_loop()
    fired: list[float] = []
    timer = DeadlineTimer(loop, lambda: fired.append(loop.time()))
    start = loop.time()
    timer.follow(start + 0.5)
    timer.follow(start + 0.05)  # earlier: re-armed
    await asyncio.sleep(0.2)
    assert len(fired) == 1 and fired[0] - start < 0.4


async def test_a_later_deadline_keeps_the_armed_timer_and_none_disarms() -> None:
    loop = asyncio.get_running_loop()
    fired: list[float] = []
    timer = DeadlineTimer(loop, lambda: fired.append(loop.time()))
    start = loop.time()
    timer.follow(start + 0.05)
    timer.follow(start + 5.0)  # later: the armed one stays and fires early
    await asyncio.sleep(0.2)
    assert len(fired) == 1 and fired[0] - start < 0.2
    timer.follow(loop.time() + 0.05)
    timer.follow(None)
    await asyncio.sleep(0.15)
    assert len(fired) == 1
    timer.follow(loop.time() + 0.05)
    timer.cancel()
    await asyncio.sleep(0.15)
    assert len(fired) == 1
