"""Drive a SipEndpoint from asyncio: UDP and TCP listeners, outgoing TCP connections, timers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from smsc.errors import SmscError
from smsc.sip.constants import Address, Transport
from smsc.sip.endpoint import SipEndpoint
from smsc.sip.errors import SipBuildError
from smsc.sip.events import Event, IncomingRequest, MessageReceived, Outgoing, RequestReceived
from smsc.sip.message import SipRequest
from smsc.transport.reuseport import open_shared_udp

log = logging.getLogger("smsc.transport")

_SO_MEMINFO = 55
"""Linux getsockopt(SOL_SOCKET, SO_MEMINFO): u32 counters, rmem_alloc first."""
_MEMINFO_FIELDS = 9

_UDP = Transport.UDP
_TCP = Transport.TCP


class ListenError(SmscError):
    """A listener could not be set up."""


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """One `sip.listen` entry such as udp:127.0.0.1:5060."""

    transport: Transport
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> ListenAddress:
        scheme, _, rest = text.partition(":")
        host, _, port = rest.rpartition(":")
        try:
            transport = Transport(scheme.upper())
            number = int(port)
        except ValueError:
            raise ListenError(f"sip.listen: {text!r} is not transport:host:port") from None
        return cls(transport, host.strip("[]"), number)


UDP_BUFFER_BYTES = 4 * 1024 * 1024
"""Socket buffers of the UDP listener: a burst of a few thousand datagrams while the loop is
busy must queue in the kernel, not be dropped (each drop costs the peer a T1 = 500 ms resend).
Linux caps the request at net.core.rmem_max / wmem_max."""
TIMER_SLACK_S = 0.01
"""How late the endpoint's timers may be served, so that those due close together are served
by one wake-up (see SipTransport._arm_timer)."""


def _enlarge_buffers(sock: socket.socket | None) -> None:
    if sock is None:
        return
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            if sock.getsockopt(socket.SOL_SOCKET, option) < UDP_BUFFER_BYTES:
                sock.setsockopt(socket.SOL_SOCKET, option, UDP_BUFFER_BYTES)
        except OSError as exc:  # pragma: no cover - platform specific
            log.debug("cannot enlarge UDP socket buffers: %s", exc)


def _unhandled(event: Event) -> None:
    log.warning("no handler for %s", type(event).__name__)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.owner.receive(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)


@dataclass(frozen=True, slots=True)
class TcpLimits:
    """Bounds on SIP over TCP, so a connection flood cannot exhaust the process's files."""

    idle_s: float = 120.0
    """A connection with nothing read or written for this long is closed."""
    max_connections: int = 512
    """Inbound connections at once; more are closed at once."""
    max_per_source: int = 32
    """Inbound connections at once from one source address."""


class _Stream(asyncio.Protocol):
    def __init__(self, owner: SipTransport, outgoing_to: Address | None = None) -> None:
        self.owner = owner
        self.connection_id = owner.next_connection_id()
        self.transport: asyncio.Transport | None = None
        self.peer: Address = ("", 0)
        self.outgoing_to = outgoing_to
        self.last_active = 0.0
        self.admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1])) if peer else ("", 0)
        owner = self.owner
        if self.outgoing_to is None and not owner.admit(self.peer[0]):
            self.transport.abort()
            return
        self.admitted = True
        self.last_active = owner.now()
        owner.connections[self.connection_id] = self
        # RFC 3261 §18.1.1 / RFC 5923 idea: requests to a peer reuse its open connection.
        owner.by_peer.setdefault(self.outgoing_to or self.peer, self)

    def data_received(self, data: bytes) -> None:
        owner = self.owner
        self.last_active = now = owner.now()
        owner.endpoint.receive_stream(self.connection_id, data, self.peer, now)
        owner.pump()

    def connection_lost(self, exc: Exception | None) -> None:
        owner = self.owner
        if not self.admitted:
            return
        if self.outgoing_to is None:
            owner.release(self.peer[0])
        owner.connections.pop(self.connection_id, None)
        key = self.outgoing_to or self.peer
        if owner.by_peer.get(key) is self:
            del owner.by_peer[key]
        owner.endpoint.connection_closed(self.connection_id)


