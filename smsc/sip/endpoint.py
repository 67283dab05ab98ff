"""Sans-IO SIP endpoint (h11 style): bytes and time in, events and bytes out (RFC 3261 §17-18)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from heapq import heappop, heappush

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
    Outgoing,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from smsc.sip.framing import StreamFramer
from smsc.sip.headers import Via, parse_params, parse_via, split_list
from smsc.sip.message import SipMessage, SipRequest, parse_message, reason_phrase
from smsc.sip.transaction import (
    TERMINATED,
    ClientTransaction,
    ClientTransactionKey,
    ServerTransaction,
    client_key,
    server_key,
)

_UDP = Transport.UDP
_TCP = Transport.TCP
_MANDATORY = (("call-id", "Call-ID"), ("from", "From"), ("to", "To"))
_RESPONSE_COPY = (("from", "From"), ("call-id", "Call-ID"), ("cseq", "CSeq"))


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


def _response_destination(via: Via, source: Address, transport: Transport) -> Address:
    """RFC 3261 §18.2.2 / RFC 3581 §4: where responses to this request go."""
    if transport is _UDP:
        if via.maddr:
            return via.maddr, via.port or DEFAULT_PORT
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
    ) -> None:
        self.t1, self.t2, self.t4 = t1, t2, t4
        self.max_message_size = max_message_size
        self.max_headers = max_headers
        host = f"[{local_via_host}]" if ":" in local_via_host else local_via_host
        self.local_sent_by = f"{host}:{local_port}"
        self._user_agent = f"User-Agent: {user_agent}" if user_agent else None
        self._server_header = f"\r\nServer: {user_agent}" if user_agent else ""
        self._status_lines: dict[tuple[int, str | None], str] = {}
        self._prefix = os.urandom(4).hex()
        self._counter = 0
        self._server: dict[tuple[str, str, int, str], ServerTransaction] = {}
        self._client: dict[ClientTransactionKey, ClientTransaction] = {}
        self._timers: list[tuple[float, int, ServerTransaction | ClientTransaction]] = []
        self._events: deque[Event] = deque()
        self._outgoing: list[Outgoing] = []
        self._framers: dict[int, StreamFramer] = {}
        self.counters = SipCounters()

    def _unique(self) -> str:
        self._counter += 1
        return f"{self._prefix}{self._counter:x}"

    def new_branch(self) -> str:
        """RFC 3261 §8.1.1.7: a branch unique in space and time, with the magic cookie."""
        return MAGIC_COOKIE + self._unique()

    def new_tag(self) -> str:
        """RFC 3261 §19.3 tag."""
        return self._unique()

    def new_call_id(self) -> str:
        """RFC 3261 §8.1.1.4 Call-ID."""
        return f"{self._unique()}@{self.local_sent_by}"

    # -- input --------------------------------------------------------------------------------

    def receive_datagram(
        self, data: bytes, source: Address, transport: Transport, now: float
    ) -> None:
        """One UDP datagram (RFC 3261 §18.3); keep-alive CRLFs are ignored."""
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
            self._dispatch(message, source, _TCP, connection_id, now)

    def connection_closed(self, connection_id: int) -> None:
        """The transport lost a connection; pending responses go to the Via sent-by (§18.2.2)."""
        self._framers.pop(connection_id, None)

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
        deadline = txn.deadline
        if txn.receive_response(message.status, now):
            self._events.append(ResponseReceived(message, txn.key, txn.context))
        else:
            self.counters.retransmissions_absorbed += 1
        self._after(txn, deadline)

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
        txn = self._server.get(key)
        if txn is not None:
            self.counters.retransmissions_absorbed += 1
            data = txn.receive_request()
            if data is not None:
                self.counters.retransmissions_sent += 1
                self._send(txn, data)
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

    def _reject(
        self,
        exc: SipParseError,
        source: Address,
        transport: Transport,
        connection_id: int | None,
    ) -> None:
        """A malformed message: answer statelessly when a response can be built, else drop."""
        self.counters.parse_errors += 1
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
        extra = "".join([f"\r\n{name}: {value}" for name, value in headers]) if headers else ""
        status_line = self._status_lines.get((status, reason))
        if status_line is None:
            status_line = f"{SIP_VERSION} {status} {reason or reason_phrase(status)}"
            if len(self._status_lines) < 1024:
                self._status_lines[status, reason] = status_line
        text = (
            f"{status_line}\r\nVia: {top_via}\r\nTo: {to}\r\nFrom: {index.get('from', '')}\r\n"
            f"Call-ID: {index['call-id']}\r\nCSeq: {index['cseq']}{self._server_header}{extra}"
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
        request_event: RequestReceived,
        status: int,
        reason: str | None = None,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        now: float,
    ) -> None:
        """RFC 3261 §8.2.6, §17.2.2: answer a received request through its server transaction."""
        txn = self._server.get(request_event.key)
        if txn is None:
            raise SipBuildError("the server transaction is terminated")
        if not 100 <= status <= 699:
            raise SipBuildError(f"bad status {status}")
        if txn.to_tag is None and status > 100:
            txn.to_tag = self.new_tag()
        data = self._response_bytes(
            request_event.request,
            txn.top_via,
            to_tag=txn.to_tag,
            status=status,
            reason=reason,
            headers=headers,
            body=body,
        )
        deadline = txn.deadline
        txn.send_response(status, data, now)
        self._send(txn, data)
        self._after(txn, deadline)

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
        txn = ClientTransaction(
            key,
            data,
            transport=transport,
            destination=destination,
            now=now,
            t1=self.t1,
            t2=self.t2,
            t4=self.t4,
            context=context,
        )
        self._client[key] = txn
        self.counters.client_transactions_created += 1
        self._after(txn, None)
        self._outgoing.append(Outgoing(data, destination, transport, None, key))
        return key

    @staticmethod
    def _encode(lines: list[str], body: bytes) -> bytes:
        text = "\r\n".join(lines)
        if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
            raise SipBuildError("CR or LF inside a header")
        return text.encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body

    # -- time ---------------------------------------------------------------------------------

    def _after(self, txn: ServerTransaction | ClientTransaction, old: float | None) -> None:
        """Forget a terminated transaction, or arm its new deadline."""
        if txn.state is TERMINATED:
            if isinstance(txn, ServerTransaction):
                if self._server.pop(txn.key, None) is not None:
                    self.counters.server_transactions_terminated += 1
            elif self._client.pop(txn.key, None) is not None:
                self.counters.client_transactions_terminated += 1
                if txn.timed_out:
                    self.counters.timeouts += 1
                    self._events.append(TransactionTimedOut(txn.key, txn.context))
        elif txn.deadline is not None and txn.deadline != old:
            self._counter += 1
            heappush(self._timers, (txn.deadline, self._counter, txn))

    def poll(self, now: float) -> None:
        """Fire every timer due at ``now``."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            deadline, _, txn = heappop(timers)
            if txn.deadline != deadline or txn.state is TERMINATED:
                continue
            if isinstance(txn, ClientTransaction):
                data = txn.on_timer(now)
                if data is not None:
                    self.counters.retransmissions_sent += 1
                    self._outgoing.append(
                        Outgoing(data, txn.destination, txn.transport, None, txn.key)
                    )
            else:
                txn.on_timer(now)
            self._after(txn, deadline)

    def next_timer(self) -> float | None:
        """The earliest deadline, so the transport can sleep until then."""
        timers = self._timers
        while timers:
            deadline, _, txn = timers[0]
            if txn.deadline == deadline and txn.state is not TERMINATED:
                return deadline
            heappop(timers)
        return None

    def next_event(self) -> Event | None:
        """The next event for the application, None when there is none."""
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> list[Outgoing]:
        """Everything to write since the last call, in order."""
        out = self._outgoing
        self._outgoing = []
        return out
