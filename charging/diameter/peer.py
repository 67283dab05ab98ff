"""The client side of one Diameter peer connection, sans-IO (RFC 6733 §5, RFC 3539 §3.4).

The transport calls in with what happened (and the time, from its own clock) and carries out the
events it takes from ``next_event()``: Connect, Send, Disconnect, and the notifications for the
Ro client. When the peer goes down the order is always Disconnect (if we close the connection),
RequestsFailed (if requests were pending), Down. CER, DWR and DPR take their hop-by-hop ids from
the same sequence as the caller's requests.
"""

from __future__ import annotations

import enum
import random
import struct
from collections import deque
from dataclasses import dataclass

from charging.avp import HEADER_LENGTH, CommandFlag
from charging.diameter import base as b
from charging.diameter.base import BaseCommandCode as Command
from charging.diameter.base import DisconnectCause, LocalIdentity
from charging.diameter.errors import (
    DiameterDecodeError,
    DiameterEncodeError,
    DiameterFramingError,
    PeerNotOpen,
)
from charging.diameter.framing import DiameterHeader, MessageFramer, parse_header

_HOP = struct.Struct(">I").pack
_BASE_COMMANDS = frozenset(Command)
_REQUEST_FLAG = int(CommandFlag.REQUEST)


class PeerState(enum.Enum):
    """RFC 6733 §5.6 (client-only: no election)."""

    CLOSED = "closed"
    WAIT_CONN_ACK = "wait-conn-ack"
    WAIT_I_CEA = "wait-i-cea"
    OPEN = "open"
    CLOSING = "closing"


_CONNECTED = (PeerState.WAIT_I_CEA, PeerState.OPEN, PeerState.CLOSING)


@dataclass(frozen=True, slots=True)
class PeerTimers:
    """RFC 3539 §3.4.1 Tw and RFC 6733 §2.1 Tc, and how long we wait for CEA and DPA."""

    tw_s: float = 30.0
    tw_jitter_s: float = 2.0
    tc_s: float = 30.0
    cea_timeout_s: float = 10.0
    dpa_timeout_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.tw_jitter_s < self.tw_s:
            raise ValueError(f"need 0 <= tw_jitter_s < tw_s, got {self.tw_jitter_s}, {self.tw_s}")
        if self.tc_s < 0 or self.cea_timeout_s <= 0 or self.dpa_timeout_s <= 0:
            raise ValueError("tc_s must be >= 0 and the CEA and DPA timeouts > 0")


@dataclass(frozen=True, slots=True)
class Connect:
    """Open a connection to the peer now."""