class SipTransport:
    """Sockets for one SipEndpoint; `on_event` gets every endpoint event, synchronously."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        listen: list[ListenAddress],
        on_event: Callable[[Event], None] | None = None,
        tcp_limits: TcpLimits | None = None,
        on_internal_error: Callable[[], None] | None = None,
        *,
        udp_group: int = 1,
    ) -> None:
        self.endpoint = endpoint
        self.udp_group = udp_group
        """Processes sharing the UDP port (SO_REUSEPORT, payload-hash steering) when over 1."""
        self.divert: Callable[[bytes, Address], bool] | None = None
        """Takes a UDP datagram another process of this service must handle (True: taken)."""
        self.on_internal_error = on_internal_error
        self.internal_errors = 0
        self.tcp_limits = tcp_limits or TcpLimits()
        self._inbound: dict[str, int] = {}
        """Inbound TCP connections open, by source address."""
        self._inbound_total = 0
        self.refused_connections = 0
        self.idle_closed = 0
        self._sweeper: asyncio.TimerHandle | None = None
        self._meminfo = True
        self._fallbacks: dict[object, Address] = {}
        """Client transaction -> where to connect if its destination's connection is gone."""
        self.listen = listen
        self.on_event: Callable[[Event], None] = on_event or _unhandled
        self.connections: dict[int, _Stream] = {}
        self.by_peer: dict[Address, _Stream] = {}
        self._pending_connects: dict[Address, list[Outgoing]] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_v6 = False
        """The UDP listener is IPv6: it can send to IPv6 addresses only (and v4 the reverse)."""
        self._servers: list[asyncio.Server] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._connection_ids = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.bound: dict[Transport, Address] = {}

    def udp_backlog(self) -> int:
        """Bytes waiting in the UDP receive buffer (Linux SO_MEMINFO rmem_alloc); 0 if unknown."""
        if self._udp is None or not self._meminfo:
            return 0
        sock = self._udp.get_extra_info("socket")
        try:
            raw = sock.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, 4 * _MEMINFO_FIELDS)
        except OSError:
            self._meminfo = False  # not Linux, or an old kernel: no backlog signal
            return 0
        return int.from_bytes(raw[:4], sys.byteorder)

    def admit(self, source: str) -> bool:
        """A new inbound TCP connection from `source`: within the limits (then counted)?"""
        limits = self.tcp_limits
        if self._inbound_total >= limits.max_connections:
            self.refused_connections += 1
            log.warning("SIP TCP connection refused: %d connections open", self._inbound_total)
            return False
        if self._inbound.get(source, 0) >= limits.max_per_source:
            self.refused_connections += 1
            log.warning("SIP TCP connection from %s refused: too many from it", source)
            return False
        self._inbound[source] = self._inbound.get(source, 0) + 1
        self._inbound_total += 1
        return True

    def release(self, source: str) -> None:
        """An inbound connection from `source` closed."""
        count = self._inbound.get(source, 0) - 1
        if count > 0:
            self._inbound[source] = count
        else:
            self._inbound.pop(source, None)
        self._inbound_total -= 1

    def _sweep(self) -> None:
        """Close connections idle for longer than `tcp_limits.idle_s`; again in a while."""
        idle_s = self.tcp_limits.idle_s
        cutoff = self.now() - idle_s
        for stream in list(self.connections.values()):
            if stream.last_active <= cutoff and stream.transport is not None:
                self.idle_closed += 1
                log.debug("SIP TCP connection from %s:%s closed: idle", *stream.peer)
                stream.transport.close()
        assert self._loop is not None
        self._sweeper = self._loop.call_later(max(idle_s / 4, 0.05), self._sweep)

    def next_connection_id(self) -> int:
        self._connection_ids += 1
        return self._connection_ids

    def now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    async def start(self) -> None:
        self._loop = loop = asyncio.get_running_loop()
        for entry in self.listen:
            try:
                if entry.transport is _UDP:
                    if self.udp_group > 1:
                        udp, _ = await loop.create_datagram_endpoint(
                            lambda: _Datagrams(self),
                            sock=open_shared_udp(entry.host, entry.port, self.udp_group),
                        )
                    else:
                        udp, _ = await loop.create_datagram_endpoint(
                            lambda: _Datagrams(self), local_addr=(entry.host, entry.port)
                        )
                    self._udp = udp
                    sock = udp.get_extra_info("socket")
                    self._udp_v6 = sock is not None and sock.family == socket.AF_INET6
                    _enlarge_buffers(sock)
                    sockname = udp.get_extra_info("sockname")
                else:
                    server = await loop.create_server(
                        lambda: _Stream(self), entry.host, entry.port, reuse_address=True
                    )
                    self._servers.append(server)
                    sockname = server.sockets[0].getsockname()
            except OSError as exc:
                raise ListenError(f"cannot listen on {entry}: {exc}") from exc
            self.bound[entry.transport] = (str(sockname[0]), int(sockname[1]))
            log.info("SIP listening on %s %s:%s", entry.transport.value, *sockname[:2])
        self._sweeper = loop.call_later(max(self.tcp_limits.idle_s / 4, 0.05), self._sweep)

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for server in self._servers:
            server.close()
        for stream in list(self.connections.values()):
            if stream.transport is not None:
                stream.transport.close()
        for server in self._servers:
            await server.wait_closed()
        if self._udp is not None:
            self._udp.close()

    def receive(self, data: bytes, source: Address) -> None:
        """A UDP datagram from the socket, or one another process of this service passed on."""
        divert = self.divert
        if divert is not None and divert(data, source):
            return
        self.endpoint.receive_datagram(data, source, _UDP, self.now())
        self.pump()

    def respond(
        self,
        event: IncomingRequest,
        status: int,
        reason: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> None:
        """SipSender: answer through the server transaction, then send."""
        self.endpoint.send_response(
            event, status, reason, headers=headers, body=body, now=self.now()
        )
        self._flush()

    def request(
        self, request: SipRequest, destination: Address, transport: Transport, context: object
    ) -> None:
        """SipSender: a new client transaction, sent at once."""
        self.endpoint.send_request(request, destination, transport, self.now(), context)
        self._flush()

    def message(
        self,
        uri: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        destination: Address,
        transport: Transport,
        *,
        context: object,
        fallback: Address | None = None,
    ) -> None:
        """SipSender: a MESSAGE in a new client transaction, sent at once."""
        key = self.endpoint.send_message(
            uri, headers, body, destination, transport, now=self.now(), context=context
        )
        if fallback is not None and fallback != destination and transport is _TCP:
            self._fallbacks[key] = fallback
        self._flush()

    def _flush(self) -> None:
        for out in self.endpoint.data_to_send():
            self._write(out)
        self._arm_timer()

    def pump(self) -> None:
        """Hand endpoint events to the application, send what is queued, re-arm the timer."""
        endpoint = self.endpoint
        while (event := endpoint.next_event()) is not None:
            try:
                self.on_event(event)
            except Exception:  # the entry point's one top-level handler: never dies on input
                self._internal_error(event)
        for out in endpoint.data_to_send():
            self._write(out)
        self._arm_timer()

    def _internal_error(self, event: Event) -> None:
        """An unexpected failure on one event: counted, logged (floods are folded by the
        logging filter), and a request still unanswered gets 500 rather than silence."""
        self.internal_errors += 1
        if self.on_internal_error is not None:
            self.on_internal_error()
        log.exception("SIP event handler failed on %s", type(event).__name__)
        if isinstance(event, RequestReceived | MessageReceived):
            with contextlib.suppress(SipBuildError):
                self.endpoint.send_response(event, 500, None, now=self.now())

    def _arm_timer(self) -> None:
        """Wake up for the endpoint's timers, several at once: a deadline is served up to
        TIMER_SLACK_S late (RFC 3261's timers are T1 = 500 ms and longer), so a steady flow of
        Timer J and K expiries costs one wake-up per slack, not one per transaction."""
        armed = self._timer_at
        loop = self._loop
        assert loop is not None
        if armed is not None and armed <= loop.time() + self.endpoint.shortest_timer:
            return  # nothing armed since can fall due before this wake-up
        deadline = self.endpoint.next_timer()
        if deadline is None:
            return  # an armed wake-up finds nothing to do, and arms nothing more
        deadline += TIMER_SLACK_S
        if armed is not None and armed <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        self.endpoint.poll(self.now())
        self.pump()

    def _write(self, out: Outgoing) -> None:
        if out.transport is _UDP:
            if self._udp is None:
                self._fail(out, "no UDP listener")
                return
            host = out.destination[0]
            if (":" in host) is not self._udp_v6:  # asyncio would drop it quietly
                self._fail(out, f"UDP to {host}: not the address family of the UDP listener")
                return
            try:
                self._udp.sendto(out.data, out.destination)
            except (OSError, ValueError, RuntimeError) as exc:  # refused address, closed socket
                self._fail(out, f"UDP to {host}:{out.destination[1]}: {exc}")
            return
        stream = None
        if out.connection_id is not None:
            stream = self.connections.get(out.connection_id)
        if stream is None:
            stream = self.by_peer.get(out.destination)
        fallback = None if out.key is None else self._fallbacks.pop(out.key, None)
        if (stream is None or stream.transport is None) and fallback is not None:
            # RFC 3261 §18.2.2 spirit: the connection the request came on is gone; the
            # peer's listening address (its Via sent-by) takes the answer.
            log.info("connection to %s:%s gone: sending to %s:%s", *out.destination, *fallback)
            out = out._replace(destination=fallback, connection_id=None)
            stream = self.by_peer.get(fallback)
        if stream is None or stream.transport is None:
            self._connect_then_write(out)
            return
        try:
            stream.transport.write(out.data)
        except RuntimeError as exc:  # uvloop: the connection closed, not yet lost
            self._fail(out, f"TCP to {out.destination[0]}:{out.destination[1]}: {exc}")
            return
        stream.last_active = self.now()
        if out.close:
            stream.transport.close()

    def _connect_then_write(self, out: Outgoing) -> None:
        waiting = self._pending_connects.get(out.destination)
        if waiting is not None:
            waiting.append(out)
            return
        self._pending_connects[out.destination] = [out]
        assert self._loop is not None
        self._loop.create_task(self._connect(out.destination))

    async def _connect(self, destination: Address) -> None:
        assert self._loop is not None
        try:
            _, stream = await asyncio.wait_for(
                self._loop.create_connection(
                    lambda: _Stream(self, destination), destination[0], destination[1]
                ),
                timeout=self.endpoint.t1 * 64,
            )
        except (OSError, TimeoutError, ValueError) as exc:  # ValueError: a name IDNA refuses
            for out in self._pending_connects.pop(destination, []):
                self._fail(out, f"TCP connect to {destination[0]}:{destination[1]}: {exc}")
            return
        for out in self._pending_connects.pop(destination, []):
            assert stream.transport is not None
            try:
                stream.transport.write(out.data)
            except RuntimeError as exc:  # uvloop: closed as soon as opened
                self._fail(out, f"TCP to {destination[0]}:{destination[1]}: {exc}")

    def _fail(self, out: Outgoing, reason: str) -> None:
        if out.key is not None:
            self.endpoint.transport_error(out.key, reason)
            assert self._loop is not None
            self._loop.call_soon(self.pump)
        else:
            log.warning("dropped a response: %s", reason)
