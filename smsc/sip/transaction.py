"""RFC 3261 §17.1.2 / §17.2.2 non-INVITE client and server transactions; time is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from smsc.sip.constants import MAGIC_COOKIE, Address, Transport
from smsc.sip.errors import SipBuildError
from smsc.sip.headers import CSeq, Via
from smsc.sip.message import SipMessage

ServerTransactionKey = tuple[str, str, int, str]
"""RFC 3261 §17.2.3: (branch, sent-by host, sent-by port, method)."""
ClientTransactionKey = tuple[str, str]
"""RFC 3261 §17.1.3: (branch, CSeq method)."""
Answer = tuple[int, str | None, Sequence[tuple[str, str]], bytes]
"""What the TU answered with: status, reason phrase, extra headers, body."""


class TransactionState(Enum):
    """RFC 3261 Figures 6 and 8 (non-INVITE)."""

    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


TRYING = TransactionState.TRYING
PROCEEDING = TransactionState.PROCEEDING
COMPLETED = TransactionState.COMPLETED
TERMINATED = TransactionState.TERMINATED


def server_key(message: SipMessage, via: Via, cseq: CSeq) -> ServerTransactionKey:
    """RFC 3261 §17.2.3; without the magic cookie, the RFC 2543 fallback (§17.2.3 last para)."""
    method = "INVITE" if cseq.method == "ACK" else cseq.method
    branch = via.branch
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        host, port = via.sent_by
        return branch, host, port, method
    tag = message.from_.tag or ""
    return f"2543|{message.call_id}|{tag}|{via.raw}", "", cseq.number, method


def client_key(via: Via, cseq: CSeq) -> ClientTransactionKey | None:
    """RFC 3261 §17.1.3: the response's top Via branch and CSeq method."""
    branch = via.branch
    return (branch, cseq.method) if branch else None


class ServerTransaction:
    """RFC 3261 §17.2.2 non-INVITE server transaction (Figure 8)."""

    __slots__ = (
        "answer",
        "connection_id",
        "deadline",
        "destination",
        "key",
        "last_response",
        "reliable",
        "state",
        "timer_j",
        "top_via",
        "transport",
    )

    def __init__(
        self,
        key: ServerTransactionKey,
        transport: Transport,
        destination: Address,
        connection_id: int | None = None,
        t1: float = 0.5,
    ) -> None:
        self.key = key
        self.state = TRYING
        self.transport = transport
        self.reliable = transport.reliable
        self.destination = destination
        """RFC 3261 §18.2.2: where responses go."""
        self.connection_id = connection_id
        self.timer_j = 0.0 if self.reliable else 64 * t1
        self.deadline: float | None = None
        self.last_response: bytes | None = None
        self.answer: Answer | None = None
        """Completed without `last_response`: what the final response was built from."""
        self.top_via = ""
        """RFC 3261 §18.2.1: the request's top Via with received/rport, echoed in responses."""

    def receive_request(self) -> bytes | None:
        """§17.2.2: a retransmission; the last response to send again, None to absorb it
        (or, with `answer` kept instead, for the endpoint to build that response again)."""
        if self.state is PROCEEDING or self.state is COMPLETED:
            return self.last_response
        return None

    def keep_answer(self, answer: Answer) -> None:
        """Completed: keep what the final response was built from instead of its octets
        (about 350 bytes each, held for Timer J); a retransmission, the same request, gets
        the same octets built again."""
        if self.state is COMPLETED:
            self.last_response = None
            self.answer = answer

    def send_response(self, status: int, data: bytes, now: float) -> None:
        """§17.2.2: the TU answers; 1xx -> Proceeding, final -> Completed (Timer J)."""
        if self.state is COMPLETED or self.state is TERMINATED:
            raise SipBuildError(f"a final response was already sent ({self.state.value})")
        self.last_response = data
        if status < 200:
            self.state = PROCEEDING
        elif self.timer_j <= 0:
            self.state = TERMINATED
        else:
            self.state = COMPLETED
            self.deadline = now + self.timer_j

    def on_timer(self, now: float) -> None:
        """§17.2.2: Timer J fired in Completed -> Terminated."""
        deadline = self.deadline
        if self.state is COMPLETED and deadline is not None and deadline <= now:
            self.state = TERMINATED
            self.deadline = None

    def transport_error(self) -> None:
        """§17.2.4: the response could not be sent -> Terminated."""
        self.state = TERMINATED
        self.deadline = None


class ClientTransaction:
    """RFC 3261 §17.1.2 non-INVITE client transaction (Figure 6)."""

    __slots__ = (
        "connection_id",
        "context",
        "deadline",
        "destination",
        "interval",
        "key",
        "reliable",
        "request",
        "state",
        "t2",
        "t4",
        "timed_out",
        "timer_e",
        "timer_f",
        "timer_k",
        "transport",
    )

    def __init__(  # noqa: PLR0917 - positional: the endpoint makes one per MESSAGE sent
        self,
        key: ClientTransactionKey,
        request: bytes,
        transport: Transport,
        destination: Address,
        now: float,
        t1: float = 0.5,
        t2: float = 4.0,
        t4: float = 5.0,
        context: object = None,
    ) -> None:
        self.key = key
        self.request = request
        self.transport = transport
        self.reliable = transport.reliable
        self.destination = destination
        self.connection_id: int | None = None
        self.context = context
        self.state = TRYING
        self.t2 = t2
        self.t4 = t4
        self.interval = t1
        self.timer_e: float | None = None if self.reliable else now + t1
        self.timer_f: float | None = now + 64 * t1
        self.timer_k: float | None = None
        self.timed_out = False
        self.deadline: float | None = self.timer_f if self.reliable else now + t1

    def _update_deadline(self) -> None:
        timers = [t for t in (self.timer_e, self.timer_f, self.timer_k) if t is not None]
        self.deadline = min(timers) if timers else None

    def receive_response(self, status: int, now: float) -> bool:
        """§17.1.2.2: True when the response goes to the TU, False when absorbed."""
        state = self.state
        if state is not TRYING and state is not PROCEEDING:
            return False
        if status < 200:
            self.state = PROCEEDING
            return True
        self.timer_e = self.timer_f = None
        if self.reliable:
            self.state = TERMINATED
            self.deadline = None
        else:
            self.state = COMPLETED
            self.timer_k = self.deadline = now + self.t4
            self.request = b""  # Completed sends nothing again: only Timer K remains
        return True

    def on_timer(self, now: float) -> bytes | None:
        """§17.1.2.2: Timers E (retransmit), F (timeout -> ``timed_out``), K (-> Terminated)."""
        state = self.state
        if state is TRYING or state is PROCEEDING:
            if self.timer_f is not None and self.timer_f <= now:
                self.state = TERMINATED
                self.timed_out = True
                self.timer_e = self.timer_f = self.deadline = None
                return None
            if self.timer_e is not None and self.timer_e <= now:
                if state is TRYING:
                    self.interval = min(2 * self.interval, self.t2)
                else:
                    self.interval = self.t2
                self.timer_e = now + self.interval
                self._update_deadline()
                return self.request
        elif state is COMPLETED and self.timer_k is not None and self.timer_k <= now:
            self.state = TERMINATED
            self.timer_k = self.deadline = None
        return None

    def transport_error(self) -> bool:
        """§17.1.4: Trying/Proceeding -> Terminated; True when the TU is to be told."""
        inform = self.state is TRYING or self.state is PROCEEDING
        self.state = TERMINATED
        self.timer_e = self.timer_f = self.timer_k = self.deadline = None
        return inform
