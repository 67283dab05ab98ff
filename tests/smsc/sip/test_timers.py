"""Timer queues, one FIFO per duration: the same deadlines, in the same order, as a heap."""

from __future__ import annotations

import heapq

from hypothesis import given
from hypothesis import strategies as st

from smsc.sip.timers import CompletedFifo, FifoTimer, TimerQueues

DURATIONS = (0.5, 1.0, 2.0, 4.0, 5.0, 32.0)


def test_entries_of_several_durations_come_out_earliest_first() -> None:
    queues: TimerQueues[str] = TimerQueues()
    queues.arm(32.0, 32.0, "J")
    queues.arm(0.5, 0.5, "E1")
    queues.arm(0.5, 0.7, "E2")
    queues.arm(5.0, 5.2, "K")
    assert len(queues) == 4
    assert queues.earliest(lambda deadline, owner: True) == 0.5
    assert queues.pop_due(5.2) == [(0.5, "E1"), (0.7, "E2"), (5.2, "K")]
    assert queues.pop_due(31.9) == []
    assert queues.pop_due(32.0) == [(32.0, "J")]
    assert queues.earliest(lambda deadline, owner: True) is None


def test_dead_heads_are_dropped_when_the_earliest_is_asked() -> None:
    queues: TimerQueues[str] = TimerQueues()
    queues.arm(0.5, 0.5, "answered")
    queues.arm(0.5, 0.6, "waiting")
    assert queues.earliest(lambda deadline, owner: owner != "answered") == 0.6
    assert len(queues) == 1


def test_entries_of_one_name_keep_their_order() -> None:
    queues: TimerQueues[str] = TimerQueues()
    queues.arm("F after E", 32.0, "a")
    queues.arm("F after E", 32.2, "b")
    queues.arm(0.5, 0.6, "E")
    assert queues.earliest(lambda deadline, owner: True) == 0.6
    assert queues.pop_due(32.1) == [(0.6, "E"), (32.0, "a")]
    assert len(queues) == 1


def test_a_clock_that_goes_back_keeps_each_queue_in_order() -> None:
    queues: TimerQueues[str] = TimerQueues()
    queues.arm(1.0, 11.0, "late")
    queues.arm(1.0, 3.0, "early")
    queues.arm(1.0, 7.0, "middle")
    assert queues.pop_due(7.0) == [(3.0, "early"), (7.0, "middle")]
    assert queues.pop_due(20.0) == [(11.0, "late")]


@given(
    st.lists(
        st.tuples(st.floats(0, 5, allow_nan=False), st.sampled_from(DURATIONS)),
        max_size=60,
    ),
    st.lists(st.floats(0, 50, allow_nan=False), max_size=8),
)
def test_the_same_deadlines_as_a_heap(arms: list[tuple[float, float]], polls: list[float]) -> None:
    """Armed at non-decreasing times (as an event loop's clock), polled at any times."""
    queues: TimerQueues[int] = TimerQueues()
    heap: list[tuple[float, int]] = []
    now = 0.0
    for owner, (step, duration) in enumerate(arms):
        now += step
        queues.arm(duration, now + duration, owner)
        heapq.heappush(heap, (now + duration, owner))
    for at in sorted(polls):
        expected = []
        while heap and heap[0][0] <= at:
            expected.append(heapq.heappop(heap))
        got = queues.pop_due(at)
        assert [deadline for deadline, _ in got] == [deadline for deadline, _ in expected]
        assert sorted(got) == sorted(expected)
    assert queues.earliest(lambda deadline, owner: True) == (heap[0][0] if heap else None)


def test_a_fifo_timer_keeps_the_order_armed_and_one_that_goes_back() -> None:
    timer: FifoTimer[str] = FifoTimer()
    timer.arm(5.0, "a")
    timer.arm(5.5, "b")
    timer.arm(5.2, "clock went back")
    timer.arm(6.0, "c")
    assert len(timer) == 4
    assert list(timer.entries) == [(5.0, "a"), (5.2, "clock went back"), (5.5, "b"), (6.0, "c")]


class _Owner:
    def __init__(self, deadline: float) -> None:
        self.deadline: float | None = deadline


def test_a_completed_fifo_reads_each_owner_s_deadline_and_drops_the_dead() -> None:
    fifo: CompletedFifo[_Owner] = CompletedFifo()
    a, b, back, c = _Owner(5.0), _Owner(5.5), _Owner(5.2), _Owner(6.0)
    for owner in (a, b, back, c):
        fifo.arm(owner)
    assert list(fifo.entries) == [a, back, b, c]  # the clock went back: still in order
    assert fifo.earliest() == 5.0
    a.deadline = back.deadline = None  # stopped (fired, or a transport error)
    assert fifo.earliest() == 5.5 and len(fifo) == 2
    c.deadline = None
    fifo.arm(_Owner(5.7))  # behind a dead last entry: appended
    b.deadline = None
    assert fifo.earliest() == 5.7 and len(fifo) == 1


def test_a_completed_fifo_gives_the_live_owners_due_and_keeps_the_rest() -> None:
    fifo: CompletedFifo[_Owner] = CompletedFifo()
    a, stopped, b, later = _Owner(1.0), _Owner(1.5), _Owner(2.0), _Owner(9.0)
    for owner in (a, stopped, b, later):
        fifo.arm(owner)
    stopped.deadline = None
    assert fifo.pop_due(2.0) == [a, b]
    assert list(fifo.entries) == [later]
    assert fifo.pop_due(8.9) == []
