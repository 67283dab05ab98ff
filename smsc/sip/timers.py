"""RFC 3261 §17.1.2.2 / §17.2.2 timers as FIFO queues, one per duration, instead of a heap.

A non-INVITE transaction's timers run for a few fixed durations only (Timer E: T1, 2·T1, ...
up to T2; Timer F and J: 64·T1; Timer K: T4). Entries armed for one duration expire in the
order they were armed, so a deque per duration is kept in deadline order by appending, and
the earliest deadline is the smallest of a few queue heads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from operator import itemgetter
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class TimerQueues(Generic[T]):
    """Deadlines with their owners, one FIFO per duration; stale entries are the owner's to
    recognise (an owner re-armed or finished leaves its old entry behind, never removed)."""

    __slots__ = ("_queues",)

    def __init__(self) -> None:
        self._queues: dict[Hashable, deque[tuple[float, T]]] = {}

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def arm(self, queue_key: Hashable, deadline: float, owner: T) -> None:
        """Queue `owner` to be due at `deadline`. Entries of one `queue_key` (a duration, or a
        name) are armed at the same distance before their deadline."""
        queue = self._queues.get(queue_key)
        if queue is None:
            queue = self._queues[queue_key] = deque()
        arm_in_order(queue, deadline, owner)

    def pop_due(self, now: float) -> list[tuple[float, T]]:
        """Every entry due at `now`, earliest first, taken out of the queues."""
        due: list[tuple[float, T]] = []
        sources = 0
        for queue in self._queues.values():
            if queue and queue[0][0] <= now:
                sources += 1
                while queue and queue[0][0] <= now:
                    due.append(queue.popleft())
        if sources > 1:  # each queue's run is in order already
            due.sort(key=_DEADLINE)
        return due

    def earliest(self, live: Callable[[float, T], bool]) -> float | None:
        """The earliest deadline of a live entry; dead heads (per `live`) are dropped."""
        earliest: float | None = None
        for queue in self._queues.values():
            while queue and not live(*queue[0]):
                queue.popleft()
            if queue and (earliest is None or queue[0][0] < earliest):
                earliest = queue[0][0]
        return earliest


class FifoTimer(Generic[T]):
    """The deadlines of one fixed duration (a server transaction's Timer J, a client one's
    Timer K), in the order armed; the endpoint reads `entries` from the front."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: deque[tuple[float, T]] = deque()

    def __len__(self) -> int:
        return len(self.entries)

    def arm(self, deadline: float, owner: T) -> None:
        """Queue `owner` to be due at `deadline`."""
        entries = self.entries
        if entries and entries[-1][0] > deadline:
            arm_in_order(entries, deadline, owner)
        else:
            entries.append((deadline, owner))


def arm_in_order(queue: deque[tuple[float, T]], deadline: float, owner: T) -> None:
    """Append (deadline, owner); a clock that went back inserts it where the order holds."""
    if queue and queue[-1][0] > deadline:
        index = len(queue)
        while index and queue[index - 1][0] > deadline:
            index -= 1
        queue.insert(index, (deadline, owner))
        return
    queue.append((deadline, owner))


class Deadlined(Protocol):
    """An owner that carries its own deadline (None once its timer is stopped)."""

    @property
    def deadline(self) -> float | None: ...


D = TypeVar("D", bound=Deadlined)


class CompletedFifo(Generic[D]):
    """Owners armed once at a fixed distance before their own `deadline`, which stays put
    while they are queued (a transaction's Timer J or K, armed at its final response): the
    queue holds the owners alone, no (deadline, owner) pair each, since it holds the most
    (32 s of Completed server transactions at the MO rate). An owner whose deadline became
    None is dead and is dropped from the front."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: deque[D] = deque()

    def __len__(self) -> int:
        return len(self.entries)

    def arm(self, owner: D) -> None:
        """Queue `owner`, due at its deadline."""
        entries = self.entries
        deadline = owner.deadline
        assert deadline is not None
        last = entries[-1].deadline if entries else None
        if last is None or last <= deadline:
            entries.append(owner)
            return
        index = len(entries)  # a clock that went back: insert where the order holds
        while index:
            before = entries[index - 1].deadline
            if before is None or before <= deadline:
                break
            index -= 1
        entries.insert(index, owner)

    def pop_due(self, now: float) -> list[D]:
        """The live owners due at `now`, earliest first, taken out (dead ones dropped)."""
        entries = self.entries
        due: list[D] = []
        while entries:
            deadline = entries[0].deadline
            if deadline is not None and deadline > now:
                break
            owner = entries.popleft()
            if deadline is not None:
                due.append(owner)
        return due

    def earliest(self) -> float | None:
        """The deadline of the first live owner; dead ones in front are dropped."""
        entries = self.entries
        while entries:
            deadline = entries[0].deadline
            if deadline is not None:
                return deadline
            entries.popleft()
        return None


_DEADLINE = itemgetter(0)
