"""One loop timer that follows a sans-IO machine's next deadline (a peer, a session).

`follow(deadline)` after each batch of work keeps the timer armed when the deadline only moved
later (a watchdog restarted by every message): it then fires early, the machine finds nothing
due, and the next `follow` arms it again. So busy traffic costs no cancel and no new handle
per message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["DeadlineTimer"]


class DeadlineTimer:
    """Calls `on_fire` at (or, after a deadline moved later, before) the deadline followed."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_fire: Callable[[], None]) -> None:
        self._loop = loop
        self._on_fire = on_fire
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0

    def follow(self, deadline: float | None) -> None:
        """Be armed for `deadline` (loop time), or not at all for None."""
        handle = self._handle
        if handle is not None:
            if deadline is not None and self._at <= deadline:
                return
            handle.cancel()
            self._handle = None
        if deadline is not None:
            self._handle = self._loop.call_at(deadline, self._fire)
            self._at = deadline

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._on_fire()
