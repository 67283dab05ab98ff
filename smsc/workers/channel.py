"""One end of the Unix SOCK_SEQPACKET socket pair between the main process and a worker, on the
event loop: frames in through a callback, frames out without waiting."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from smsc.workers.frames import Frame, FrameError, decode

log = logging.getLogger(__name__)

MAX_FRAME = 1 << 17
"""Larger than any SIP datagram (65,535) plus its address; a metrics snapshot fits too."""

BUFFER_BYTES = 4 << 20
"""Socket buffers: a burst of forwarded datagrams waits here, not in a dropped frame."""


class Channel:
    """Reads every frame that arrives (``on_frame``); ``send`` never blocks: a frame that does
    not fit in the socket buffer is dropped and counted, as the network drops a datagram."""

    def __init__(
        self,
        sock: socket.socket,
        on_frame: Callable[[Frame], None],
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        sock.setblocking(False)
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, BUFFER_BYTES)
            except OSError as exc:  # pragma: no cover - a kernel that caps it
                log.debug("worker channel buffer: %s", exc)
        self._sock = sock
        self._on_frame = on_frame
        self._on_closed = on_closed
        self._loop: asyncio.AbstractEventLoop | None = None
        self.dropped = 0
        """Frames that could not be sent (buffer full, or the other process gone)."""
        self.closed = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._sock.fileno(), self._readable)

    def send(self, octets: bytes) -> bool:
        """Queue one frame; False when it was dropped."""
        if self.closed:
            self.dropped += 1
            return False
        try:
            self._sock.send(octets)
        except OSError as exc:  # the buffer is full (BlockingIOError), or the other end is gone
            self.dropped += 1
            if self.dropped & (self.dropped - 1) == 0:  # the 1st, 2nd, 4th, 8th ... drop
                log.warning("worker channel: %d frames dropped (%s)", self.dropped, exc)
            return False
        return True

    def _readable(self) -> None:
        sock = self._sock
        while True:
            try:
                octets = sock.recv(MAX_FRAME)
            except BlockingIOError:
                return
            except OSError as exc:
                log.warning("worker channel closed: %s", exc)
                self.close()
                return
            if not octets:  # the other end closed (SOCK_SEQPACKET reports it so)
                self.close()
                return
            try:
                frame = decode(octets)
            except FrameError as exc:
                log.warning("worker channel: %s", exc)
                continue
            self._on_frame(frame)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        if self._on_closed is not None:
            self._on_closed()