@dataclass(frozen=True, slots=True)
class Send:
    """Write these bytes on the connection."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the connection now (a later connection_lost is tolerated)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Opened:
    """RFC 6733 §5.3: the CEA said 2001 and offers application 4: requests may be sent."""

    peer_host: str
    peer_realm: str


@dataclass(frozen=True, slots=True)
class Down:
    """The peer is not usable any more; reconnect_at None: it stays down (stopped)."""

    reason: str
    reconnect_at: float | None


@dataclass(frozen=True, slots=True)
class AnswerReceived:
    """The answer (its exact bytes) to a request sent with send_request."""

    hop_by_hop: int
    end_to_end: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RequestsFailed:
    """These pending requests will get no answer on this connection."""

    hop_by_hops: tuple[int, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Suspect:
    """RFC 3539 §3.4: no answer to the DWR within Tw; send requests elsewhere meanwhile."""


@dataclass(frozen=True, slots=True)
class Recovered:
    """RFC 3539 §3.4: the suspect peer was heard from again."""


PeerEvent = (
    Connect
    | Send
    | Disconnect
    | Opened
    | Down
    | AnswerReceived
    | RequestsFailed
    | Suspect
    | Recovered
)


class DiameterPeer:
    """RFC 6733 §5.6 peer state machine (initiator only) with the RFC 3539 §3.4 watchdog."""

    def __init__(
        self,
        identity: LocalIdentity,
        timers: PeerTimers = PeerTimers(),
        *,
        rng: random.Random | None = None,
        first_hop_by_hop: int | None = None,
    ) -> None:
        self.identity = identity
        self.timers = timers
        self._rng = rng if rng is not None else random.Random()
        if first_hop_by_hop is None:
            first_hop_by_hop = self._rng.getrandbits(32)
        elif not 0 <= first_hop_by_hop <= 0xFFFFFFFF:
            raise ValueError(f"first_hop_by_hop {first_hop_by_hop} is not 32 bits")
        self._next_hop = first_hop_by_hop
        self._next_end_to_end = self._rng.getrandbits(32)
        self.state = PeerState.CLOSED
        self.suspect = False
        self.peer_host: str | None = None
        self.peer_realm: str | None = None
        self.last_tw: float | None = None
        """The Tw drawn last (RFC 3539 §3.4.1 jitter), for logs and tests."""
        self._pending: dict[int, None] = {}
        self._events: deque[PeerEvent] = deque()
        self._framer = MessageFramer()
        self._stopped = False
        self._reconnect_at: float | None = None
        self._deadline: float | None = None  # CEA timeout, Tw or DPA timeout, by state
        self._dwr_pending = False

    # --- what the caller reads ---------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Requests sent on this connection that wait for an answer."""
        return len(self._pending)

    @property
    def stopped(self) -> bool:
        """stop() was called (and start() not since): no reconnect."""
        return self._stopped

    @property
    def reconnect_at(self) -> float | None:
        """When CLOSED: the time of the Tc reconnect, None if there will be none."""
        return self._reconnect_at

    def next_event(self) -> PeerEvent | None:
        """The oldest event not yet taken, None if there is none."""
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> float | None:
        """The earliest time at which timer() has work to do."""
        if self.state is PeerState.CLOSED:
            return None if self._stopped else self._reconnect_at
        return self._deadline

    # --- commands ----------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """RFC 6733 §5.6 Start: CLOSED -> WAIT_CONN_ACK and Connect; ignored in other states."""
        if self.state is not PeerState.CLOSED:
            return
        self._stopped = False
        self._reconnect_at = None
        self.state = PeerState.WAIT_CONN_ACK
        self._events.append(Connect())

    def stop(self, now: float) -> None:
        """RFC 6733 §5.4: DPR (REBOOTING) when open; otherwise close at once. No reconnect."""
        state = self.state
        self._stopped = True
        if state is PeerState.OPEN:
            self.state = PeerState.CLOSING
            self._deadline = now + self.timers.dpa_timeout_s
            hop, e2e = self._take_ids()
            dpr = b.encode_dpr(
                self.identity, DisconnectCause.REBOOTING, hop_by_hop=hop, end_to_end=e2e
            )
            self._events.append(Send(dpr))
        elif state is PeerState.CLOSED:
            if self._reconnect_at is not None:
                self._reconnect_at = None
                self._events.append(Down("stopped", None))
        elif state is not PeerState.CLOSING:
            self._down(now, "stopped", disconnect=True)

    def send_request(self, message: bytes, now: float) -> int:
        """Send a request with a fresh hop-by-hop id (octets 12..15); returns that id."""
        if self.state is not PeerState.OPEN:
            raise PeerNotOpen(f"Diameter peer is {self.state.value}, not open")
        if len(message) < HEADER_LENGTH or not message[4] & _REQUEST_FLAG:
            raise DiameterEncodeError("send_request needs a whole request (R flag set)")
        hop = self._take_hop()
        self._pending[hop] = None
        self._events.append(Send(message[:12] + _HOP(hop) + message[16:]))
        return hop

    def forget_request(self, hop_by_hop: int) -> None:
        """The caller gave up on this request: its answer, if it comes, is dropped."""
        self._pending.pop(hop_by_hop, None)

    # --- what the transport reports ----------------------------------------------------------

    def connection_made(self, now: float) -> None:
        """RFC 6733 §5.6 Rcv-Conn-Ack: send the CER, wait for the CEA."""
        if self.state is not PeerState.WAIT_CONN_ACK:
            if self.state is PeerState.CLOSED:
                self._events.append(Disconnect("no connection wanted"))
            return
        self.state = PeerState.WAIT_I_CEA
        self._framer = MessageFramer()
        self._deadline = now + self.timers.cea_timeout_s
        hop, e2e = self._take_ids()
        self._events.append(Send(b.encode_cer(self.identity, hop_by_hop=hop, end_to_end=e2e)))

    def connection_failed(self, now: float, reason: str) -> None:
        """RFC 6733 §5.6 Rcv-Conn-Nack: CLOSED, reconnect after Tc."""
        if self.state is PeerState.WAIT_CONN_ACK:
            self._down(now, reason, disconnect=False)

    def connection_lost(self, now: float, reason: str) -> None:
        """RFC 6733 §5.6 Peer-Disc: CLOSED, pending requests failed, reconnect after Tc."""
        if self.state is not PeerState.CLOSED:
            self._down(now, reason, disconnect=False)

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the connection, split anyhow; ignored when not connected."""
        if self.state not in _CONNECTED:
            return
        framer = self._framer
        try:
            framer.receive_data(data)
            while self.state in _CONNECTED and (message := framer.next_message()) is not None:
                self._receive(message, parse_header(message), now)
        except DiameterFramingError as exc:
            self._down(now, f"framing error: {exc}", disconnect=True)
        except DiameterDecodeError as exc:
            self._down(now, f"decode error: {exc}", disconnect=True)

    def timer(self, now: float) -> None:
        """Do the work that is due: Tc reconnect, CEA timeout, watchdog, DPA timeout."""
        state = self.state
        if state is PeerState.CLOSED:
            due = self._reconnect_at
            if not self._stopped and due is not None and now >= due:
                self.start(now)
            return
        if self._deadline is None or now < self._deadline:
            return
        if state is PeerState.WAIT_I_CEA:
            self._down(now, f"no CEA within {self.timers.cea_timeout_s:g} s", disconnect=True)
        elif state is PeerState.CLOSING:
            self._down(now, f"no DPA within {self.timers.dpa_timeout_s:g} s", disconnect=True)
        elif state is PeerState.OPEN:
            self._watchdog(now)

    # --- internals ---------------------------------------------------------------------------

    def _take_hop(self) -> int:
        hop = self._next_hop
        self._next_hop = (hop + 1) & 0xFFFFFFFF
        return hop

    def _take_ids(self) -> tuple[int, int]:
        e2e = self._next_end_to_end
        self._next_end_to_end = (e2e + 1) & 0xFFFFFFFF
        return self._take_hop(), e2e

    def _arm_watchdog(self, now: float) -> None:
        """RFC 3539 §3.4.1 SetWatchdog: Tw drawn anew, jittered by up to ±tw_jitter_s."""
        timers = self.timers
        tw = self._rng.uniform(timers.tw_s - timers.tw_jitter_s, timers.tw_s + timers.tw_jitter_s)
        self.last_tw = tw
        self._deadline = now + tw

    def _watchdog(self, now: float) -> None:
        """RFC 3539 §3.4.1 timer expiry: DWR, then SUSPECT, then DOWN, one Tw apart."""
        if self.suspect:
            self._down(now, "no answer to the watchdog (RFC 3539)", disconnect=True)
            return
        if self._dwr_pending:
            self.suspect = True
            self._events.append(Suspect())
        else:
            self._dwr_pending = True
            hop, e2e = self._take_ids()
            self._events.append(Send(b.encode_dwr(self.identity, hop_by_hop=hop, end_to_end=e2e)))
        self._arm_watchdog(now)

    def _heard(self, now: float) -> None:
        """RFC 3539 §3.4.1: any message from the peer resets the watchdog (and ends SUSPECT)."""
        self._dwr_pending = False
        if self.suspect:
            self.suspect = False
            self._events.append(Recovered())
        self._arm_watchdog(now)

    def _down(self, now: float, reason: str, *, disconnect: bool) -> None:
        if disconnect:
            self._events.append(Disconnect(reason))
        if self._pending:
            self._events.append(RequestsFailed(tuple(self._pending), reason))
            self._pending.clear()
        self.state = PeerState.CLOSED
        self.suspect = self._dwr_pending = False
        self.peer_host = self.peer_realm = None
        self._deadline = None
        self._reconnect_at = None if self._stopped else now + self.timers.tc_s
        self._events.append(Down(reason, self._reconnect_at))

    def _receive(self, message: bytes, header: DiameterHeader, now: float) -> None:
        command = header.command_code
        base = header.application_id == b.BASE_APPLICATION_ID and command in _BASE_COMMANDS
        if self.state is PeerState.WAIT_I_CEA:
            if base and command == Command.CAPABILITIES_EXCHANGE and not header.is_request:
                self._capabilities(message, now)
            else:
                kind = "request" if header.is_request else "answer"
                self._down(now, f"{kind} {command} before the CEA", disconnect=True)
            return
        if self.state is PeerState.OPEN:
            self._heard(now)
        if header.is_request:
            self._request(message, header, base, now)
        elif base:
            b.decode_base(message)  # checked, then dropped unless it ends our CLOSING
            if command == Command.DISCONNECT_PEER and self.state is PeerState.CLOSING:
                self._down(now, "stopped (DPA received)", disconnect=True)
        elif header.hop_by_hop in self._pending:
            del self._pending[header.hop_by_hop]
            self._events.append(AnswerReceived(header.hop_by_hop, header.end_to_end, message))

    def _request(self, message: bytes, header: DiameterHeader, base: bool, now: float) -> None:
        """RFC 6733 §5.5.2 DWA, §5.4.2 DPA, §7.1.3 3001 for anything else."""
        identity, hop, e2e = self.identity, header.hop_by_hop, header.end_to_end
        command = header.command_code
        if base and command == Command.DEVICE_WATCHDOG:
            b.decode_base(message)
            self._events.append(Send(b.encode_dwa(identity, hop_by_hop=hop, end_to_end=e2e)))
        elif base and command == Command.DISCONNECT_PEER:
            dpr = b.decode_base(message)
            assert isinstance(dpr, b.DisconnectRequest)
            self._events.append(Send(b.encode_dpa(identity, hop_by_hop=hop, end_to_end=e2e)))
            self._down(now, f"peer sent DPR ({_cause_name(dpr.cause)})", disconnect=True)
        else:
            self._events.append(Send(b.encode_unsupported_answer(identity, message)))

    def _capabilities(self, message: bytes, now: float) -> None:
        """RFC 6733 §5.3.2 / §5.6 Process-CEA."""
        cea = b.decode_base(message)
        assert isinstance(cea, b.CapabilitiesAnswer)
        applications = {*cea.auth_application_ids, *cea.vendor_specific_auth_ids}
        if cea.result_code != b.BaseResultCode.DIAMETER_SUCCESS:
            self._down(now, f"CEA result {cea.result_code}", disconnect=True)
        elif not applications & {b.CREDIT_CONTROL_APPLICATION_ID, b.RELAY_APPLICATION_ID}:
            self._down(now, "CEA result 2001 without application 4", disconnect=True)
        elif cea.origin_host is None or cea.origin_realm is None:
            self._down(now, "CEA without Origin-Host or Origin-Realm", disconnect=True)
        else:
            self.state = PeerState.OPEN
            self.peer_host, self.peer_realm = cea.origin_host, cea.origin_realm
            self._arm_watchdog(now)
            self._events.append(Opened(cea.origin_host, cea.origin_realm))


def _cause_name(cause: int | None) -> str:
    if cause is None:
        return "no Disconnect-Cause"
    try:
        return DisconnectCause(cause).name
    except ValueError:
        return f"Disconnect-Cause {cause}"
