"""A worker process's side of `sip.workers`: its channel to the main process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from smsc.workers.channel import Channel
from smsc.workers.frames import (
    Charging,
    Datagram,
    Frame,
    FrameKind,
    MetricsSnapshot,
    Ready,
    Wake,
    encode,
    encode_datagram,
)
from smsc.workers.remote_charger import RemoteCharger

log = logging.getLogger(__name__)

METRICS_INTERVAL_S = 1.0
"""How often a worker sends its metric samples to the main process."""


@dataclass(frozen=True, slots=True)
class WorkerRole:
    """What makes a process worker ``index`` of ``processes``: the channel's file descriptor."""

    index: int
    processes: int
    channel_fd: int

    @classmethod
    def parse(cls, text: str) -> WorkerRole:
        """INDEX:PROCESSES:FD, as the main process passes it."""
        index, processes, fd = (int(part) for part in text.split(":"))
        if not 0 < index < processes or fd < 0:
            raise ValueError(f"not a worker role: {text}")
        return cls(index, processes, fd)


class WorkerLink:
    """Frames to and from the main process; ``closed`` says the main process is gone."""

    def __init__(
        self,
        role: WorkerRole,
        *,
        on_datagram: Callable[[bytes, tuple[str, int]], None],
        snapshot: Callable[[], object],
        charger: RemoteCharger | None = None,
    ) -> None:
        self.role = role
        self._on_datagram = on_datagram
        self._snapshot = snapshot
        self._charger = charger
        self.closed = asyncio.Event()
        sock = socket.socket(fileno=role.channel_fd)
        self._channel = Channel(sock, self._frame, on_closed=self._closed)
        if charger is not None:
            charger.attach(self._send_charging)
        self._metrics: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Serve: read frames, tell the main process, send metrics every second."""
        self._channel.start()
        self._channel.send(encode(Ready()))
        self._metrics = asyncio.get_running_loop().create_task(self._send_metrics())

    def forward(self, data: bytes, source: tuple[str, int]) -> None:
        """A SIP datagram for the main process to handle (or pass to its owner)."""
        self._channel.send(encode_datagram(source, data))

    def wake(self, recipient: str) -> None:
        """MO stored for ``recipient``: the main process's MT loop looks now."""
        self._channel.send(encode(Wake(recipient)))

    def _send_charging(self, kind: FrameKind, body: bytes) -> bool:
        return self._channel.send(encode(Charging(kind, body)))

    def _closed(self) -> None:
        self.closed.set()
        if self._charger is not None:
            self._charger.channel_closed()

    def _frame(self, frame: Frame) -> None:
        if isinstance(frame, Datagram):
            self._on_datagram(frame.data, frame.source)
        elif (
            isinstance(frame, Charging)
            and frame.kind is FrameKind.CHARGED
            and self._charger is not None
        ):
            self._charger.answered(frame.body)
        else:
            log.warning("worker %d: unexpected %s from the main process", self.role.index, frame)

    async def _send_metrics(self) -> None:
        while True:
            await asyncio.sleep(METRICS_INTERVAL_S)
            self._channel.send(encode(MetricsSnapshot(self._snapshot())))

    async def stop(self) -> None:
        """The last metrics, then close."""
        if self._metrics is not None:
            self._metrics.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._metrics
        if not self._channel.closed:
            self._channel.send(encode(MetricsSnapshot(self._snapshot())))
            self._channel.close()
