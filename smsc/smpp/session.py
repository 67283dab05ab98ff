"""SMPP 3.4 §2 session of the SMSC with one ESME connection, sans-IO.

The transport passes in the bytes it read and the time (monotonic seconds, from its own
clock), writes what ``data_to_send()`` returns, calls ``on_timer`` at ``next_deadline()``
and closes the connection after a ``Closed`` event. The application answers the events that
need a decision: ``accept_bind`` / ``reject_bind`` after ``BindRequested``, ``respond`` after
``RequestReceived``; it sends deliver_sm and data_sm with ``send_request``.

The session answers by itself what needs no decision: enquire_link; a PDU in the wrong bind
state (§2.3: ESME_RINVBNDSTS, a second bind ESME_RALYBND); an unknown command_id (generic_nack
ESME_RINVCMDID); a malformed PDU (its ``*_resp``, or generic_nack, with the PduError's status);
a request beyond the inbound window (``window_full_status``, ESME_RMSGQFUL by default: the
SMSC's queue for this bind is full, try again later; a throttle by rate is the application's
and answers ESME_RTHROTTLED). A bad command_length breaks the stream: generic_nack
ESME_RINVCMDLEN, then close.

Timers (§7.2): session_init (no bind in time: close), enquire_link (nothing received for that
long: we send enquire_link; anything received within response_s proves the link, else close),
inactivity (no PDU but enquire_link in either direction for that long while bound: unbind),
response (per request we sent: ResponseTimeout), and response_s again for the unbind_resp we
wait for (then close) and for the requests to answer before our unbind_resp.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from smsc.smpp import pdu as p
from smsc.smpp.codec import decode, encode, error_response
from smsc.smpp.constants import MAX_SEQUENCE_NUMBER, RESPONSE_BIT, CommandStatus, Tag
from smsc.smpp.errors import PduError, SessionStateError, WindowFull
from smsc.smpp.events import (
    BindRequested,
    Closed,
    Event,
    InboundRequest,
    OutboundRequest,
    Rejected,
    RequestReceived,
    ResponseReceived,
    ResponseTimeout,
    Sendable,
    UnbindReceived,
)
from smsc.smpp.framing import MAX_PDU_LENGTH, PduFramer

S = CommandStatus


class SessionState(enum.Enum):
    """SMPP 3.4 §2.2 (UNBINDING: an unbind was sent or received and its unbind_resp is due)."""

    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"
    CLOSED = "closed"


OPEN, BOUND_TX, BOUND_RX, BOUND_TRX = (
    SessionState.OPEN,
    SessionState.BOUND_TX,
    SessionState.BOUND_RX,
    SessionState.BOUND_TRX,
)
UNBINDING, CLOSED = SessionState.UNBINDING, SessionState.CLOSED
_BOUND = frozenset((BOUND_TX, BOUND_RX, BOUND_TRX))
_TRANSMITTING = frozenset((BOUND_TX, BOUND_TRX))
"""§2.3: the states in which the ESME may submit."""
_RECEIVING = frozenset((BOUND_RX, BOUND_TRX))
"""§2.3: the states in which the SMSC may deliver."""
_BOUND_STATE = {
    p.BindTransmitter: BOUND_TX,
    p.BindReceiver: BOUND_RX,
    p.BindTransceiver: BOUND_TRX,
}
_BIND_RESP: dict[type, type[p.BindResp]] = {
    p.BindTransmitter: p.BindTransmitterResp,
    p.BindReceiver: p.BindReceiverResp,
    p.BindTransceiver: p.BindTransceiverResp,
}
_SC_INTERFACE_VERSION = ((int(Tag.SC_INTERFACE_VERSION), b"\x34"),)


@dataclass(frozen=True, slots=True)
class SessionTimers:
    """SMPP 3.4 §7.2 session_init, enquire_link, inactivity and response timers, in seconds
    (enquire_link and inactivity None: off)."""

    session_init_s: float = 30.0
    enquire_link_s: float | None = 60.0
    inactivity_s: float | None = None
    response_s: float = 10.0

    def __post_init__(self) -> None:
        optional = (self.enquire_link_s, self.inactivity_s)
        if (
            self.session_init_s <= 0
            or self.response_s <= 0
            or any(t is not None and t <= 0 for t in optional)
        ):
            raise ValueError(f"every SMPP timer must be > 0: {self}")


class SmppSession:
    """SMPP 3.4 §2.2-§2.3 server side of one connection (Figure 2-1 without outbind)."""

    def __init__(
        self,
        timers: SessionTimers = SessionTimers(),
        window: int = 10,
        *,
        now: float,
        send_window: int | None = None,
        window_full_status: int = S.ESME_RMSGQFUL,
        max_pdu_length: int = MAX_PDU_LENGTH,
        first_sequence: int = 1,
    ) -> None:
        if window < 1 or (send_window is not None and send_window < 1):
            raise ValueError("windows must hold at least one request")
        if not 1 <= first_sequence <= MAX_SEQUENCE_NUMBER:
            raise ValueError(f"first_sequence {first_sequence} is not 1..0x7FFFFFFF")
        self.timers = timers
        self.window = window
        """Requests from the ESME that may await our response at once (inbound window)."""
        self.send_window = window if send_window is None else send_window
        """Our requests that may await the ESME's response at once (outbound window)."""
        self.window_full_status = window_full_status
        self.state = OPEN
        self.bind: p.Bind | None = None
        """The bind accepted (system_id, interface_version...), None until bound."""
        self._framer = PduFramer(max_pdu_length)
        self._out = bytearray()
        self._pending_bind: p.Bind | None = None
        self._inbound: dict[int, int] = {}  # sequence_number -> requests awaiting our answer
        self._inbound_count = 0
        self._outbound: dict[int, tuple[OutboundRequest, float]] = {}  # in deadline order
        self._next_sequence = first_sequence
        self._init_deadline = now + timers.session_init_s
        self._last_received = now
        self._last_activity = now
        self._enquire_sequence: int | None = None
        self._enquire_deadline: float | None = None
        self._unbind_sequence: int | None = None  # ours, awaiting unbind_resp
        self._peer_unbind: int | None = None  # the ESME's, awaiting our unbind_resp
        self._unbind_deadline: float | None = None
        self._unbind_reason = "unbound"

    # --- what the caller reads ---------------------------------------------------------------

    @property
    def inbound_pending(self) -> int:
        """Requests from the ESME the application has not answered yet."""
        return self._inbound_count

    @property
    def outbound_pending(self) -> int:
        """Our requests awaiting the ESME's response."""
        return len(self._outbound)

    @property
    def send_window_free(self) -> int:
        """How many more requests send_request takes now."""
        return max(0, self.send_window - len(self._outbound))

    def data_to_send(self) -> bytes:
        """The octets to write on the connection (taken: each call returns new ones only)."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def next_deadline(self) -> float | None:
        """The earliest time at which on_timer has work to do (None: no timer runs)."""
        state = self.state
        if state is CLOSED:
            return None
        deadlines: list[float] = []
        if state is OPEN:
            deadlines.append(self._init_deadline)
        elif state is UNBINDING:
            if self._unbind_deadline is not None:
                deadlines.append(self._unbind_deadline)
        else:
            timers = self.timers
            if self._enquire_deadline is not None:
                deadlines.append(self._enquire_deadline)
            elif timers.enquire_link_s is not None:
                deadlines.append(self._last_received + timers.enquire_link_s)
            if timers.inactivity_s is not None:
                deadlines.append(self._last_activity + timers.inactivity_s)
        if self._outbound:
            deadlines.append(self._outbound[next(iter(self._outbound))][1])
        return min(deadlines) if deadlines else None

    # --- what the transport reports ----------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Bytes read from the connection, split anyhow; the events they caused, in order."""
        events: list[Event] = []
        if self.state is CLOSED:
            return events
        framer = self._framer
        try:
            pdus = framer.feed(data)
        except PduError as exc:
            self._framing_error(exc, events)
            return events
        for octets in pdus:
            self._receive(octets, now, events)
            if self.state is CLOSED:
                return events
        if framer.error is not None:
            self._framing_error(framer.error, events)
        return events

    def on_timer(self, now: float) -> list[Event]:
        """The work due at ``now`` (see the module's timers)."""
        events: list[Event] = []
        state = self.state
        if state is CLOSED:
            return events
        timers = self.timers
        if state is OPEN and now >= self._init_deadline:
            self._close(f"no bind within {timers.session_init_s:g} s", events)
            return events
        unbind_deadline = self._unbind_deadline
        if state is UNBINDING and unbind_deadline is not None and now >= unbind_deadline:
            if self._peer_unbind is not None:
                reason = f"unbound by the ESME, {self._inbound_count} requests unanswered"
                self._finish_peer_unbind(reason, events)
            else:
                self._close(f"no unbind_resp within {timers.response_s:g} s", events)
            return events
        outbound = self._outbound
        while outbound:
            sequence = next(iter(outbound))
            request, deadline = outbound[sequence]
            if deadline > now:
                break
            del outbound[sequence]
            events.append(ResponseTimeout(request))
        if state in _BOUND:
            self._link_timers(now, events)
        return events

    def connection_lost(self, reason: str = "connection lost") -> list[Event]:
        """The transport lost the connection: Closed (if the session was not closed yet)."""
        events: list[Event] = []
        if self.state is not CLOSED:
            self._close(reason, events)
        return events

    # --- what the application decides --------------------------------------------------------

    def accept_bind(self, bind: BindRequested | p.Bind, system_id: str) -> None:
        """§4.1: answer the pending bind with ESME_ROK and ``system_id`` (the SMSC's); the
        session is bound. sc_interface_version 0x34 goes with it unless the ESME bound as 3.3
        (it would not know TLVs: §5.3.2.25). Ignored once the session is closed."""
        if self.state is CLOSED:
            return
        request = self._take_bind(bind)
        tlvs = _SC_INTERFACE_VERSION if request.interface_version >= 0x34 else ()
        response = _BIND_RESP[type(request)](system_id, tlvs)
        self._out += encode(response, sequence_number=request.sequence_number)
        self._pending_bind = None
        self.state = _BOUND_STATE[type(request)]
        self.bind = request

    def reject_bind(self, bind: BindRequested | p.Bind, status: int) -> None:
        """§4.1: refuse the pending bind (ESME_RBINDFAIL, ESME_RINVPASWD, ESME_RINVSYSID...);
        the session stays OPEN, its session_init timer still running. Ignored once the
        session is closed."""
        if self.state is CLOSED:
            return
        if status == S.ESME_ROK:
            raise SessionStateError("reject_bind needs an error status; use accept_bind")
        request = self._take_bind(bind)
        response = _BIND_RESP[type(request)](command_status=status)
        self._out += encode(response, sequence_number=request.sequence_number)
        self._pending_bind = None

    def respond(self, request: RequestReceived | InboundRequest, response: p.Pdu) -> list[Event]:
        """Answer a request with its ``*_resp`` (or a generic_nack), in any order; it gets the
        request's sequence_number. After the ESME's unbind, the last answer lets the
        unbind_resp go (and the session close). Ignored once the session is closed."""
        events: list[Event] = []
        if self.state is CLOSED:
            return events
        pdu = request.pdu if isinstance(request, RequestReceived) else request
        sequence = pdu.sequence_number
        count = self._inbound.get(sequence)
        if not count:
            raise SessionStateError(f"no {type(pdu).__name__} {sequence} awaits a response")
        if response.command_id != pdu.command_id | RESPONSE_BIT and not isinstance(
            response, p.GenericNack
        ):
            raise SessionStateError(f"{type(response).__name__} cannot answer {type(pdu).__name__}")
        self._out += encode(response, sequence_number=sequence)
        if count == 1:
            del self._inbound[sequence]
        else:
            self._inbound[sequence] = count - 1
        self._inbound_count -= 1
        if self._peer_unbind is not None and not self._inbound_count:
            self._finish_peer_unbind("unbound by the ESME", events)
        return events

    def send_request(self, request: Sendable, now: float) -> int:
        """Send deliver_sm, data_sm or alert_notification (bound as receiver or transceiver)
        or enquire_link (bound) with the next sequence number, which is returned. Raises
        WindowFull when ``send_window`` requests await their response (queue it, send it
        after a ResponseReceived or ResponseTimeout), SessionStateError in the wrong state."""
        allowed = _BOUND if isinstance(request, p.EnquireLink) else _RECEIVING
        if self.state not in allowed:
            raise SessionStateError(f"cannot send {type(request).__name__} when {self.state.value}")
        tracked = not isinstance(request, p.AlertNotification)
        if tracked and len(self._outbound) >= self.send_window:
            raise WindowFull(f"{len(self._outbound)} requests await their response")
        sequence = self._take_sequence()
        sent = replace(request, sequence_number=sequence)
        self._out += encode(sent)
        if not isinstance(sent, p.AlertNotification):
            self._outbound[sequence] = (sent, now + self.timers.response_s)
        if not isinstance(sent, p.EnquireLink):
            self._last_activity = now
        return sequence

    def unbind(self, now: float, reason: str = "unbound") -> list[Event]:
        """§4.2: send unbind and wait response_s for the unbind_resp, then Closed (with
        ``reason``); when not bound, close at once."""
        events: list[Event] = []
        if self.state in _BOUND:
            self._send_unbind(now, reason)
        elif self.state is OPEN:
            self._close(reason, events)
        return events

    def close(self, reason: str = "closed by the SMSC") -> list[Event]:
        """Close now, whatever the state (Closed, with our unanswered requests)."""
        events: list[Event] = []
        if self.state is not CLOSED:
            self._close(reason, events)
        return events

    # --- internals ---------------------------------------------------------------------------

    def _take_sequence(self) -> int:
        """§5.1.4: 1..0x7FFFFFFF, wrapping, skipping numbers still awaiting an answer."""
        sequence = self._next_sequence
        while sequence in self._outbound or sequence == self._enquire_sequence:
            sequence = sequence % MAX_SEQUENCE_NUMBER + 1
        self._next_sequence = sequence % MAX_SEQUENCE_NUMBER + 1
        return sequence

    def _take_bind(self, bind: BindRequested | p.Bind) -> p.Bind:
        request = bind.pdu if isinstance(bind, BindRequested) else bind
        if self.state is not OPEN or self._pending_bind != request:
            raise SessionStateError(f"no such bind awaits an answer ({self.state.value})")
        return request

    def _close(self, reason: str, events: list[Event]) -> None:
        unanswered = tuple(request for request, _ in self._outbound.values())
        self._outbound.clear()
        self._inbound.clear()
        self._inbound_count = 0
        self.state = CLOSED
        self._pending_bind = None
        events.append(Closed(reason, unanswered))

    def _send(self, pdu: p.Pdu) -> None:
        self._out += encode(pdu)

    def _reject(
        self, command_id: int, sequence: int, status: int, reason: str, events: list[Event]
    ) -> None:
        self._send(error_response(command_id, status, sequence))
        events.append(Rejected(command_id, sequence, status, reason))

    def _framing_error(self, exc: PduError, events: list[Event]) -> None:
        command_id = exc.command_id if exc.command_id is not None else p.GenericNack.command_id
        sequence = exc.sequence_number or 0
        self._send(p.GenericNack(exc.command_status, sequence))
        events.append(Rejected(command_id, sequence, exc.command_status, str(exc)))
        self._close(f"framing error: {exc}", events)

    def _send_unbind(self, now: float, reason: str) -> None:
        sequence = self._take_sequence()
        self._send(p.Unbind(sequence))
        self.state = UNBINDING
        self._unbind_sequence = sequence
        self._unbind_deadline = now + self.timers.response_s
        self._unbind_reason = reason

    def _finish_peer_unbind(self, reason: str, events: list[Event]) -> None:
        sequence = self._peer_unbind
        assert sequence is not None
        self._send(p.UnbindResp(S.ESME_ROK, sequence))
        self._peer_unbind = None
        self._close(reason, events)

    def _link_timers(self, now: float, events: list[Event]) -> None:
        """§7.2 enquire_link and inactivity timers (bound states only)."""
        timers = self.timers
        if self._enquire_deadline is not None:
            if now >= self._enquire_deadline:
                self._close(f"no answer to enquire_link within {timers.response_s:g} s", events)
                return
        elif (
            timers.enquire_link_s is not None and now >= self._last_received + timers.enquire_link_s
        ):
            sequence = self._take_sequence()
            self._send(p.EnquireLink(sequence))
            self._enquire_sequence = sequence
            self._enquire_deadline = now + timers.response_s
        if timers.inactivity_s is not None and now >= self._last_activity + timers.inactivity_s:
            self._send_unbind(now, f"inactive for {timers.inactivity_s:g} s")

    def _receive(self, octets: bytes, now: float, events: list[Event]) -> None:
        self._last_received = now
        self._enquire_deadline = None  # anything from the ESME proves the link
        try:
            pdu = decode(octets)
        except PduError as exc:
            self._last_activity = now
            self._malformed(exc, events)
            return
        if not isinstance(pdu, p.EnquireLink | p.EnquireLinkResp):
            self._last_activity = now
        if isinstance(
            pdu, p.SubmitSm | p.SubmitMulti | p.DataSm | p.QuerySm | p.CancelSm | p.ReplaceSm
        ):
            self._request(pdu, events)
        elif isinstance(pdu, p.EnquireLink):
            self._send(p.EnquireLinkResp(S.ESME_ROK, pdu.sequence_number))
        elif isinstance(pdu, p.BindTransmitter | p.BindReceiver | p.BindTransceiver):
            self._bind(pdu, events)
        elif isinstance(pdu, p.Unbind):
            self._unbind(pdu, now, events)
        elif isinstance(pdu, p.UnbindResp):
            if self.state is UNBINDING and pdu.sequence_number == self._unbind_sequence:
                self._close(self._unbind_reason, events)
        elif isinstance(pdu, p.DeliverSm | p.Outbind | p.AlertNotification):
            reason = f"{type(pdu).__name__} goes from the SMSC to the ESME (§2.3)"
            self._reject(pdu.command_id, pdu.sequence_number, S.ESME_RINVBNDSTS, reason, events)
        else:
            self._response(pdu, events)

    def _malformed(self, exc: PduError, events: list[Event]) -> None:
        """§4.3: the ``*_resp`` of a known request, else generic_nack; never an answer to a
        generic_nack (two peers must not nack each other's nacks forever)."""
        command_id = exc.command_id
        assert command_id is not None  # decode reads the header of every framed PDU
        if command_id == p.GenericNack.command_id:
            return
        sequence = exc.sequence_number or 0
        self._reject(command_id, sequence, exc.command_status, str(exc), events)

    def _request(self, pdu: InboundRequest, events: list[Event]) -> None:
        if self.state not in _TRANSMITTING:
            reason = f"{type(pdu).__name__} when {self.state.value}"
            self._reject(pdu.command_id, pdu.sequence_number, S.ESME_RINVBNDSTS, reason, events)
        elif self._inbound_count >= self.window:
            reason = f"inbound window of {self.window} is full"
            self._reject(
                pdu.command_id, pdu.sequence_number, self.window_full_status, reason, events
            )
        else:
            sequence = pdu.sequence_number
            self._inbound[sequence] = self._inbound.get(sequence, 0) + 1
            self._inbound_count += 1
            events.append(RequestReceived(pdu))

    def _bind(self, pdu: p.Bind, events: list[Event]) -> None:
        if self.state is OPEN and self._pending_bind is None:
            self._pending_bind = pdu
            events.append(BindRequested(pdu))
            return
        if self.state in _BOUND:
            status, reason = S.ESME_RALYBND, f"bind when {self.state.value}"
        else:
            status, reason = S.ESME_RINVBNDSTS, f"bind when {self._bind_state_text()}"
        self._reject(pdu.command_id, pdu.sequence_number, status, reason, events)

    def _bind_state_text(self) -> str:
        return "a bind awaits its answer" if self.state is OPEN else self.state.value

    def _unbind(self, pdu: p.Unbind, now: float, events: list[Event]) -> None:
        """§4.2: the ESME unbinds (also when our own unbind crossed its)."""
        sequence = pdu.sequence_number
        if self.state in _BOUND:
            self.state = UNBINDING
            self._peer_unbind = sequence
            events.append(UnbindReceived())
            if self._inbound_count:
                self._unbind_deadline = now + self.timers.response_s
            else:
                self._finish_peer_unbind("unbound by the ESME", events)
        elif self.state is UNBINDING and self._peer_unbind is None:
            self._peer_unbind = sequence
            self._finish_peer_unbind("unbound (both sides sent unbind)", events)
        else:
            reason = f"unbind when {self.state.value}"
            self._reject(pdu.command_id, sequence, S.ESME_RINVBNDSTS, reason, events)

    def _response(self, pdu: p.Response, events: list[Event]) -> None:
        """A response: ours to match by sequence_number (an unmatched one is dropped)."""
        sequence = pdu.sequence_number
        if sequence == self._enquire_sequence and isinstance(
            pdu, p.EnquireLinkResp | p.GenericNack
        ):
            self._enquire_sequence = None
            return
        entry = self._outbound.get(sequence)
        if entry is None:
            return
        request = entry[0]
        if isinstance(pdu, p.GenericNack) or pdu.command_id == request.command_id | RESPONSE_BIT:
            del self._outbound[sequence]
            events.append(ResponseReceived(request, pdu))
