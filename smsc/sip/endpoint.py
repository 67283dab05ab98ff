"""Sans-IO SIP endpoint (h11 style): bytes and time in, events and bytes out (RFC 3261 §17-18)."""

from __future__ import annotations

import ipaddress
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass

from smsc.sip.constants import (
    DEFAULT_MAX_FORWARDS,
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_PORT,
    DEFAULT_T1,
    DEFAULT_T2,
    DEFAULT_T4,
    MAGIC_COOKIE,
    SIP_VERSION,
    UDP_MTU_LIMIT,
    Address,
    Transport,
)
from smsc.sip.errors import SipBuildError, SipParseError
from smsc.sip.events import (
    Event,
    IncomingRequest,
    MessageReceived,
    Outgoing,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from smsc.sip.framing import StreamFramer
from smsc.sip.headers import Via, parse_params, parse_via, split_list
from smsc.sip.message import SipMessage, SipRequest, SipResponse, parse_message, reason_phrase
from smsc.sip.native import scan_message, scan_response
from smsc.sip.scan import ScannedMessage, ScannedResponse, response_destination, response_via
from smsc.sip.timers import CompletedFifo, FifoTimer, TimerQueues
from smsc.sip.transaction import (
    COMPLETED,
    TERMINATED,
    Answer,
    ClientTransaction,
    ClientTransactionKey,
    ServerTransaction,
    ServerTransactionKey,
    client_key,
    server_key,
)

_UDP = Transport.UDP
_TCP = Transport.TCP
_TIMER_F = "F"
"""The timer queue of Timer F armed with the transaction (TCP: no Timer E)."""
_TIMER_F_AFTER_E = "F after E"
"""The timer queue of Timer F armed when Timer E first fired (UDP, no answer within T1)."""
_MANDATORY = (("call-id", "Call-ID"), ("from", "From"), ("to", "To"))
_RESPONSE_COPY = (("from", "From"), ("call-id", "Call-ID"), ("cseq", "CSeq"))

log = logging.getLogger("smsc.sip")
"""Refusals only, at WARNING (folded under a flood by the logging set-up)."""
_UNTRUSTED = (
    "SIP message from untrusted source %s:%s refused (403 or silence, sip.untrusted_response)"
)


@dataclass(slots=True)
class SipCounters:
    """Totals for /metrics."""

    server_transactions_created: int = 0
    server_transactions_terminated: int = 0
    client_transactions_created: int = 0
    client_transactions_terminated: int = 0
    retransmissions_absorbed: int = 0
    retransmissions_sent: int = 0
    timeouts: int = 0
    transport_errors: int = 0
    parse_errors: int = 0
    stray_responses: int = 0
    stray_acks: int = 0
    keepalives: int = 0
    untrusted: int = 0
    """Messages from sources outside the trusted peers (answered at most with a small 403)."""
    untrusted_answered: int = 0


def _has_tag(value: str) -> bool:
    """RFC 3261 §19.3: does a To value carry a tag parameter?"""
    gt = value.rfind(">")
    tail = value[gt + 1 :] if gt >= 0 else value.partition(";")[2]
    if "tag" not in tail.lower():
        return False
    try:
        return "tag" in parse_params(tail, "To")
    except SipParseError:
        return False


def _response_via(via: Via, source: Address) -> str:
    """RFC 3261 §18.2.1 received and RFC 3581 §4 rport on the top Via of the response."""
    ip = source[0]
    rport = via.has_rport and via.params["rport"] is None
    if not rport and via.host.strip("[]") == ip.lower():
        return via.raw
    head, _, _ = via.raw.partition(";")
    parts = [head.rstrip()]
    for name, value in via.params.items():
        if name == "received" or (rport and name == "rport"):
            continue
        parts.append(name if value is None else f"{name}={value}")
    parts.append(f"received={ip}")
    if rport:
        parts.append(f"rport={source[1]}")
    return ";".join(parts)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _response_destination(via: Via, source: Address, transport: Transport) -> Address:
    """RFC 3261 §18.2.2 / RFC 3581 §4: where responses to this request go. A maddr is
    honoured only as an IP address (the source is trusted: untrusted ones never get here)."""
    if transport is _UDP:
        maddr = via.maddr
        if maddr and _is_ip(maddr):
            return maddr.strip("[]"), via.port or DEFAULT_PORT
        if via.has_rport:
            return source
    return source[0], via.sent_by[1]


class SipEndpoint:
    """RFC 3261 transaction layer and transport rules for one local SIP address."""

    def __init__(
        self,
        *,
        local_via_host: str,
        local_port: int,
        t1: float = DEFAULT_T1,
        t2: float = DEFAULT_T2,
        t4: float = DEFAULT_T4,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
        user_agent: str | None = "smsc",
        fast_case: bool = True,
        trusted: Callable[[str], bool] | None = None,
        answer_untrusted: bool = True,
        branch_tag: str = "",
    ) -> None:
        self.t1, self.t2, self.t4 = t1, t2, t4
        self._branch_tag = MAGIC_COOKIE + branch_tag
        """Starts every branch of ours: the magic cookie, then the process's tag when worker
        processes share the port (sip/steering.py: a response finds the process that sent)."""
        self.shortest_timer = min(t1, t2, t4)
        """No timer is ever armed nearer to `now` than this (Timers E, F, J and K all run
        T1, T2 or T4 or longer): a transport whose wake-up comes sooner need not ask
        next_timer after each message."""
        self.trusted = trusted
        """Which source addresses may talk to us; None: every one (tests, a closed network).
        Others get a stateless 403 no larger than their request, or nothing at all."""
        self.answer_untrusted = answer_untrusted
        self.fast_case = fast_case
        """Read the common UDP MESSAGE and responses with the parser's fast case (sip/scan.py);
        off: the general parser reads everything (the same events, the same octets)."""
        self.max_message_size = max_message_size
        self.max_headers = max_headers
        host = f"[{local_via_host}]" if ":" in local_via_host else local_via_host
        self.local_sent_by = f"{host}:{local_port}"
        self._user_agent = f"User-Agent: {user_agent}" if user_agent else None
        self._server_header = f"\r\nServer: {user_agent}" if user_agent else ""
        self._status_lines: dict[tuple[int, str | None], str] = {}
        self._answers: dict[tuple[int, str | None], Answer] = {}
        self._prefix = os.urandom(4).hex()
        self._counter = 0
        self._server: dict[tuple[str, str, int, str], ServerTransaction] = {}
        self._client: dict[ClientTransactionKey, ClientTransaction] = {}
        self._timer_e1: FifoTimer[ClientTransaction] = FifoTimer()
        """The first Timer E (T1, UDP) of each client transaction, in the order sent."""
        self._timers: TimerQueues[ClientTransaction] = TimerQueues()
        """The later Timers E, and Timer F, of client transactions without a final response."""
        self._timer_j: CompletedFifo[ServerTransaction] = CompletedFifo()
        """Timer J (64*T1, UDP) of Completed server transactions, in the order they completed."""
        self._timer_k: CompletedFifo[ClientTransaction] = CompletedFifo()
        """Timer K (T4, UDP) of Completed client transactions, in the order they completed."""
        self._events: deque[Event] = deque()
        self._outgoing: list[Outgoing] = []
        self._framers: dict[int, StreamFramer] = {}
        self._hosts: dict[str, str] = {}
        self.counters = SipCounters()

    def _unique(self) -> str:
        self._counter += 1
        return f"{self._prefix}{self._counter:x}"

    def new_branch(self) -> str:
        """RFC 3261 §8.1.1.7: a branch unique in space and time, with the magic cookie."""
        return self._branch_tag + self._unique()

    def new_tag(self) -> str:
        """RFC 3261 §19.3 tag."""
        return self._unique()

    def _tag_for(self, key: ServerTransactionKey) -> str:
        """RFC 3261 §8.2.6.2 / §19.3: the To tag of every response of one server transaction,
        derived from its key (this process's random prefix, and the key's hash, which is
        keyed at random per process), so a Completed transaction need not keep it."""
        return f"{self._prefix}{hash(key) & 0xFFFFFFFFFFFF:012x}"

    def _answer(
        self,
        status: int,
        reason: str | None,
        headers: Sequence[tuple[str, str]],
        body: bytes,
    ) -> Answer:
        """What a final response is built from, one shared tuple per common answer."""
        if headers or body:
            return status, reason, tuple(headers), body
        answer = self._answers.get((status, reason))
        if answer is None:
            answer = (status, reason, (), b"")
            if len(self._answers) < 1024:
                self._answers[status, reason] = answer
        return answer

    def new_call_id(self) -> str:
        """RFC 3261 §8.1.1.4 Call-ID."""
        return f"{self._unique()}@{self.local_sent_by}"

    # -- input --------------------------------------------------------------------------------

    def receive_datagram(
        self, data: bytes, source: Address, transport: Transport, now: float
    ) -> None:
        """One UDP datagram (RFC 3261 §18.3); keep-alive CRLFs are ignored."""
        trusted = self.trusted
        if trusted is not None and not trusted(source[0]):
            self._untrusted(data, source, transport, None)
            return
        if transport is _UDP and self.fast_case and len(data) <= self.max_message_size:
            start = data[:8]
            if start == b"MESSAGE ":
                scanned = scan_message(data, self.max_headers)
                if scanned is not None:
                    self._scanned_request(scanned, source)
                    return
            elif start == b"SIP/2.0 ":
                status = scan_response(data, self.max_headers)
                if status is not None and self._scanned_response(status, now):
                    return
        try:
            message = parse_message(
                data, max_size=self.max_message_size, max_headers=self.max_headers
            )
        except SipParseError as exc:
            if not data.strip(b"\r\n"):
                self.counters.keepalives += 1
                return
            self._reject(exc, source, transport, None)
            return
        self._dispatch(message, source, transport, None, now)

    def receive_stream(self, connection_id: int, data: bytes, source: Address, now: float) -> None:
        """Bytes read from a TCP connection (ids are never reused); framing per RFC 3261 §18.3."""
        framer = self._framers.get(connection_id)
        if framer is None:
            framer = self._framers[connection_id] = StreamFramer(
                self.max_message_size, self.max_headers
            )
        framer.receive_data(data)
        while not framer.broken:
            try:
                message = framer.next_message()
            except SipParseError as exc:
                self._reject(exc, source, _TCP, connection_id)
                continue
            finally:
                if framer.pings:
                    self.counters.keepalives += framer.pings
                    for _ in range(framer.pings):
                        self._outgoing.append(Outgoing(b"\r\n", source, _TCP, connection_id))
                    framer.pings = 0
            if message is None:
                break
            if self.trusted is not None and not self.trusted(source[0]):
                self._untrusted_message(message, len(data), source, _TCP, connection_id)
                continue
            self._dispatch(message, source, _TCP, connection_id, now)

    def connection_closed(self, connection_id: int) -> None:
        """The transport lost a connection; pending responses go to the Via sent-by (§18.2.2)."""
        self._framers.pop(connection_id, None)

    def _scanned_request(self, scanned: ScannedMessage, source: Address) -> None:
        """RFC 3261 §17.2.3 matching, or a new server transaction, for a scanned MESSAGE."""
        host = self._hosts.get(scanned.host)
        if host is None:  # the S-CSCFs are few: one string each for the Completed table
            if len(self._hosts) >= 1024:
                self._hosts.clear()
            host = self._hosts[scanned.host] = scanned.host
        key = (scanned.branch, host, scanned.port, "MESSAGE")
        if key in self._server:
            self._absorbed(key, scanned, source)
            return
        txn = ServerTransaction(key, _UDP, response_destination(scanned, source), None, self.t1)
        txn.top_via = response_via(scanned, source)
        self._server[key] = txn
        self.counters.server_transactions_created += 1
        self._events.append(MessageReceived(scanned, source, _UDP, key))

    def _absorbed(
        self, key: ServerTransactionKey, request: ScannedMessage | SipRequest, source: Address
    ) -> bool:
        """A retransmission of a request with a live server transaction: the last response
        again (RFC 3261 §17.2.2), and nothing for the application."""
        txn = self._server.get(key)
        if txn is None:
            return False
        self.counters.retransmissions_absorbed += 1
        data = txn.receive_request()
        if data is None and txn.answer is not None:
            data = self._answer_again(txn, txn.answer, request, source)
        if data is not None:
            self.counters.retransmissions_sent += 1
            self._send(txn, data)
        return True

    def _answer_again(
        self,
        txn: ServerTransaction,
        answer: Answer,
        request: ScannedMessage | SipRequest,
        source: Address,
    ) -> bytes:
        """The final response of a Completed transaction, built again from the retransmitted
        request the way it was built from the first copy (the same octets for the same
        request and source)."""
        status, reason, headers, body = answer
        tag = self._tag_for(txn.key)
        if isinstance(request, SipRequest):
            return self._response_bytes(
                request,
                _response_via(request.via, source),
                to_tag=tag,
                status=status,
                reason=reason,
                headers=headers,
                body=body,
            )
        top_via = response_via(request, source)
        return self._scanned_response_bytes(request, top_via, tag, status, reason, headers, body)

    def _scanned_response(self, scanned: ScannedResponse, now: float) -> bool:
        """A scanned response to one of our client transactions; False: the general path
        reads it (and counts it as stray if no transaction has it)."""
        txn = self._client.get((scanned.branch, scanned.method))
        if txn is None:
            return False
        self._response(txn, scanned.status, None, now)
        return True

    def _response(
        self, txn: ClientTransaction, status: int, response: SipResponse | None, now: float
    ) -> None:
        """RFC 3261 §17.1.2.2: a response meets its client transaction."""
        if txn.receive_response(status, now):
            self._events.append(ResponseReceived(status, txn.key, txn.context, response))
            if txn.timer_k is not None:  # a final response over UDP: Completed, Timer K
                self._timer_k.arm(txn)
        else:
            self.counters.retransmissions_absorbed += 1
        if txn.state is TERMINATED:
            self._settle(txn)

    def transport_error(self, key: ClientTransactionKey, reason: str = "") -> None:
        """RFC 3261 §17.1.4: an Outgoing carrying ``key`` could not be sent."""
        txn = self._client.pop(key, None)
        if txn is None:
            return
        self.counters.transport_errors += 1
        self.counters.client_transactions_terminated += 1
        if txn.transport_error():
            self._events.append(TransportFailed(key, txn.context, reason))

    def _dispatch(
        self,
        message: SipMessage,
        source: Address,
        transport: Transport,
        connection_id: int | None,
        now: float,
    ) -> None:
        if isinstance(message, SipRequest):
            try:
                self._on_request(message, source, transport, connection_id)
            except SipParseError as exc:
                exc.partial = message
                self._reject(exc, source, transport, connection_id)
            return
        try:
            keys = message._keys
            assert keys is not None
            top = message.first_value("via")
            if top is None or keys.count("via") != 1 or ("," in top and len(split_list(top)) != 1):
                raise SipParseError("Via count")  # RFC 3261 §8.1.3.3
            key = client_key(parse_via(top), message.cseq)
        except SipParseError:
            self.counters.parse_errors += 1
            return
        txn = self._client.get(key) if key is not None else None
        if txn is None:
            self.counters.stray_responses += 1
            return
        self._response(txn, message.status, message, now)

    def _on_request(
        self,
        request: SipRequest,
        source: Address,
        transport: Transport,
        connection_id: int | None,
    ) -> None:
        """RFC 3261 §8.2, §17.2.3: match or create the server transaction."""
        via = request.via
        cseq = request.cseq
        if cseq.method != request.method:
            raise SipParseError("CSeq Method Mismatch")
        index = request._first
        assert index is not None
        for key_name, name in _MANDATORY:
            if key_name not in index:
                raise SipParseError(f"Missing {name}")
        key = server_key(request, via, cseq)
        if self._absorbed(key, request, source):
            return
        if request.method == "ACK":
            self.counters.stray_acks += 1
            return
        txn = ServerTransaction(
            key,
            transport=transport,
            destination=_response_destination(via, source, transport),
            connection_id=connection_id,
            t1=self.t1,
        )
        txn.top_via = _response_via(via, source)
        self._server[key] = txn
        self.counters.server_transactions_created += 1
        self._events.append(RequestReceived(request, source, transport, connection_id, key))

    def _untrusted(
        self, data: bytes, source: Address, transport: Transport, connection_id: int | None
    ) -> None:
        """A datagram from a source we do not trust: parsed only to answer 403, never kept."""
        if not data.strip(b"\r\n"):
            return
        try:
            message = parse_message(
                data, max_size=self.max_message_size, max_headers=self.max_headers
            )
        except SipParseError:
            self.counters.untrusted += 1
            log.warning(_UNTRUSTED, *source[:2])
            return  # malformed and untrusted: no answer at all
        self._untrusted_message(message, len(data), source, transport, connection_id)

    def _untrusted_message(
        self,
        message: SipMessage,
        size: int,
        source: Address,
        transport: Transport,
        connection_id: int | None,
    ) -> None:
        """403 Forbidden to the source itself (never a maddr), statelessly, and only when it
        is no larger than what was received: nothing to reflect or amplify."""
        self.counters.untrusted += 1
        log.warning(_UNTRUSTED, *source[:2])
        if not self.answer_untrusted or not isinstance(message, SipRequest):
            return
        if message.method == "ACK":
            return
        try:
            via = message.via
            data = self._response_bytes(
                message,
                _response_via(via, source),
                to_tag=self.new_tag(),
                status=403,
                reason="Forbidden",
                headers=(),
                body=b"",
                safe=False,
            )
        except (SipParseError, SipBuildError, KeyError, AssertionError):
            return
        if len(data) > size:
            return
        destination = source if transport is _TCP or via.has_rport else (source[0], via.sent_by[1])
        self.counters.untrusted_answered += 1
        self._outgoing.append(Outgoing(data, destination, transport, connection_id))

    def _reject(
        self,
        exc: SipParseError,
        source: Address,
        transport: Transport,
        connection_id: int | None,
    ) -> None:
        """A malformed message: answer statelessly when a response can be built, else drop."""
        self.counters.parse_errors += 1
        log.warning(
            "malformed SIP message from %s:%s refused: %d %s",
            *source[:2],
            exc.sip_status,
            exc.reason,
        )
        request = exc.partial
        data = b""
        destination = source
        if isinstance(request, SipRequest) and request.method != "ACK":
            index = request._first
            assert index is not None
            if all(k in index for k in ("via", "call-id", "cseq")):
                try:
                    via = request.via
                    top = _response_via(via, source)
                    destination = _response_destination(via, source, transport)
                except SipParseError:
                    parts = split_list(index["via"])
                    top = parts[0] if parts else ""
                reason = exc.reason if exc.sip_status != 505 else None
                with suppress(SipBuildError):
                    data = (
                        self._response_bytes(
                            request,
                            top,
                            to_tag=self.new_tag(),
                            status=exc.sip_status,
                            reason=reason,
                            headers=(),
                            body=b"",
                            safe=False,
                        )
                        if top
                        else b""
                    )
        if data or (exc.fatal and connection_id is not None):
            self._outgoing.append(
                Outgoing(data, destination, transport, connection_id, None, exc.fatal)
            )

    # -- output -------------------------------------------------------------------------------

    def _response_bytes(
        self,
        request: SipRequest,
        top_via: str,
        *,
        to_tag: str | None,
        status: int,
        reason: str | None,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        safe: bool = True,
    ) -> bytes:
        """RFC 3261 §8.2.6.2: Via, From, To (+tag), Call-ID, CSeq copied from the request."""
        index = request._first
        assert index is not None
        vias = request.all_values("via")
        first = vias[0]
        if "," in first:
            top_via = ", ".join([top_via, *split_list(first)[1:]])
        if len(vias) > 1:
            top_via = "\r\nVia: ".join([top_via, *vias[1:]])
        to = index.get("to", "")
        if status > 100 and to_tag and to and not _has_tag(to):
            to = f"{to};tag={to_tag}"
        return self._response_text(
            status,
            reason,
            vias=top_via,
            to=to,
            from_=index.get("from", ""),
            call_id=index["call-id"],
            cseq=index["cseq"],
            headers=headers,
            body=body,
            safe=safe,
        )

    def _response_text(
        self,
        status: int,
        reason: str | None,
        *,
        vias: str,
        to: str,
        from_: str,
        call_id: str,
        cseq: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        safe: bool,
    ) -> bytes:
        extra = "".join([f"\r\n{name}: {value}" for name, value in headers]) if headers else ""
        status_line = self._status_lines.get((status, reason))
        if status_line is None:
            status_line = f"{SIP_VERSION} {status} {reason or reason_phrase(status)}"
            if len(self._status_lines) < 1024:
                self._status_lines[status, reason] = status_line
        text = (
            f"{status_line}\r\nVia: {vias}\r\nTo: {to}\r\nFrom: {from_}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq}{self._server_header}{extra}"
            f"\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        if extra or reason or not safe:
            lines = text.count("\r\n")
            if text.count("\n") != lines or text.count("\r") != lines:
                raise SipBuildError("CR or LF inside a header")
        return text.encode("utf-8", "surrogateescape") + body

    def _send(self, txn: ServerTransaction, data: bytes) -> None:
        connection_id = txn.connection_id
        if connection_id is not None and connection_id not in self._framers:
            connection_id = txn.connection_id = None
        self._outgoing.append(Outgoing(data, txn.destination, txn.transport, connection_id))

    def send_response(
        self,
        request_event: IncomingRequest,
        status: int,
        reason: str | None = None,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        now: float,
    ) -> None:
        """RFC 3261 §8.2.6, §17.2.2: answer a received request through its server transaction."""
        txn = self._server.get(request_event.key)
        if txn is None or txn.state is COMPLETED or txn.state is TERMINATED:
            raise SipBuildError("the server transaction is terminated")
        if not 100 <= status <= 699:
            raise SipBuildError(f"bad status {status}")
        tag = self._tag_for(txn.key) if status > 100 else ""
        if isinstance(request_event, MessageReceived):
            data = self._scanned_response_bytes(
                request_event.message, txn.top_via, tag, status, reason, headers, body
            )
        else:
            data = self._response_bytes(
                request_event.request,
                txn.top_via,
                to_tag=tag,
                status=status,
                reason=reason,
                headers=headers,
                body=body,
            )
        txn.send_response(status, data, now)
        self._send(txn, data)
        if txn.state is COMPLETED and txn.deadline is not None:  # UDP: Timer J
            txn.top_via = ""  # Completed keeps only what a retransmission needs
            txn.keep_answer(self._answer(status, reason, headers, body))
            self._timer_j.arm(txn)
        elif txn.state is TERMINATED:
            self._settle(txn)

    def _scanned_response_bytes(  # noqa: PLR0917 - positional: called once per MO
        self,
        message: ScannedMessage,
        top_via: str,
        to_tag: str,
        status: int,
        reason: str | None,
        headers: Sequence[tuple[str, str]],
        body: bytes,
    ) -> bytes:
        """RFC 3261 §8.2.6.2 for a request read by the fast case: the same octets as
        `_response_bytes` gives for it (its values are already stripped and checked)."""
        to = message.to
        if status > 100:
            to = f"{to};tag={to_tag}"
        vias = top_via
        if len(message.vias) > 1:
            vias = "\r\nVia: ".join([vias, *message.vias[1:]])
        return self._response_text(
            status,
            reason,
            vias=vias,
            to=to,
            from_=message.from_,
            call_id=message.call_id,
            cseq=message.cseq,
            headers=headers,
            body=body,
            safe=True,
        )

    def send_message(
        self,
        uri: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        destination: Address,
        transport: Transport,
        *,
        now: float,
        context: object = None,
    ) -> ClientTransactionKey:
        """`send_request` of a MESSAGE built from header pairs (no Via, Max-Forwards, User-Agent
        or Content-Length among them; CSeq "1 MESSAGE" included), without a SipRequest."""
        branch = self.new_branch()
        fields = "".join([f"\r\n{name}: {value}" for name, value in headers])
        user_agent = f"\r\n{self._user_agent}" if self._user_agent else ""
        tail = f"\r\nMax-Forwards: {DEFAULT_MAX_FORWARDS}{fields}{user_agent}"
        tail = f"{tail}\r\nContent-Length: {len(body)}\r\n\r\n"
        line = f"MESSAGE {uri} {SIP_VERSION}\r\nVia: SIP/2.0/"
        text = f"{line}UDP {self.local_sent_by};branch={branch};rport{tail}"
        lines = len(headers) + (6 if self._user_agent else 5)
        if text.count("\n") != lines or text.count("\r") != lines or " " in uri:
            raise SipBuildError("CR or LF inside a header")
        data = text.encode("utf-8", "surrogateescape") + body
        key = (branch, "MESSAGE")
        if transport is _UDP and len(data) <= UDP_MTU_LIMIT:
            self.counters.client_transactions_created += 1
            self._client_transaction(key, data, _UDP, destination, now, context)
            self._outgoing.append(Outgoing(data, destination, _UDP, None, key))
            return key
        text = f"{line}TCP {self.local_sent_by};branch={branch}{tail}"
        data = text.encode("utf-8", "surrogateescape") + body
        self.counters.client_transactions_created += 1
        self._client_transaction(key, data, _TCP, destination, now, context)
        self._outgoing.append(Outgoing(data, destination, _TCP, None, key))
        return key

    def _client_transaction(  # noqa: PLR0917 - positional: called once per MESSAGE sent
        self,
        key: ClientTransactionKey,
        data: bytes,
        transport: Transport,
        destination: Address,
        now: float,
        context: object,
    ) -> ClientTransaction:
        """A client transaction (RFC 3261 §17.1.2) sent at `now`, its timers armed."""
        txn = ClientTransaction(
            key, data, transport, destination, now, self.t1, self.t2, self.t4, context
        )
        self._client[key] = txn
        if txn.timer_e is not None:  # UDP: Timer E; Timer F is queued if E ever fires
            self._timer_e1.arm(txn.timer_e, txn)
        else:
            assert txn.timer_f is not None
            self._timers.arm(_TIMER_F, txn.timer_f, txn)
        return txn

    def send_request(
        self,
        request: SipRequest,
        destination: Address,
        transport: Transport,
        now: float,
        context: object = None,
    ) -> ClientTransactionKey:
        """RFC 3261 §8.1.1, §17.1, §18.1.1: add Via/Max-Forwards/Content-Length and send."""
        index = request._first
        assert index is not None
        for key_name, name in (*_MANDATORY, ("cseq", "CSeq")):
            if key_name not in index:
                raise SipBuildError(f"request without {name}")
        try:
            method = request.cseq.method
        except SipParseError as exc:
            raise SipBuildError(f"bad CSeq: {exc}") from None
        if method != request.method or method == "ACK":
            raise SipBuildError(f"cannot send {request.method} with CSeq method {method}")
        branch = self.new_branch()
        lines = [f"{request.method} {request.uri} {SIP_VERSION}", ""]
        if "max-forwards" not in index:
            lines.append(f"Max-Forwards: {DEFAULT_MAX_FORWARDS}")
        lines += [
            f"{n}: {v}"
            for k, (n, v) in zip(request._keys or (), request.headers, strict=True)
            if k != "content-length"
        ]
        if self._user_agent and "user-agent" not in index:
            lines.append(self._user_agent)
        lines.append(f"Content-Length: {len(request.body)}")
        if transport is _UDP:
            lines[1] = f"Via: SIP/2.0/UDP {self.local_sent_by};branch={branch};rport"
            data = self._encode(lines, request.body)
            if len(data) > UDP_MTU_LIMIT:
                transport = _TCP
        if transport is _TCP:
            lines[1] = f"Via: SIP/2.0/TCP {self.local_sent_by};branch={branch}"
            data = self._encode(lines, request.body)
        key = (branch, method)
        self.counters.client_transactions_created += 1
        self._client_transaction(key, data, transport, destination, now, context)
        self._outgoing.append(Outgoing(data, destination, transport, None, key))
        return key

    @staticmethod
    def _encode(lines: list[str], body: bytes) -> bytes:
        text = "\r\n".join(lines)
        if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
            raise SipBuildError("CR or LF inside a header")
        return text.encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body

    # -- time ---------------------------------------------------------------------------------

    def _settle(self, txn: ServerTransaction | ClientTransaction) -> None:
        """Forget a terminated transaction; a client one that timed out is reported."""
        if txn.state is not TERMINATED:
            return
        if isinstance(txn, ServerTransaction):
            if self._server.get(txn.key) is txn:
                del self._server[txn.key]
                self.counters.server_transactions_terminated += 1
        elif self._client.get(txn.key) is txn:
            del self._client[txn.key]
            self.counters.client_transactions_terminated += 1
            if txn.timed_out:
                self.counters.timeouts += 1
                self._events.append(TransactionTimedOut(txn.key, txn.context))

    @staticmethod
    def _live(deadline: float, txn: ClientTransaction) -> bool:
        """Whether a queued deadline is still Timer E or F of a transaction waiting."""
        return txn.state is not TERMINATED and deadline in (txn.timer_e, txn.timer_f)

    def poll(self, now: float) -> None:
        """Fire every timer due at ``now``."""
        for server in self._timer_j.pop_due(now):  # Timer J: Completed -> Terminated
            server.on_timer(now)
            self._settle(server)
        for client in self._timer_k.pop_due(now):  # Timer K: Completed -> Terminated
            client.on_timer(now)
            self._settle(client)
        entries_e = self._timer_e1.entries
        while entries_e and entries_e[0][0] <= now:  # the first Timer E: mostly answered
            deadline, client = entries_e.popleft()
            if self._live(deadline, client):
                self._client_timer(client, now)
        for deadline, client in self._timers.pop_due(now):  # later Timers E, and F
            if self._live(deadline, client):
                self._client_timer(client, now)

    def _client_timer(self, txn: ClientTransaction, now: float) -> None:
        """Timer E or F of a client transaction fired (RFC 3261 §17.1.2.2)."""
        first = txn.interval == self.t1
        data = txn.on_timer(now)
        if data is not None:  # Timer E fired: armed again, and F after the first
            self.counters.retransmissions_sent += 1
            self._outgoing.append(Outgoing(data, txn.destination, txn.transport, None, txn.key))
            assert txn.timer_e is not None and txn.timer_f is not None
            self._timers.arm(txn.interval, txn.timer_e, txn)
            if first:
                self._timers.arm(_TIMER_F_AFTER_E, txn.timer_f, txn)
        self._settle(txn)

    def next_timer(self) -> float | None:
        """The earliest deadline, so the transport can sleep until then."""
        earliest = self._timers.earliest(self._live)
        entries_e = self._timer_e1.entries
        while entries_e and not self._live(*entries_e[0]):
            entries_e.popleft()
        if entries_e and (earliest is None or entries_e[0][0] < earliest):
            earliest = entries_e[0][0]
        for fifo in (self._timer_j, self._timer_k):
            head = fifo.earliest()
            if head is not None and (earliest is None or head < earliest):
                earliest = head
        return earliest

    def next_event(self) -> Event | None:
        """The next event for the application, None when there is none."""
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> list[Outgoing]:
        """Everything to write since the last call, in order."""
        out = self._outgoing
        self._outgoing = []
        return out
