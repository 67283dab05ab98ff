"""A test peer playing the S-CSCF and the UEs behind it, over real UDP and TCP loopback sockets.

Written against the wire, not our SIP stack: requests are built as text and what the SMSC
sends is checked byte by byte after a small independent parse.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import cast

_counter = itertools.count(1)


@dataclass
class Wire:
    """One SIP message as received: start line, headers (lower-case names), body."""

    start: str
    headers: dict[str, list[str]]
    body: bytes
    raw: bytes
    source: tuple[str, int] = ("", 0)

    @classmethod
    def parse(cls, raw: bytes, source: tuple[str, int] = ("", 0)) -> Wire:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        length = int(headers.get("content-length", ["0"])[0])
        assert len(body) == length, f"Content-Length {length} but {len(body)} body octets"
        return cls(lines[0], headers, body, raw, source)

    def get(self, name: str) -> str:
        return self.headers[name.lower()][0]

    @property
    def is_request(self) -> bool:
        return not self.start.startswith("SIP/2.0")

    @property
    def status(self) -> int:
        return int(self.start.split()[1])

    @property
    def method(self) -> str:
        return self.start.split()[0]


def message_request(
    *,
    uri: str,
    sender: str,
    body: bytes,
    via: str,
    call_id: str | None = None,
    branch: str | None = None,
    content_type: str = "application/vnd.3gpp.sms",
    extra: tuple[str, ...] = (),
    method: str = "MESSAGE",
    pai: bool = True,
) -> tuple[bytes, str]:
    """A MESSAGE as an S-CSCF forwards it (with P-Asserted-Identity); returns it and its Call-ID."""
    n = next(_counter)
    call_id = call_id or f"call-{n}@peer"
    branch = branch or f"z9hG4bK-peer-{n}"
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: {via};branch={branch};rport",
        "Max-Forwards: 69",
        f"From: <{sender}>;tag=t{n}",
        f"To: <{uri}>",
        f"Call-ID: {call_id}",
        f"CSeq: {n} {method}",
        *((f"P-Asserted-Identity: <{sender}>",) if pai else ()),
        'P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp="262011234567890a"',
        f"Content-Type: {content_type}",
        *extra,
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body, call_id


def response_to(request: Wire, status: int = 200, reason: str = "OK") -> bytes:
    """RFC 3261 §8.2.6: the answer a UE gives to a MESSAGE."""
    lines = [f"SIP/2.0 {status} {reason}"]
    for name in ("via", "from", "call-id", "cseq"):
        for value in request.headers[name]:
            lines.append(f"{name.title() if name != 'call-id' else 'Call-ID'}: {value}")
    lines.append(f"To: {request.get('to')};tag=ue{next(_counter)}")
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class UdpPeer(asyncio.DatagramProtocol):
    """A UDP socket that records everything it receives."""

    received: asyncio.Queue[Wire] = field(default_factory=asyncio.Queue)
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.put_nowait(Wire.parse(data, (str(addr[0]), int(addr[1]))))

    @property
    def port(self) -> int:
        assert self.transport is not None
        port: int = self.transport.get_extra_info("sockname")[1]
        return port

    def send(self, data: bytes, destination: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, destination)

    async def next(self, timeout: float = 5.0) -> Wire:
        return await asyncio.wait_for(self.received.get(), timeout)

    async def next_request(self, timeout: float = 5.0) -> Wire:
        while True:
            wire = await self.next(timeout)
            if wire.is_request:
                return wire

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def udp_peer() -> UdpPeer:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(UdpPeer, local_addr=("127.0.0.1", 0))
    return protocol


class TcpPeer:
    """A TCP connection to the SMSC with its own stream framing."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> TcpPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    @property
    def port(self) -> int:
        port: int = self.writer.get_extra_info("sockname")[1]
        return port

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def next(self, timeout: float = 5.0) -> Wire:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() in (b"content-length", b"l"):
                length = int(value)
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout)
        return Wire.parse(head + body)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
