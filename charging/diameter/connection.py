"""One Diameter peer over TCP on the event loop: the sans-IO DiameterPeer's events carried out.

`PeerLink` owns a `DiameterPeer` (charging/diameter/peer.py), the TCP connection it asks for,
and one loop timer at the peer's next deadline. It connects when the peer says Connect, writes
what it says Send, closes on Disconnect, feeds received bytes and connection loss back, and
passes the peer's other events to its owner (`LinkOwner`). Time is the loop's monotonic clock.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, cast

from charging.diameter.peer import (
    AnswerReceived,
    Connect,
    DiameterPeer,
    Disconnect,
    Down,
    Opened,
    PeerState,
    Recovered,
    RequestsFailed,
    Send,
    Suspect,
)
from smsc.transport.deadline_timer import DeadlineTimer

log = logging.getLogger("smsc.charging")

CONNECT_TIMEOUT_S = 5.0
"""Longest a TCP connect may take before it counts as failed (RFC 6733 §2.1: then Tc)."""


class LinkOwner(Protocol):
    """What a PeerLink tells the Ro client about its peer."""

    def link_opened(self, link: PeerLink) -> None:
        """CER/CEA done: the peer takes requests."""

    def link_down(self, link: PeerLink, reason: str) -> None:
        """The peer left the Open state, or could not reach it."""

    def link_answer(self, link: PeerLink, hop_by_hop: int, end_to_end: int, data: bytes) -> None:
        """An answer to a request sent through this link."""

    def link_failed(self, link: PeerLink, hop_by_hops: tuple[int, ...], reason: str) -> None:
        """These requests will get no answer on this link."""


class _Stream(asyncio.Protocol):
    """The TCP connection of one link; detached once the link closes it on purpose."""

    def __init__(self, link: PeerLink) -> None:
        self.link: PeerLink | None = link
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's is not an asyncio.Transport subclass, so no isinstance)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.link is not None:
            self.link.received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        link, self.link = self.link, None
        if link is not None:
            link.lost(self, "connection closed by the peer" if exc is None else str(exc))


class PeerLink:
    """RFC 6733 §2.1: one configured peer, its connection and timers, on the running loop."""

    def __init__(
        self,
        name: str,
        address: str,
        port: int,
        peer: DiameterPeer,
        owner: LinkOwner,
        *,
        priority: int = 1,
    ) -> None:
        self.name = name
        self.address = address
        self.port = port
        self.peer = peer
        self.priority = priority
        self.in_flight = 0
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self._stream: _Stream | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._timer = DeadlineTimer(self._loop, self._on_timer)
        self._out: list[bytes] = []
        """Bytes to write at the end of this loop iteration: one write for a burst of CCRs."""
        self._closed = asyncio.Event()
        self._closed.set()
        self.settled = False
        """The first connection attempt has ended (opened or failed)."""
        self._said_down: str | None = None
        """The reason last logged as a WARNING; the same again is DEBUG until it opens."""

    # --- state -------------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Open and answering its watchdog (RFC 3539 §3.4: not suspect)."""
        return self.peer.state is PeerState.OPEN and not self.peer.suspect

    # --- commands ----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect now (and again after Tc whenever the connection is lost)."""
        self.peer.start(self._loop.time())
        self._pump()

    def send(self, message: bytes) -> int:
        """Send one request (PeerNotOpen unless open); its hop-by-hop id."""
        hop_by_hop = self.peer.send_request(message, self._loop.time())
        self._pump()
        return hop_by_hop

    def forget(self, hop_by_hop: int) -> None:
        """The caller gave up on this request (Tx): a late answer is dropped."""
        self.peer.forget_request(hop_by_hop)

    async def stop(self, timeout_s: float) -> None:
        """DPR when open, wait for the DPA (or the peer's own limit), close; no reconnect."""
        self.peer.stop(self._loop.time())
        self._pump()
        try:
            await asyncio.wait_for(self._closed.wait(), timeout_s)
        except TimeoutError:
            log.warning("Diameter peer %s did not close within %.1f s", self.name, timeout_s)
        self._close_stream()
        if self._connecting is not None:
            self._connecting.cancel()
        self._timer.cancel()

    # --- from the connection -----------------------------------------------------------------

    def received(self, data: bytes) -> None:
        self.peer.receive_data(data, self._loop.time())
        self._pump()

    def lost(self, stream: _Stream, reason: str) -> None:
        if stream is not self._stream:
            return
        self._stream = None
        self._closed.set()
        self.peer.connection_lost(self._loop.time(), reason)
        self._pump()

    # --- the peer's events -------------------------------------------------------------------

    def _pump(self) -> None:
        """Carry out every event the peer has, then set the timer at its next deadline."""
        peer = self.peer
        owner = self._owner
        while (event := peer.next_event()) is not None:
            if isinstance(event, Send):
                if not self._out:
                    self._loop.call_soon(self._flush)
                self._out.append(event.data)
            elif isinstance(event, AnswerReceived):
                owner.link_answer(self, event.hop_by_hop, event.end_to_end, event.data)
            elif isinstance(event, Connect):
                self._connect()
            elif isinstance(event, Disconnect):
                self._flush()  # a DPA or DPR goes out before the close
                self._close_stream()
            elif isinstance(event, Opened):
                self.settled = True
                self._said_down = None
                log.info("Diameter peer %s open (%s)", self.name, event.peer_host)
                owner.link_opened(self)
            elif isinstance(event, Down):
                self.settled = True
                if event.reconnect_at is None:  # we stopped it
                    log.info("Diameter peer %s closed: %s", self.name, event.reason)
                elif event.reason != self._said_down:  # not again on every Tc of an outage
                    self._said_down = event.reason
                    log.warning("Diameter peer %s down: %s", self.name, event.reason)
                else:
                    log.debug("Diameter peer %s still down: %s", self.name, event.reason)
                owner.link_down(self, event.reason)
            elif isinstance(event, RequestsFailed):
                owner.link_failed(self, event.hop_by_hops, event.reason)
            elif isinstance(event, Suspect):
                log.warning("Diameter peer %s suspect: no answer to its watchdog", self.name)
                owner.link_down(self, "watchdog")
            elif isinstance(event, Recovered):
                log.info("Diameter peer %s answers its watchdog again", self.name)
                owner.link_opened(self)
        self._arm()

    def _flush(self) -> None:
        """Write what this iteration's events asked to send, in one call."""
        out, self._out = self._out, []
        stream = self._stream
        if out and stream is not None and stream.transport is not None:
            stream.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _arm(self) -> None:
        self._timer.follow(self.peer.next_deadline())

    def _on_timer(self) -> None:
        self.peer.timer(self._loop.time())
        self._pump()

    def _connect(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            return
        self._connecting = self._loop.create_task(
            self._open_connection(), name=f"diameter-connect-{self.name}"
        )

    async def _open_connection(self) -> None:
        stream = _Stream(self)
        try:
            await asyncio.wait_for(
                self._loop.create_connection(lambda: stream, self.address, self.port),
                CONNECT_TIMEOUT_S,
            )
        except (OSError, TimeoutError) as exc:
            self.peer.connection_failed(self._loop.time(), str(exc) or type(exc).__name__)
            self._pump()
            return
        if self.peer.state is not PeerState.WAIT_CONN_ACK:  # stopped meanwhile
            stream.link = None
            if stream.transport is not None:
                stream.transport.close()
            return
        self._stream = stream
        self._closed.clear()
        self.peer.connection_made(self._loop.time())
        self._pump()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        self._closed.set()
        if stream is None:
            return
        stream.link = None
        if stream.transport is not None:
            stream.transport.close()
