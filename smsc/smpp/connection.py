"""One ESME's TCP connection: the asyncio edge of the sans-IO SMPP session (smsc.smpp.session).

Bytes in go to the session; its events go to the owner (the SMPP service); what the session
has to send is written once per batch of work; one timer follows the session's next deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Protocol, cast

from smsc.smpp.errors import WindowFull
from smsc.smpp.events import (
    BindRequested,
    Closed,
    Event,
    OutboundRequest,
    Rejected,
    RequestReceived,
    ResponseReceived,
    ResponseTimeout,
    UnbindReceived,
)
from smsc.smpp.pdu import Bind, Pdu
from smsc.smpp.session import SessionState, SessionTimers, SmppSession
from smsc.transport.deadline_timer import DeadlineTimer

__all__ = ["ConnectionOwner", "SmppConnection"]

log = logging.getLogger("smsc.smpp")

_numbers = itertools.count(1)


class ConnectionOwner(Protocol):
    """What a connection reports (implemented by smsc.smpp.service.SmppService)."""

    def opened(self, connection: SmppConnection) -> bool:
        """A new connection; False refuses it (it is closed at once)."""

    def bind(self, connection: SmppConnection, bind: Bind) -> None:
        """Answer it now with accept_bind or reject_bind."""

    def request(self, connection: SmppConnection, event: RequestReceived) -> None:
        """A request to answer (now or later) with connection.respond."""

    def response(self, connection: SmppConnection, event: ResponseReceived) -> None:
        """The ESME answered one of our requests."""

    def timeout(self, connection: SmppConnection, request: OutboundRequest) -> None:
        """No answer in time to one of our requests."""

    def rejected(self, connection: SmppConnection, event: Rejected) -> None:
        """The session itself answered a PDU with an error."""

    def closed(self, connection: SmppConnection, event: Closed) -> None:
        """The session ended; the connection is closing."""


class SmppConnection(asyncio.Protocol):
    """The transport of one SMPP session."""

    def __init__(self, owner: ConnectionOwner, timers: SessionTimers, window: int) -> None:
        self.owner = owner
        self.number = next(_numbers)
        """This process's number of the connection (the API's session id)."""
        self.timers = timers
        self.window = window
        self.session: SmppSession | None = None
        self.peer = ("", 0)
        self.opened_at = time.time()
        self.bound_at: float | None = None
        self.system_id: str | None = None
        self.bind_type: str | None = None
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: DeadlineTimer | None = None

    # --- state -------------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return SessionState.CLOSED if self.session is None else self.session.state

    @property
    def can_deliver(self) -> bool:
        """Bound as receiver or transceiver with room in the outbound window."""
        session = self.session
        return (
            session is not None
            and session.state in (SessionState.BOUND_RX, SessionState.BOUND_TRX)
            and session.send_window_free > 0
        )

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._loop = loop = asyncio.get_running_loop()
        self._timer = DeadlineTimer(loop, self._on_timer)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = (str(peer[0]), int(peer[1]))
        self.session = SmppSession(self.timers, self.window, now=loop.time())
        if not self.owner.opened(self):
            self._transport.close()
            self.session = None
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        session = self.session
        if session is None or self._loop is None:
            return
        self._carry_out(session.receive_data(data, self._loop.time()))

    def connection_lost(self, exc: Exception | None) -> None:
        session = self.session
        if session is not None:
            reason = "connection lost" if exc is None else f"connection lost: {exc}"
            self._carry_out(session.connection_lost(reason))
        if self._timer is not None:
            self._timer.cancel()
        self._transport = None

    # --- the application's answers -------------------------------------------------------------

    def accept_bind(self, bind: Bind, system_id: str, *, window: int, bind_type: str) -> None:
        session = self.session
        if session is None:
            return
        session.accept_bind(bind, system_id)
        session.window = window
        session.send_window = window
        self.system_id = bind.system_id
        self.bind_type = bind_type
        self.bound_at = time.time()

    def reject_bind(self, bind: Bind, status: int) -> None:
        if self.session is not None:
            self.session.reject_bind(bind, status)

    def respond(self, event: RequestReceived, response: Pdu) -> None:
        """Answer a request (later than its arrival is fine)."""
        session = self.session
        if session is None or session.state is SessionState.CLOSED:
            return
        self._carry_out(session.respond(event, response))

    def send(self, request: OutboundRequest) -> int | None:
        """Send deliver_sm / data_sm / enquire_link; its sequence number, or None when the
        window is full or the session cannot send now."""
        session = self.session
        if session is None or self._loop is None or not self.can_deliver:
            return None
        try:
            sequence = session.send_request(request, self._loop.time())
        except WindowFull:
            return None
        self._flush()
        self._arm()
        return sequence

    def unbind(self, reason: str = "the SMSC is stopping") -> None:
        session = self.session
        if session is None or self._loop is None:
            return
        self._carry_out(session.unbind(self._loop.time(), reason))

    def close(self, reason: str = "closed by the SMSC") -> None:
        session = self.session
        if session is not None:
            self._carry_out(session.close(reason))

    # --- internals -------------------------------------------------------------------------------

    def _carry_out(self, events: list[Event]) -> None:
        owner = self.owner
        closed: Closed | None = None
        for event in events:
            if isinstance(event, BindRequested):
                owner.bind(self, event.pdu)
            elif isinstance(event, RequestReceived):
                owner.request(self, event)
            elif isinstance(event, ResponseReceived):
                owner.response(self, event)
            elif isinstance(event, ResponseTimeout):
                owner.timeout(self, event.request)
            elif isinstance(event, Rejected):
                owner.rejected(self, event)
            elif isinstance(event, UnbindReceived):
                log.info("SMPP %s unbinds (%s:%d)", self.system_id, *self.peer)
            elif isinstance(event, Closed):
                closed = event
        self._flush()
        if closed is not None:
            self._finish(closed)
        else:
            self._arm()

    def _finish(self, closed: Closed) -> None:
        if self._timer is not None:
            self._timer.cancel()
        transport = self._transport
        if transport is not None:
            transport.close()
        self.owner.closed(self, closed)
        self.session = None

    def _flush(self) -> None:
        session, transport = self.session, self._transport
        if session is None or transport is None:
            return
        data = session.data_to_send()
        if data:
            transport.write(data)

    def _arm(self) -> None:
        session, timer = self.session, self._timer
        if session is not None and timer is not None:
            timer.follow(session.next_deadline())

    def _on_timer(self) -> None:
        session, loop = self.session, self._loop
        if session is None or loop is None:
            return
        self._carry_out(session.on_timer(loop.time()))
